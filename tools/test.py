"""Test a checkpoint on a config's test split and print WAR (acc/top1) and UAR (acc/mean1).

The config and ``--cfg-options`` are checked as they are read (est_mm.utils.config: one line
naming the file or the option); the folders of --dump, --metrics-out and --work-dir must be
writable before anything is built.

The checkpoint is read with torch's safe loading (one line naming the file if it is refused,
truncated or missing) and must fit the config (est_mm.inference_spec: classes, snippets per clip,
parameter shapes; one line saying what differs otherwise). Its frame size, sampling and
normalisation are used where they differ from the config's, and one line says so. --dump and
--metrics-out never replace a file unless --overwrite, and are written under a temporary name,
then renamed."""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, uninstalled
from tools.argtypes import (  # noqa: E402
    add_cfg_options, add_launcher, one_line_warnings, cpu_defaults)


def parse_args(argv=None):
    """The command line, parsed before torch, mmengine's runner or est_mm are imported."""
    parser = argparse.ArgumentParser(description='Test an EST checkpoint; prints WAR and UAR')
    parser.add_argument('config', help='test config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='checkpoint file (.pth) to test')
    parser.add_argument('--work-dir', help='where the test log and metrics go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--dump', type=str,
                        help='also dump the predictions to this .pkl file for offline evaluation')
    parser.add_argument('--metrics-out', type=str,
                        help='also write the test metrics to this JSON file (written atomically)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing --dump / --metrics-out files (refused without it)')
    add_cfg_options(parser)
    add_launcher(parser, 'test')
    return parser.parse_args(argv)


def fit_checkpoint(cfg, args):
    """The checkpoint's spec written into ``cfg`` (test pipeline, data preprocessor); one line
    when it differs from the config. SystemExit (one line) when they do not fit."""
    from mmengine.dist import is_main_process

    from est_mm.engine.prepare import prepare_model
    from est_mm.inference_spec import SpecMismatchError
    from est_mm.utils import CheckpointError
    try:
        _, spec, cfg = prepare_model(cfg, args.checkpoint, config=args.config, build=False,
                                     classes_must_match=True)
    except (CheckpointError, SpecMismatchError, ValueError) as err:  # ValueError: cannot build
        raise SystemExit(str(err))
    if spec.notes and is_main_process():
        print(f"{args.checkpoint}: testing with the checkpoint's " + '; '.join(spec.notes),
              flush=True)
    return cfg


def main():
    cpu_defaults(reuse_memory=True)  # before torch
    args = parse_args()
    one_line_warnings()
    try:
        run_test(args)
    except KeyboardInterrupt:
        print('interrupted (Ctrl-C)', file=sys.stderr, flush=True)
        raise SystemExit(130)


def run_test(args):
    from mmengine.dist import is_main_process

    from est_mm.datasets.integrity import BadSampleError
    from est_mm.engine.runner import build_runner, check_data_roots, finish_distributed
    from est_mm.utils import (CheckpointError, OutputExistsError, check_checkpoint,
                              check_writable_dir, refuse_existing)
    from est_mm.utils.config import ConfigError, load_config, option_in_error
    from est_mm.utils.errors import first_line, last_line
    if args.dump is not None and not args.dump.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'--dump must name a .pkl file, got {args.dump}')
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as err:
        raise SystemExit(str(err))
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    try:  # fail before building anything: outputs we must not replace or cannot write, an
        # unsafe or truncated checkpoint (pickle parsed under the safe rules, tensor data not read)
        refuse_existing([args.dump, args.metrics_out], args.overwrite)
        for out in (args.dump, args.metrics_out):
            if out:
                check_writable_dir(osp.dirname(osp.abspath(out)), create=False)
        check_writable_dir(cfg.work_dir, create=False)
        check_checkpoint(args.checkpoint)
        check_data_roots(cfg, ['test_dataloader'])
    except (OutputExistsError, CheckpointError, OSError) as err:
        raise SystemExit(str(err))
    cfg = fit_checkpoint(cfg, args)
    dump_tmp = None
    if args.dump is not None:
        # DumpResults writes in place: give it a temporary name, renamed once the test is done
        dump_tmp = f'{args.dump}.tmp{os.getpid()}.pkl'
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=dump_tmp)]
    cfg.load_from = args.checkpoint
    try:
        metrics = build_runner(cfg, args).test()
        is_main = is_main_process()  # asked before finish_distributed() ends the process group
        if dump_tmp is not None and is_main:
            os.replace(dump_tmp, args.dump)
        finish_distributed()
    except CheckpointError as err:  # unsafe, truncated or unreadable: one line naming the file
        raise SystemExit(str(err))
    except (ValueError, TypeError) as err:  # a value given with --cfg-options, refused when built
        option = option_in_error(args.cfg_options, err)
        if option is None:
            raise
        raise SystemExit(f'--cfg-options {option}: {first_line(err)}') from None
    except (BadSampleError, OSError) as err:  # an unreadable clip, a file-system error
        worker = str(err).startswith('Caught ')  # re-raised by a DataLoader worker
        raise SystemExit(last_line(err) if worker else first_line(err))
    finally:
        if dump_tmp is not None and osp.exists(dump_tmp):
            os.remove(dump_tmp)
    if not is_main:
        return
    if args.metrics_out:
        write_json_atomic(args.metrics_out, dict(metrics, checkpoint=osp.abspath(args.checkpoint)))
    if 'acc/top1' in metrics:
        print(f"WAR (acc/top1): {100 * metrics['acc/top1']:.2f}   "
              f"UAR (acc/mean1): {100 * metrics.get('acc/mean1', float('nan')):.2f}")


def write_json_atomic(path, data):
    from est_mm.utils.files import atomic_write
    with atomic_write(path) as tmp, open(tmp, 'w') as f:
        json.dump(data, f, indent=2, default=float)


if __name__ == '__main__':
    main()
