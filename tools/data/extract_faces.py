"""Cut the main face out of raw videos into DFEW-style 224x224 frame folders.

Examples (from the repository root)::

    python tools/data/extract_faces.py videos/ --out data/faces --workers 2
    python tools/data/extract_faces.py a.mp4 b.avi --out data/faces --detect-every 4
    python tools/data/extract_faces.py --list clips.txt --out data/faces
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.argtypes import add_detector_option, number  # noqa: E402

DESCRIPTION = """\
For every video, find the main face (RetinaFace or YuNet detections linked frame to frame by
IoU; the track with the largest summed box area), fill frames without a detection by
interpolating its box, smooth it over time, and write square face crops as
OUT_DIR/<name>/1.jpg .. N.jpg (one per video frame, unpadded numbers, the DFEW layout) plus
OUT_DIR/<name>/face_track.json (source path, fps, frame size, settings, per-frame boxes,
detected mask, scores, landmarks).

<name> is the video's path relative to an INPUT folder without its extension (sub-folders are
kept, so equal file names in different folders do not collide), the stem of a video given as
a file, or the path relative to --list-root for --list entries. Symbolic links to folders are
followed; a link back to a folder already searched (a loop) is named in the summary and not
searched twice.

Resumable: a video is written into <name>.tmp/ and renamed to <name>/ only when complete (the
JSON is written last), so an existing <name>/ is always finished and is skipped (unless
--overwrite); a left-over <name>.tmp/ from an interrupted run is redone.

A video in which no face is found is reported and skipped (no folder; not a failure). An
unreadable, corrupt or empty video, a missing input, or a name already used by another video
is a failure. The exit code is 1 if any video failed, else 0; Ctrl-C stops with one line and
exit code 130 (finished folders are kept; rerun to resume). The summary reports the
processing time in seconds per second of video, per phase (decode, detect, crop, write).
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', nargs='*', metavar='INPUT',
                        help='video files, or folders searched recursively for .mp4 .avi .mov '
                        '.mkv .webm .m4v .mpg .mpeg .wmv .flv .3gp .ts .mts .m2ts .ogv .vob '
                        '(any case; names starting with "." are skipped)')
    parser.add_argument('--out', required=True, metavar='OUT_DIR',
                        help='output folder (created if needed)')
    parser.add_argument('--list', metavar='FILE',
                        help='text file with one video path per line (blank lines and lines '
                        'starting with # are skipped); relative paths are resolved against '
                        '--list-root')
    parser.add_argument('--list-root', metavar='DIR',
                        help='folder that relative --list paths start from and that output '
                        'names are taken relative to (default: the list file\'s folder)')
    add_detector_option(parser, help='face detector: RetinaFace-mnet0.25 (ONNX, fast on CPU) '
                        'or YuNet (libfacedetection, slower here) (default: %(default)s)')
    parser.add_argument('--score-threshold', type=number(float, 0), default=None,
                        help='keep detections scoring above this, 0..1 (default: 0.9 for '
                        'retinaface, 0.5 for yunet)')
    parser.add_argument('--max-side', type=number(int, 0), default=640,
                        help='detect on frames shrunk so their longer side is at most this many '
                        'pixels (boxes are mapped back; crops are always cut from the full '
                        'frame); 0 = full resolution (default: %(default)s)')
    parser.add_argument('--detect-every', type=number(int, 1), default=1, metavar='K',
                        help='detect on every K-th frame only (and the last), interpolating the '
                        'box in between; the main speed lever (default: %(default)s)')
    parser.add_argument('--size', type=number(int, 1), default=224,
                        help='side of the square crops in pixels (default: %(default)s)')
    parser.add_argument('--margin', type=number(float, 0, strict=True), default=1.25,
                        help='crop side = MARGIN x the longer side of the face box; parts '
                        'outside the frame are black (default: %(default)s)')
    parser.add_argument('--smooth', type=number(int, 0), default=5, metavar='FRAMES',
                        help='centred moving average over FRAMES frames of the box centre, '
                        'size and landmarks, against jitter; 0 or 1 = off '
                        '(default: %(default)s)')
    parser.add_argument('--align', action='store_true',
                        help='rotate each crop so the eyes are level (from the 5 landmarks)')
    parser.add_argument('--jpeg-quality', type=number(int, 0), default=95,
                        help='JPEG quality 0..100 (default: %(default)s)')
    parser.add_argument('--workers', type=number(int, 1), default=1,
                        help='parallel processes, each with its own detector and '
                        'cpu_count/WORKERS detector threads (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo videos whose folder is already finished (the old folder is '
                        'replaced only once the new one is complete)')
    parser.add_argument('--report', metavar='FILE',
                        help='also write the summary (names per status, errors, timings) '
                        'as JSON to FILE')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    args = parser.parse_args(argv)
    if not args.inputs and not args.list:
        parser.error('give at least one INPUT or --list FILE')
    if args.jpeg_quality > 100:
        parser.error(f'argument --jpeg-quality: must be <= 100, got {args.jpeg_quality}')
    if args.score_threshold is not None and args.score_threshold > 1:
        parser.error(f'argument --score-threshold: must be <= 1, got {args.score_threshold}')
    return args


def main(argv=None):
    args = parse_args(argv)
    from est_mm.utils.files import check_writable_dir
    try:  # before any video is read
        check_writable_dir(args.out, create=False)
        if args.report:
            check_writable_dir(osp.dirname(osp.abspath(args.report)), create=False)
    except OSError as err:
        sys.exit(f'error: {err}')
    try:
        from est_mm.datasets.face_extraction import (ExtractOptions, extract_faces,
                                                     format_extract_summary)
        options = ExtractOptions(
            detector=args.detector, score_threshold=args.score_threshold,
            max_side=args.max_side or None, detect_every=args.detect_every, size=args.size,
            margin=args.margin, smooth=args.smooth, align=args.align,
            jpeg_quality=args.jpeg_quality, overwrite=args.overwrite, workers=args.workers,
            progress=not args.no_progress)
        summary = extract_faces(args.inputs, args.out, options, list_file=args.list,
                                list_root=args.list_root)
    except KeyboardInterrupt:
        print('\ninterrupted: finished folders are kept; run the same command again to resume',
              file=sys.stderr)
        sys.exit(130)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'error: {err}')
    print(format_extract_summary(summary, args.workers))
    if args.report:
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(summary, f, indent=1)
    sys.exit(1 if summary['failed'] else 0)


if __name__ == '__main__':
    main()
