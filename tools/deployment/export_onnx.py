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

example:
  python tools/deployment/export_onnx.py configs/est_r18_dfew.py \\
      work_dirs/est_r18_dfew/epoch_160.pth --out est_r18_dfew.onnx
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import add_cfg_options, load_tool_config, number  # noqa: E402


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
                        help='seed of the random verification clips (default: 0)')
    add_cfg_options(parser, example='model.cls_head.num_classes=6')
    args = parser.parse_args(argv)
    if args.verify_frames and args.verify_clips == 0:
        parser.error('--verify-frames needs the verification that --verify-clips 0 skips')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    load_tool_config(args, out_files=[] if args.verify_only else
                     [args.out or osp.splitext(args.checkpoint)[0] + '.onnx'],
                     classes_files=False)  # the checkpoint names the classes
    from est_mm.deploy.onnx_export import (ExportError, ExportSettings, NoFrameSizeError,
                                           export_and_verify)
    from est_mm.utils.files import OutputExistsError
    settings = ExportSettings(
        out=args.out, opset=args.opset, frame_size=args.frame_size, batch=args.batch,
        verify_clips=args.verify_clips, verify_frames=args.verify_frames or (), atol=args.atol,
        overwrite=args.overwrite, verify_only=args.verify_only, cfg_options=args.cfg_options,
        seed=args.seed, parts=not args.no_parts)
    try:
        result = export_and_verify(args.config, args.checkpoint, settings)
    except OutputExistsError as err:
        return fail(f'{err}; pass --overwrite to replace it')
    except NoFrameSizeError as err:
        return fail(f'{err}: pass --frame-size H W')
    except ExportError as err:
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


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
