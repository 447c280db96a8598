"""Recognise facial expressions in a raw video, a camera, a network stream or stdin.

Every input goes through one loop: frames are decoded as they arrive, faces found (RetinaFace by
default) and followed by an online tracker (past frames only), the frames EST samples cropped, and
each face's windows computed by the streaming engine (every sampled frame through the backbone
once). A video file: windows of 105 frames every half window plus a tail window, then a JSON of
per-window and overall predictions, a timeline PNG with the snippet attention, and optionally an
annotated video (and JSON Lines with --jsonl). A camera index (0, 1, ...), an rtsp/http/... URL
or - (an encoded stream on stdin), or a file with --live: a label per face every --stride frames
(default 10), written as JSON Lines, flushed per window. Many videos: tools/demo_batch.py."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, uninstalled
from tools.argtypes import (  # noqa: E402
    add_detector_option, number, one_line_warnings, cpu_defaults)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('video', nargs='?', help='input: a video file (any format FFmpeg reads), '
                        'a camera index (0), an rtsp:// / http:// ... URL, or - for an encoded '
                        'stream on stdin (e.g. ffmpeg ... -f mpegts -); or give it as --source')
    parser.add_argument('config', help='model config, e.g. configs/est_r18_dfew.py (not read '
                        'with --backend onnxruntime: the .onnx file carries what it needs)')
    parser.add_argument('checkpoint', help='trained checkpoint (.pth, loaded with safe loading), '
                        'or an exported .onnx file with --backend onnxruntime')
    parser.add_argument('--backend', default='pytorch', choices=['pytorch', 'onnxruntime'],
                        help='run the PyTorch model, or the ONNX export with ONNX Runtime '
                        '(tools/deployment/export_onnx.py; default: pytorch)')
    parser.add_argument('--out-dir', default='demo_out',
                        help='folder for <video>.json and <video>_timeline.png (default: demo_out)')
    parser.add_argument('--pred-out-file', help='write the JSON here instead of --out-dir')
    parser.add_argument('--vid-out-dir', help='also write an annotated copy of the video '
                        '(face box + current label) into this folder as <video>.mp4')
    parser.add_argument('--device', help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    add_detector_option(parser, help='face detector (default: %(default)s, as in the paper)')
    parser.add_argument('--detect-every', type=number(int, 1), default=1,
                        help='run the detector on every k-th frame only, keeping each face\'s '
                        'last box in between (faster on CPU; default: 1)')
    parser.add_argument('--margin', type=number(float, 0, strict=True), default=1.25,
                        help='face crop side = margin × the longer box side (default: 1.25)')
    parser.add_argument('--smooth', type=number(int, 0), default=5,
                        help='average each face box over its last k frames (past frames only); '
                        '0 or 1 = off (default: 5)')
    parser.add_argument('--align', action='store_true',
                        help='rotate face crops so the eyes are level (5-point alignment)')
    parser.add_argument('--no-face-crop', action='store_true',
                        help='the video already shows one cropped face: skip detection')
    parser.add_argument('--window', type=number(int, 1),
                        help='frames per EST window (default: the sampler\'s 105)')
    parser.add_argument('--stride', type=number(int, 1),
                        help='frames between window starts (default: half a window for files, '
                        'one snippet step, 10, for live sources)')
    parser.add_argument('--max-faces', type=number(int, 1),
                        help='follow at most this many faces, the biggest and most persistent '
                        '(default: all)')
    parser.add_argument('--min-track-len', type=number(int, 1), default=10,
                        help='files: drop face tracks spanning fewer frames, unless no longer '
                        'one is found (default: 10)')
    parser.add_argument('--max-gap', type=number(int, 1), default=25,
                        help='a face missed (e.g. occluded) for up to this many frames keeps '
                        'its track id (default: 25)')
    parser.add_argument('--source', help='the input, as the first positional argument')
    parser.add_argument('--live', action='store_true',
                        help='treat a video file as a live source: JSON Lines only, a label every '
                        '--stride frames (default 10), no tail window')
    parser.add_argument('--jsonl', help='write each window\'s result as JSON Lines here as it is '
                        'computed (- = stdout; live sources default to <out-dir>/<name>.jsonl, '
                        'files write none unless given)')
    parser.add_argument('--show', action='store_true',
                        help='live sources: show the frames with boxes and labels in a window '
                        '(where a display exists; q closes it)')
    parser.add_argument('--timeout', type=number(float, 0, strict=True), default=10.0,
                        help='live sources: seconds without data before a stream counts as '
                        'stalled (default: 10)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files (JSON, PNG, video); without it the '
                        'demo refuses to start if one exists')
    parser.add_argument('--no-progress', action='store_true',
                        help='files: no progress bar on stderr (it is shown only on a terminal '
                        'anyway)')
    args = parser.parse_intermixed_args()  # options may come between the positionals
    if args.source is not None:
        if args.video is not None:
            parser.error('give the input either positionally or as --source, not both')
        args.video = args.source
    elif args.video is None:
        parser.error('the following arguments are required: video (or --source)')
    return args


def face_options(args) -> dict:
    """The :class:`~est_mm.streaming.options.FaceOptions` fields from the command line."""
    return dict(detector=args.detector, detect_every=args.detect_every, margin=args.margin,
                smooth=args.smooth, align=args.align, crop_faces=not args.no_face_crop,
                max_faces=args.max_faces, max_gap=args.max_gap)


def live_options(args, show: bool):
    """The :class:`~est_mm.streaming.options.LiveOptions` of a live source."""
    from est_mm.streaming.options import LiveOptions
    return LiveOptions(**face_options(args), stride=args.stride, timeout=args.timeout, show=show)


def demo_options(args):
    """The :class:`~est_mm.streaming.options.DemoOptions` of a video file."""
    from est_mm.streaming.options import DemoOptions
    return DemoOptions(**face_options(args), pred_out_file=args.pred_out_file,
                       vid_out_dir=args.vid_out_dir, overwrite=args.overwrite,
                       min_track_len=args.min_track_len,
                       progress=False if args.no_progress else None, jsonl=args.jsonl)


def main_live(args):
    """A camera, URL, stdin, or a file with --live: the online loop, JSON Lines out."""
    import os
    from est_mm.utils.files import check_writable_dir
    from est_mm.apis.inference import ESTInferencer
    from est_mm.streaming import display_available, live_name, run_live
    from est_mm.utils import OutputExistsError, refuse_existing
    from est_mm.utils.errors import first_line
    from est_mm.video import StreamError, open_stream
    if args.vid_out_dir or args.pred_out_file:
        raise SystemExit('--vid-out-dir and --pred-out-file are for video files; live sources '
                         'write JSON Lines (--jsonl)')
    jsonl = args.jsonl or osp.join(args.out_dir, live_name(args.video) + '.jsonl')
    if jsonl != '-':
        try:
            refuse_existing([jsonl], args.overwrite)
        except OutputExistsError as err:
            raise SystemExit(str(err))
        try:
            check_writable_dir(osp.dirname(osp.abspath(jsonl)), create=False)  # made when written
        except OSError as err:
            raise SystemExit(first_line(err))
    show = args.show
    if show:
        why = display_available()
        if why:
            print(f'--show: {why}; going on without a window', file=sys.stderr)
            show = False
    try:  # the source first: a camera that cannot be opened fails before the model loads
        source = open_stream(args.video, timeout=args.timeout)
    except StreamError as err:
        raise SystemExit(first_line(err))
    try:
        inferencer = ESTInferencer(None if args.backend == 'onnxruntime' else args.config,
                                   args.checkpoint, device=args.device, window=args.window,
                                   backend=args.backend)
    except (ValueError, OSError, RuntimeError) as err:
        raise SystemExit(first_line(err))
    except Exception as err:  # noqa: BLE001 - unexpected: one line with the error's type
        raise SystemExit(f'cannot set up the model: {type(err).__name__}: {first_line(err)}')
    try:
        summary = run_live(source, inferencer, jsonl, live_options(args, show))
    except (StreamError, ValueError) as err:
        raise SystemExit(first_line(err))
    if summary['end'] == 'broken pipe':  # the reader went away: end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return
    print(f"{summary['name']}: {summary['windows']} window(s) from {summary['frames']} "
          f"frames, {len(summary['tracks'])} face track(s), {summary['end']}"
          + (f", {summary['corrupt_packets']} corrupt packet(s) skipped"
             if summary['corrupt_packets'] else '')
          + ('' if jsonl == '-' else f'\njsonl: {jsonl}'), file=sys.stderr)
    for track, frames in sorted(summary['short_tracks'].items()):
        print(f"  face #{track}: no window: {frames} frame(s), a window needs "
              f"{summary['window']}", file=sys.stderr)
    if summary['end'] == 'interrupted':
        raise KeyboardInterrupt
    if not summary['windows']:
        raise SystemExit(f"{summary['name']}: no window written: "
                         + ('no face was found' if not summary['tracks'] else
                            f"no face track lasted the {summary['window']} frames a window "
                            'needs (--window sets a shorter one)'))


def main():
    cpu_defaults()  # before torch
    args = parse_args()
    one_line_warnings()
    from est_mm.video import source_kind
    live = args.live or source_kind(args.video) != 'file'
    if live:
        return main_live(args)
    if args.show:
        raise SystemExit('--show is for live sources; add --live to run a file as one')
    if osp.isdir(args.video):
        raise SystemExit(f'{args.video}: is a directory; the demo takes one video file')
    if not osp.isfile(args.video):
        raise SystemExit(f'{args.video}: no such file')
    from est_mm.apis.demo import demo_outputs, run_demo
    from est_mm.utils.files import check_writable_dir
    from est_mm.apis.inference import ESTInferencer
    from est_mm.faces import NoFaceError
    from est_mm.utils import OutputExistsError, refuse_existing
    from est_mm.utils.errors import first_line
    from est_mm.video import VideoReadError
    try:  # before any work: never replace earlier results silently
        outputs = demo_outputs(args.video, args.out_dir, args.pred_out_file, args.vid_out_dir)
        if args.jsonl and args.jsonl != '-':
            outputs['jsonl'] = args.jsonl
        refuse_existing(outputs.values(), args.overwrite)
        for folder in dict.fromkeys(osp.dirname(osp.abspath(p)) for p in outputs.values()):
            check_writable_dir(folder, create=False)  # a folder is made when a file is written
    except (OutputExistsError, OSError) as err:
        raise SystemExit(first_line(err))
    try:  # ESTInferencer's errors name the checkpoint, config or device themselves
        inferencer = ESTInferencer(None if args.backend == 'onnxruntime' else args.config,
                                   args.checkpoint, device=args.device, window=args.window,
                                   stride=args.stride, backend=args.backend)
    except (ValueError, OSError, RuntimeError) as err:  # CheckpointError names its file
        raise SystemExit(first_line(err))
    except Exception as err:  # noqa: BLE001 - unexpected: one line with the error's type
        raise SystemExit(f'cannot set up the model: {type(err).__name__}: {first_line(err)}')
    try:
        report = run_demo(args.video, inferencer, args.out_dir, demo_options(args))
    except (NoFaceError, VideoReadError, ValueError, OutputExistsError) as err:
        raise SystemExit(first_line(err))
    speed = report['seconds_per_video_second'] or {}
    out = sys.stderr if args.jsonl == '-' else sys.stdout  # stdout carries the JSON Lines then
    print(f"{args.video}: {report['label']} ({100 * max(report['scores'].values()):.1f} %), "
          f"{len(report['windows'])} window(s) over {report['num_frames']} frames", file=out)
    if len(report['tracks']) > 1:
        for track in report['tracks']:
            print(f"  face #{track['id']} (frames {track['first_frame']}-{track['last_frame']}): "
                  f"{track['label']} ({100 * max(track['scores'].values()):.1f} %)", file=out)
    if speed:
        print('seconds of work per second of video: ' +
              ', '.join(f'{k} {v:.2f}' for k, v in speed.items()), file=out)
    if args.jsonl:
        report['outputs']['jsonl'] = args.jsonl
    for kind, path in report['outputs'].items():
        print(f'{kind}: {path}', file=out)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        print('\ninterrupted', file=sys.stderr)
        sys.exit(130)
