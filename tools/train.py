"""Train an EST (or any mmaction2) model from a config: parse arguments, hand the Config to a
Runner.

Refuses to start over in a work dir that holds checkpoints unless told (--resume / --overwrite),
and to resume a checkpoint written under another configuration unless told (--force).
One line, exit code 1, for: a config file that cannot be read, a ``--cfg-options`` entry that
cannot work (est_mm.utils.config), a bad checkpoint (unsafe pickle, truncated, missing), a train
batch of 1 clip that the SSOP branch's BatchNorm cannot train on, a missing or looping data
folder, an unreadable clip, a full disk or any other file-system error; Ctrl-C: one line, exit
code 130."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, uninstalled
from tools.argtypes import add_cfg_options, add_launcher, cpu_defaults  # noqa: E402


def parse_args(argv=None):
    """The command line, parsed before torch, mmengine's runner or est_mm are imported (``--help``
    answers at once; mmengine.config is torch-free)."""
    parser = argparse.ArgumentParser(description='Train an EST video facial-expression recognizer')
    parser.add_argument('config', help='train config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a path, from the latest '
                        'complete checkpoint in the work dir (starts fresh if there is none); '
                        'refused if the checkpoint was written under another configuration '
                        '(model, training data, schedule, optimizer, seed)')
    parser.add_argument('--force', action='store_true',
                        help='with --resume: resume even a checkpoint written under another '
                        'configuration (e.g. to extend train_cfg.max_epochs of a finished run)')
    parser.add_argument('--overwrite', action='store_true',
                        help='the work dir holds checkpoints of an earlier run: delete them '
                        '(epoch_*.pth, iter_*.pth, best_*.pth, last_checkpoint) and start over; '
                        'without it (or --resume) training refuses to start there')
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
    add_cfg_options(parser, 'train_dataloader.dataset.data_root=/data/DFEW')
    add_launcher(parser, 'train')
    return parser.parse_args(argv)


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
    if args.resume not in (None, 'auto'):  # --resume without a path: check_work_dir
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
        from est_mm.utils.config import merge_cfg_options
        merge_cfg_options(cfg, args.cfg_options, args.config)
    return cfg


def _rank() -> int:
    return int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0)))


def check_work_dir(cfg, args):
    """No silent data loss: without --resume, a work dir with checkpoints is refused unless
    --overwrite (which deletes them). --resume without a path resumes from the newest complete
    checkpoint (``last_checkpoint`` if it names an existing file, else the highest epoch_N.pth)."""
    from est_mm.utils import latest_checkpoint, remove_checkpoints, work_dir_checkpoints
    work_dir = cfg.work_dir
    if args.resume is not None and args.overwrite:
        raise SystemExit('pass either --resume (continue the earlier run) or --overwrite '
                         '(start over), not both')
    if args.force and args.resume is None:
        raise SystemExit('--force goes with --resume (resume a checkpoint written under another '
                         'configuration)')
    if args.resume is None:
        if work_dir_checkpoints(work_dir):
            if not args.overwrite:
                raise SystemExit(f'{work_dir} has checkpoints from an earlier run: pass --resume '
                                 'to continue it or --overwrite to start over')
            if _rank() == 0:
                removed = remove_checkpoints(work_dir)
                print(f'--overwrite: removed {len(removed)} checkpoint file(s) of the earlier run '
                      f'from {work_dir}', flush=True)
    elif args.resume == 'auto':
        found = latest_checkpoint(work_dir)
        if found is None:  # a new run (the config's load_from, if any, initialises it)
            print(f'--resume: no checkpoint in {work_dir}, starting a new run', flush=True)
        else:
            cfg.resume, cfg.load_from = True, found
    return cfg


def check_load_from(cfg):
    """Before building anything: the checkpoint to resume or start from must pass the safe rules
    (pickle parsed, tensor data memory-mapped, not read; see est_mm.utils.check_checkpoint)."""
    from est_mm.utils import check_checkpoint
    path = cfg.get('load_from')
    if path and '://' not in str(path):
        check_checkpoint(path)


def check_resume(cfg, args):
    """The checkpoint to resume was written under this configuration (model, training data,
    schedule, ...), or --force. Every rank checks (files only, no process group)."""
    from est_mm.engine.resume_check import check_resume_config
    path = cfg.get('load_from')
    if not cfg.get('resume') or not path or '://' in str(path) or args.force:
        return
    if not check_resume_config(path, cfg) and _rank() == 0:
        print(f'note: {path} holds no configuration to compare with; resuming it as it is',
              flush=True)


def train(args):
    from est_mm.datasets.integrity import BadSampleError
    from est_mm.models.heads.ssop import SSOPBatchError
    from est_mm.engine.resume_check import ResumeConfigError
    from est_mm.engine.runner import (build_runner, check_data_roots, check_train_batch,
                                      finish_distributed)
    from est_mm.utils import CheckpointError
    from est_mm.utils.config import (ConfigError, apply_classes_files, load_config,
                                     option_in_error)
    from est_mm.utils.errors import first_line, last_line

    try:  # classes.txt is read once every option is merged (it follows their data_root)
        cfg = apply_classes_files(merge_args(load_config(args.config, classes_files=False), args),
                                  args.config)
        check_train_batch(cfg, args.launcher)  # SSOP's BatchNorm: >= 2 clips per step in all
        check_data_roots(cfg, ['train_dataloader'] + (['val_dataloader'] if cfg.get('val_cfg')
                                                      else []))
        cfg = check_work_dir(cfg, args)
        check_load_from(cfg)
        check_resume(cfg, args)
        build_runner(cfg, args).train()
        finish_distributed()
    except ResumeConfigError as err:  # --resume of another run's checkpoint
        raise SystemExit(f'{err}; pass --force to resume anyway') from None
    except (CheckpointError, SSOPBatchError, ConfigError) as err:  # a bad checkpoint; 1 clip
        raise SystemExit(str(err))  # where SSOP needs 2; a config or --cfg-options that cannot work
    except (ValueError, TypeError) as err:  # a value given with --cfg-options, refused when built
        option = option_in_error(args.cfg_options, err)
        if option is None:
            raise
        raise SystemExit(f'--cfg-options {option}: {first_line(err)}') from None
    except (BadSampleError, OSError) as err:  # an unreadable clip, missing data, a full disk
        worker = str(err).startswith('Caught ')  # re-raised by a DataLoader worker
        raise SystemExit(last_line(err) if worker else first_line(err))


def main():
    cpu_defaults(reuse_memory=True)  # before torch
    args = parse_args()
    try:
        train(args)
    except KeyboardInterrupt:
        print('interrupted (Ctrl-C); continue with --resume', file=sys.stderr, flush=True)
        raise SystemExit(130)


if __name__ == '__main__':
    main()
