"""Per-sample attention pictures (paper Fig. 9): the 35 sampled frames (7 snippets × 5) with the
AA-SFE frame weights and the decoder's snippet attention, true and predicted label."""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import add_cfg_options, load_tool_config, number  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='For each chosen sample write a PNG: its sampled frames as a grid (one row '
        'per snippet) with each frame\'s AA-SFE weight, bars of the decoder\'s attention over the '
        'snippets (most attended in green) and the true/predicted label in the title. Run it '
        'with a baseline checkpoint too to compare as in the paper\'s Fig. 9.')
    parser.add_argument('config', help='config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='checkpoint file (.pth) of that config')
    parser.add_argument('--out-dir', required=True, help='folder for the PNGs')
    parser.add_argument('--indices', type=number(int, 0), nargs='+',
                        help='sample indices in the split (default: the first 4)')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'],
                        help='which dataloader\'s dataset (read with the test pipeline; '
                        'default: test)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda (default: cpu)')
    parser.add_argument('--json', metavar='OUT',
                        help='also write the weights, attention and labels to this JSON file')
    add_cfg_options(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args, out_files=[args.json], out_dirs=[args.out_dir])
    from est_mm.analysis.attention import attention_figures
    from est_mm.inference_spec import SpecMismatchError
    from est_mm.utils import CheckpointError
    try:
        results = attention_figures(cfg, args.checkpoint, args.out_dir, args.indices,
                                    split=args.split, device=args.device)
    except (CheckpointError, SpecMismatchError) as err:  # one line naming the file
        raise SystemExit(str(err))
    for r in results:
        print(f"{r['path']}: true {r['true']}, predicted {r['pred']}, snippet attention "
              + ' '.join(f'{a:.2f}' for a in r['snippet_attention']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
