"""Parameters, MACs (per part: backbone / AA-SFE / Transformer / classifier / SSOP) and throughput
of a config's model at its real input shape (paper Table 6)."""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import add_cfg_options, load_tool_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Count parameters and MACs of a config\'s model (per part) and measure its '
        'inference throughput on this machine. MACs follow fvcore/mmengine conventions '
        '(conv, linear, matmul, attention; element-wise ops not counted); the SSOP branch, '
        'which only runs in training, is counted separately.')
    parser.add_argument('config', help='config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--shape', type=int, nargs=5, metavar=('N', 'F', 'C', 'H', 'W'),
                        help='input shape [N, F, 3, H, W] (default: 1 clip of the neck\'s '
                        'frames, 35 for EST, at the test pipeline\'s Resize scale)')
    parser.add_argument('--throughput-iters', type=int, default=3,
                        help='timed forward passes for the throughput (median; one warm-up '
                        'pass before them); 0 skips the measurement (default: 3)')
    parser.add_argument('--device', default='cpu',
                        help='device for the throughput measurement, e.g. cpu or cuda '
                        '(counting always runs on CPU; default: cpu)')
    parser.add_argument('--json', metavar='OUT', help='also write the report to this JSON file')
    add_cfg_options(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args, out_files=[args.json])
    from est_mm.analysis.complexity import complexity_report, format_report
    report = complexity_report(cfg, shape=args.shape, throughput_iters=args.throughput_iters,
                               device=args.device)
    print(format_report(report))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
