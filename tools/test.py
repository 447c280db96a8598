"""Test a checkpoint on a config's test split and print WAR (acc/top1) and UAR (acc/mean1)."""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, uninstalled

from mmengine.config import Config  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402

from est_mm.utils import build_runner, cfg_options_argument, launcher_arguments  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Test an EST checkpoint; prints WAR and UAR')
    parser.add_argument('config', help='test config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='checkpoint file (.pth) to test')
    parser.add_argument('--work-dir', help='where the test log and metrics go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--dump', type=str,
                        help='also dump the predictions to this .pkl file for offline evaluation')
    parser.add_argument('--metrics-out', type=str,
                        help='also write the test metrics to this JSON file (written atomically)')
    cfg_options_argument(parser)
    launcher_arguments(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--dump must name a .pkl file, got {args.dump}')
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=args.dump)]
    cfg.load_from = args.checkpoint
    metrics = build_runner(cfg, args).test()
    if not is_main_process():
        return
    if args.metrics_out:
        write_json_atomic(args.metrics_out, dict(metrics, checkpoint=osp.abspath(args.checkpoint)))
    if 'acc/top1' in metrics:
        print(f"WAR (acc/top1): {100 * metrics['acc/top1']:.2f}   "
              f"UAR (acc/mean1): {100 * metrics.get('acc/mean1', float('nan')):.2f}")


def write_json_atomic(path, data):
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=2, default=float)
    os.replace(path + '.tmp', path)


if __name__ == '__main__':
    main()
