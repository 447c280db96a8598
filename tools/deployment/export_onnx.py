"""Export a trained EST model (config + checkpoint) to ONNX, then check it against PyTorch.

The graph takes clips [N, 35, 3, H, W]: float32 RGB frames in 0-255, *not* normalised (the model's
(x - mean) / std is inside the graph). It returns scores (softmax probabilities [N, K]),
frame_weights (AA-SFE, [N, 7, 5]), snippet_attention ([N, 7]) and logits ([N, K]). The batch axis N
is dynamic. The model's InferenceSpec (est_mm/inference_spec.py: class names, frame size, mean/std
and test-time snippet sampling, the checkpoint's where its meta has them, as ESTInferencer uses
them) is stored in the file's metadata, so est_mm.deploy.onnx_backend.ONNXModel can run it with
onnxruntime alone.

Next to it go the part graphs of the streaming engine (tools/demo.py on live sources with
--backend onnxruntime): FILE.backbone.onnx (frames [B, 3, H, W] -> features [B, C]),
FILE.snippet.onnx (AA-SFE: [S, 5, C] -> snippet features [S, d] and frame weights [S, 5]) and
FILE.head.onnx (Transformer and classifier: [N, 7, d] -> scores, snippet_attention, logits), with
the same metadata; --no-parts leaves them out.

Verification runs seeded random clips at the graph's frame size and image-like ones of another
size (resized by the same numpy preprocessing as ONNXModel), plus one clip per --verify-frames
video or folder, at batch 1 and batch --verify-clips through ONNX Runtime and through PyTorch (the
data_preprocessor and forward_explain), and through the three parts chained. It prints the max
abs difference of each output. The files are written (atomically, with the usual permissions) only
when every difference is within --atol; otherwise the exit status is 1.

With --int8 it then writes an int8 export next to it, FILE.int8.onnx and its part graphs
FILE.int8.backbone/snippet/head.onnx, with ONNX Runtime's static quantization (QDQ, per-channel
int8 weights) of the backbone's Conv, Relu, Add and MaxPool nodes: the backbone is int8, AA-SFE
and the Transformer stay float32 (int8 there moved the probabilities too much). It is calibrated on the face crops of --calibrate
SRC ...: a video (its main face detected and cropped as tools/demo.py does; --no-face-crop for
videos of face crops), a frame folder of face crops, or CONFIG.py:SPLIT, the clips of a
dataset config's split (train, val or test), e.g. configs/est_r18_dfew.py:test. A seeded quarter
of the sources (--calibrate-holdout) is held out: on those the int8 files are compared with the
float32 ones (max |dp| of the probabilities, top-1 agreement, backbone feature cosine), and
written only when top-1 agreement >= --int8-min-agreement and max |dp| <= --int8-max-dp
(defaults 0.99 and 0.05); otherwise the exit status is 1. They carry the same metadata (spec,
checkpoint hash) plus precision and the calibration and verification summary, and run wherever
the float32 export runs (ONNXModel, tools/demo.py --backend onnxruntime, ESTInferencer).

example:
  python tools/deployment/export_onnx.py configs/est_r18_dfew.py \\
      work_dirs/est_r18_dfew/epoch_160.pth --out est_r18_dfew.onnx
  python tools/deployment/export_onnx.py configs/est_r18_dfew.py \\
      work_dirs/est_r18_dfew/epoch_160.pth --out est_r18_dfew.onnx \\
      --int8 --calibrate configs/est_r18_dfew.py:test
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import (add_cfg_options, add_detector_option, load_tool_config,  # noqa: E402
                            number)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='trained checkpoint (.pth); loaded with torch\'s safe '
                        '(weights_only) loading, every model parameter must be in it')
    parser.add_argument('--out', metavar='FILE.onnx',
                        help='output file (default: the checkpoint\'s path with .onnx)')
    parser.add_argument('--opset', type=number(int, 14), default=17, metavar='N',
                        help='ONNX opset version (default: 17)')
    parser.add_argument('--frame-size', type=number(int, 1), nargs=2, metavar=('H', 'W'),
                        help='frame height and width of the graph input (default: the '
                        'checkpoint\'s frame size, else the test pipeline\'s Resize, e.g. 224 '
                        '224). Frames of other sizes are resized to it by ONNXModel')
    parser.add_argument('--batch', type=number(int, 1), default=2, metavar='N',
                        help='batch size of the dummy input used for tracing (default: 2); the '
                        'exported batch axis is dynamic whatever N is')
    parser.add_argument('--verify-clips', type=number(int, 0), default=2, metavar='N',
                        help='clips of each kind (random; random of another size, resized) '
                        'compared with PyTorch, at batch 1 and batch N (default: 2); 0 skips '
                        'the verification')
    parser.add_argument('--verify-frames', nargs='+', metavar='DIR_OR_VIDEO',
                        help='frame folders or video files to verify on as well (one clip '
                        'each, sampled as at test time)')
    parser.add_argument('--atol', type=number(float, 0, strict=True), default=1e-4,
                        help='largest allowed max abs difference per output (default: 1e-4)')
    parser.add_argument('--verify-only', action='store_true',
                        help='export nothing: verify the existing --out file against CONFIG + '
                        'CHECKPOINT (metadata and outputs); exit 1 if it does not match')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace --out and its part graphs if they exist (default: '
                        'refuse)')
    parser.add_argument('--no-parts', action='store_true',
                        help='write only the whole-clip graph, not the part graphs '
                        '(FILE.backbone/snippet/head.onnx) that streaming with ONNX Runtime '
                        'needs (they hold the weights once more)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random verification clips and of the int8 '
                        'calibration sample and hold-out (default: 0)')
    add_cfg_options(parser, example='model.cls_head.num_classes=6')
    add_int8_options(parser)
    args = parser.parse_args(argv)
    if args.verify_frames and args.verify_clips == 0:
        parser.error('--verify-frames needs the verification that --verify-clips 0 skips')
    if args.int8 and not args.calibrate:
        parser.error('--int8 needs --calibrate SRC ... (face videos, frame folders or '
                     'CONFIG.py:SPLIT)')
    if args.calibrate and not args.int8:
        parser.error('--calibrate is for --int8')
    if args.calibrate_holdout >= 1 or args.int8_min_agreement > 1:
        parser.error('--calibrate-holdout must be below 1 and --int8-min-agreement at most 1')
    if args.int8 and (args.verify_only or args.no_parts):
        parser.error('--int8 exports the float32 model and its part graphs first; it cannot '
                     'be combined with --verify-only or --no-parts')
    return args


def add_int8_options(parser):
    group = parser.add_argument_group('int8 export')
    group.add_argument('--int8', action='store_true',
                       help='also write the int8 export FILE.int8.onnx and its part graphs '
                       '(the backbone int8, calibrated on --calibrate)')
    group.add_argument('--calibrate', nargs='+', metavar='SRC',
                       help='calibration sources: videos (faces detected and cropped as the '
                       'demo does), frame folders of face crops, or CONFIG.py:SPLIT (SPLIT: '
                       'train, val or test), e.g. configs/est_r18_dfew.py:test')
    group.add_argument('--int8-out', metavar='FILE.onnx',
                       help='the int8 file (default: --out with .int8.onnx)')
    group.add_argument('--calibrate-clips', type=number(int, 2), default=64, metavar='N',
                       help='clips taken in all, calibration and held out (a seeded sample of '
                       'the sources when there are more; default: 64)')
    group.add_argument('--clips-per-video', type=number(int, 1), default=4, metavar='N',
                       help='windows taken from each video, spread evenly (default: 4)')
    group.add_argument('--calibrate-holdout', type=number(float, 0, strict=True), default=0.25,
                       metavar='SHARE', help='share of the sources (of the windows of a single '
                       'video) held out of calibration to verify on, below 1 (default: 0.25; at '
                       'least one)')
    group.add_argument('--calibrate-method', default='minmax',
                       choices=['minmax', 'entropy', 'percentile'],
                       help='ONNX Runtime calibration method (default: minmax)')
    group.add_argument('--int8-min-agreement', type=number(float, 0), default=0.99,
                       metavar='SHARE', help='least share of held-out clips whose int8 top-1 '
                       'class is the float32 one (default: 0.99)')
    group.add_argument('--int8-max-dp', type=number(float, 0), default=0.05, metavar='P',
                       help='largest allowed |int8 - float32| of a probability on the held-out '
                       'clips (default: 0.05)')
    group.add_argument('--no-face-crop', action='store_true',
                       help='calibration videos already show one cropped face: skip detection')
    add_detector_option(group, help='face detector for calibration videos (default: '
                        '%(default)s, as tools/demo.py)')


def main(argv=None) -> int:
    args = parse_args(argv)
    out = args.out or osp.splitext(args.checkpoint)[0] + '.onnx'
    int8 = int8_settings(args) if args.int8 else None
    load_tool_config(args, out_files=[] if args.verify_only else
                     [out, *([int8.out] if int8 else [])],
                     classes_files=False)  # the checkpoint names the classes
    from est_mm.deploy.onnx_export import (ExportError, ExportSettings, NoFrameSizeError,
                                           export_and_verify)
    from est_mm.deploy.quantize import QuantizeError, export_int8
    from est_mm.utils.files import OutputExistsError
    settings = ExportSettings(
        out=args.out, opset=args.opset, frame_size=args.frame_size, batch=args.batch,
        verify_clips=args.verify_clips, verify_frames=args.verify_frames or (), atol=args.atol,
        overwrite=args.overwrite, verify_only=args.verify_only, cfg_options=args.cfg_options,
        seed=args.seed, parts=not args.no_parts)
    try:
        if int8:  # before the float32 export: its minute is not spent on a doomed int8 one
            check_int8_inputs(out, int8)
        result = export_and_verify(args.config, args.checkpoint, settings)
        if int8 and result.passed:
            report_int8(export_int8(out, int8))
    except OutputExistsError as err:
        return fail(f'{err}; pass --overwrite to replace it')
    except NoFrameSizeError as err:
        return fail(f'{err}: pass --frame-size H W')
    except (ExportError, QuantizeError) as err:
        return fail(str(err))
    if args.verify_clips == 0:
        print('warning: verification skipped (--verify-clips 0)')
    if result.missing_parts:
        print(f'note: no part graphs next to {result.out} '
              f'({", ".join(map(osp.basename, result.missing_parts))}); streaming on ONNX '
              'Runtime needs them: export again with --overwrite')
    if result.removed:
        print(f'removed the old part graphs {", ".join(map(osp.basename, result.removed))} '
              '(not exported with --no-parts)')
    return 0 if result.passed else 1


def int8_settings(args):
    """The int8 options as :class:`est_mm.deploy.quantize.Int8Settings` (torch-free import)."""
    from est_mm.deploy.quantize import Int8Settings, int8_path
    out = args.out or osp.splitext(args.checkpoint)[0] + '.onnx'
    return Int8Settings(
        calibrate=args.calibrate, out=args.int8_out or int8_path(out),
        holdout=args.calibrate_holdout, max_clips=args.calibrate_clips,
        clips_per_video=args.clips_per_video, seed=args.seed,
        min_agreement=args.int8_min_agreement, max_dp=args.int8_max_dp,
        method=args.calibrate_method, face_crop=not args.no_face_crop, detector=args.detector,
        overwrite=args.overwrite)


def check_int8_inputs(out: str, int8) -> None:
    """Existing int8 outputs (without --overwrite) and unusable --calibrate sources, before
    any work."""
    from est_mm.deploy.quantize import check_outputs, check_sources
    check_outputs(out, int8)
    check_sources(int8.calibrate)


def report_int8(report) -> None:
    print('wrote the int8 export: ' + ', '.join(
        f'{osp.basename(p)} ({osp.getsize(p) / 2**20:.1f} MiB)' for p in report.written))


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
