"""Train an EST (or any mmaction2) model from a config: parse arguments, hand the Config to a Runner."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, uninstalled

from mmengine.config import Config  # noqa: E402

from est_mm.utils import build_runner, cfg_options_argument, launcher_arguments  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train an EST video facial-expression recognizer')
    parser.add_argument('config', help='train config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a path, from the latest '
                        'checkpoint in the work dir (starts fresh if there is none)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (useful on GPU only)')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training (if the config has any)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr linearly with the real total batch size against '
                        'auto_scale_lr.base_batch_size of the config')
    parser.add_argument('--seed', type=int, default=None,
                        help='random seed (overrides the config\'s randomness.seed)')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='give each distributed rank a different seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower; for exact reproduction)')
    cfg_options_argument(parser)
    launcher_arguments(parser)
    return parser.parse_args()


def merge_args(cfg, args):
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise SystemExit(f'--amp does not support the optimizer wrapper {wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    build_runner(cfg, args).train()


if __name__ == '__main__':
    main()
