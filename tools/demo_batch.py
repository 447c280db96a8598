"""Run the demo (tools/demo.py) on many videos: every video in folders (recursively) and/or listed
in a text file (one path per line, relative to the list's folder; # comments). Each video gets the
demo's outputs under --out-dir (same relative path as in its folder), and one CSV lists every
window of every face of every finished video (video, track, start, end, start_time, end_time,
label, one probability per class). Run it again to resume: finished videos are skipped, one
interrupted half-way is redone, nothing finished is overwritten."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, uninstalled
from tools.argtypes import (  # noqa: E402
    add_detector_option, number, one_line_warnings, cpu_defaults)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('inputs', nargs='*', help='video folders and/or video files')
    parser.add_argument('--list', help='a text file listing videos, one per line')
    parser.add_argument('--config', required=True, help='model config (as for tools/demo.py)')
    parser.add_argument('--checkpoint', required=True, help='trained checkpoint (.pth)')
    parser.add_argument('--out-dir', default='demo_out', help='per-video outputs (default: '
                        'demo_out)')
    parser.add_argument('--csv', help='the CSV of all windows (default: <out-dir>/results.csv)')
    parser.add_argument('--vid-out-dir', help='also write annotated videos here')
    parser.add_argument('--workers', type=number(int, 1), default=1,
                        help='videos processed at once, each worker with its own model '
                        '(default: 1)')
    parser.add_argument('--device', help='cpu, cuda, ... (default: cuda if available)')
    add_detector_option(parser)
    parser.add_argument('--detect-every', type=number(int, 1), default=1)
    parser.add_argument('--window', type=number(int, 1))
    parser.add_argument('--stride', type=number(int, 1))
    parser.add_argument('--max-faces', type=number(int, 1))
    parser.add_argument('--no-face-crop', action='store_true',
                        help='the videos already show one cropped face')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args()
    if not args.inputs and not args.list:
        parser.error('give video folders or files, or --list')
    return args


def no_videos_message(inputs, list_file) -> str:
    """One line: where no video was found and which file names count as videos."""
    from est_mm.datasets.fer_video_dataset import VIDEO_EXTENSIONS
    where = list(inputs) + ([f'the list {list_file}'] if list_file else [])
    return (f"no videos found in {', '.join(where)} (folders are searched recursively for "
            f"{' '.join(VIDEO_EXTENSIONS)}, any case; names starting with '.' skipped)")


def main():
    cpu_defaults()  # before torch
    args = parse_args()
    one_line_warnings()
    from est_mm.apis.batch import run_batch
    from est_mm.utils.files import check_writable_dir
    from est_mm.apis.inference import ESTInferencer
    from est_mm.datasets.face_extraction import find_videos
    from est_mm.streaming.options import DemoOptions
    from est_mm.utils.errors import first_line
    try:
        found = find_videos(args.inputs, args.list)
    except (OSError, ValueError) as err:
        raise SystemExit(first_line(err))
    for _, message in found.problems:
        print(message, file=sys.stderr)
    if not found.videos:
        raise SystemExit(no_videos_message(args.inputs, args.list))
    try:  # before any work: the output folders, then the model once in this process
        for folder in (args.out_dir, args.vid_out_dir,
                       args.csv and osp.dirname(osp.abspath(args.csv))):
            if folder:
                check_writable_dir(folder)
    except OSError as err:
        raise SystemExit(first_line(err))
    model_args = dict(config=args.config, checkpoint=args.checkpoint, device=args.device,
                      window=args.window, stride=args.stride)
    try:
        inferencer = ESTInferencer(**model_args)
    except (ValueError, OSError, RuntimeError) as err:  # they name the file / option
        raise SystemExit(first_line(err))
    except Exception as err:  # noqa: BLE001 - unexpected: one line with the error's type
        raise SystemExit(f'cannot set up the model: {type(err).__name__}: {first_line(err)}')
    result = run_batch(found.videos, model_args, args.out_dir, csv_path=args.csv,
                       vid_out_dir=args.vid_out_dir, workers=args.workers,
                       progress=not args.no_progress,
                       inferencer=inferencer if args.workers <= 1 else None,
                       options=DemoOptions(detector=args.detector,
                                           detect_every=args.detect_every,
                                           max_faces=args.max_faces,
                                           crop_faces=not args.no_face_crop))
    print(f"{len(result['done'])} video(s) done, {len(result['skipped'])} finished before "
          f"(skipped), {len(result['failed'])} failed; {result['rows']} window rows in "
          f"{result['csv']}")
    if result['failed'] or found.problems:
        raise SystemExit(1)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        print('\ninterrupted: finished videos are kept; run the same command again to resume',
              file=sys.stderr)
        sys.exit(130)
