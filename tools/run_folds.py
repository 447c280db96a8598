"""Train and test every fold of a k-fold dataset (DFEW, MAFW, BU-3DFE, MMI) and write the per-fold
and mean ± std WAR/UAR table. Resumable: a fold with test results is skipped, an interrupted fold
resumes from its last checkpoint."""
import argparse
import glob
import json
import os.path as osp
import shlex
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.argtypes import number  # noqa: E402

METRICS = 'test_metrics.json'


def parse_args(argv=None):
    """The command line, parsed before mmengine or est_mm (and so torch) are imported."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config of a k-fold dataset, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--folds', type=number(int, 1), nargs='+',
                        help='folds to run (default: all, 1..num_folds of the dataset)')
    parser.add_argument('--work-dir', help='parent of the per-fold work dirs fold_<k>/ and of '
                        'the summary (default: ./work_dirs/<config name>_folds)')
    parser.add_argument('--gpus', type=number(int, 1), default=1,
                        help='processes per fold: >1 trains and tests with tools/dist_*.sh '
                        '(torchrun; gloo on a machine without a GPU)')
    parser.add_argument('--checkpoint', choices=['last', 'best'], default='last',
                        help='which checkpoint of a fold to test: the last epoch (default) or '
                        'the best on the validation subset (configs with a held-out val split)')
    parser.add_argument('--print-commands', action='store_true',
                        help='only print the train/test command of every unfinished fold (to '
                        'submit to a cluster), run nothing')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides passed to every train and test run')
    return parser.parse_args(argv)


def train_cmd(args, fold_dir, options):
    opts = ['--cfg-options', *options] if options else []
    if args.gpus > 1:
        return ['bash', osp.join(ROOT, 'tools/dist_train.sh'), args.config, str(args.gpus),
                '--work-dir', fold_dir, '--resume', *opts]
    return [sys.executable, osp.join(ROOT, 'tools/train.py'), args.config, '--work-dir', fold_dir,
            '--resume', *opts]


def test_cmd(args, fold_dir, checkpoint, options):
    opts = ['--cfg-options', *options] if options else []
    tail = ['--work-dir', fold_dir, '--metrics-out', osp.join(fold_dir, METRICS), *opts]
    if args.gpus > 1:
        return ['bash', osp.join(ROOT, 'tools/dist_test.sh'), args.config, checkpoint,
                str(args.gpus), *tail]
    return [sys.executable, osp.join(ROOT, 'tools/test.py'), args.config, checkpoint, *tail]


def find_checkpoint(fold_dir, which):
    if which == 'best':
        best = sorted(glob.glob(osp.join(fold_dir, 'best_*.pth')), key=osp.getmtime)
        if not best:
            raise SystemExit(f'{fold_dir}: no best_*.pth (does the config validate and save_best?)')
        return best[-1]
    pointer = osp.join(fold_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        raise SystemExit(f'{fold_dir}: training left no last_checkpoint')
    with open(pointer) as f:
        return f.read().strip()


def shell_line(cmd, unquoted=()):
    """``cmd`` as one bash line: every word quoted except those in ``unquoted`` (already shell
    syntax, e.g. a ``"$(cat …)"`` that bash must expand)."""
    return ' '.join(c if c in unquoted else shlex.quote(c) for c in cmd)


def checkpoint_expansion(fold_dir, which):
    """Shell syntax that bash expands to the checkpoint ``find_checkpoint`` would pick, once the
    fold's training has run."""
    if which == 'best':
        return f'"$(ls -t {shlex.quote(fold_dir)}/best_*.pth | head -n 1)"'
    return f'"$(cat {shlex.quote(osp.join(fold_dir, "last_checkpoint"))})"'


def run(cmd, env):
    print('+ ' + shell_line(cmd), flush=True)
    if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
        raise SystemExit(f'failed: {" ".join(cmd[:3])} (see its log above)')


def main():
    args = parse_args()
    from est_mm.utils.folds import (fold_dirs, fold_options, markdown_table, num_folds,
                                    summarise, write_summary)
    from est_mm.utils.config import ConfigError, read_config
    try:
        cfg = read_config(args.config)
    except ConfigError as err:
        sys.exit(str(err))
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', f'{name}_folds')
    folds = args.folds or list(range(1, num_folds(cfg) + 1))
    try:
        fold_options(cfg, folds[0])
    except ValueError as err:
        raise SystemExit(f'{args.config}: {err}')
    env = dict(__import__('os').environ, PYTHON=sys.executable)
    results = {}
    for k, fold_dir in fold_dirs(work_dir, folds).items():
        metrics_path = osp.join(fold_dir, METRICS)
        if osp.isfile(metrics_path):
            with open(metrics_path) as f:
                results[k] = json.load(f)
            print(f'fold {k}: already tested ({metrics_path}), skipped', flush=True)
            continue
        options = fold_options(cfg, k) + args.cfg_options
        if args.print_commands:
            checkpoint = checkpoint_expansion(fold_dir, args.checkpoint)
            print(shell_line(train_cmd(args, fold_dir, options)))
            print(shell_line(test_cmd(args, fold_dir, checkpoint, options), {checkpoint}))
            continue
        start = time.time()
        print(f'fold {k}: training in {fold_dir}', flush=True)
        run(train_cmd(args, fold_dir, options), env)
        run(test_cmd(args, fold_dir, find_checkpoint(fold_dir, args.checkpoint), options), env)
        with open(metrics_path) as f:
            results[k] = json.load(f)
        print(f'fold {k}: done in {time.time() - start:.0f} s', flush=True)
    if args.print_commands or not results:
        return
    summary = summarise(results)
    paths = write_summary(work_dir, summary, f'{name}: {len(results)} folds')
    print(markdown_table(summary, f'{name}: {len(results)} folds'))
    print('written: ' + ', '.join(paths))


if __name__ == '__main__':
    main()
