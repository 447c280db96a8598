"""Check that the datasets of a config are complete on disk, before training on them.

For each chosen split the dataset of ``<split>_dataloader`` is built (pipeline left out, listed
samples absent on disk not fatal) and the tool prints the number of samples, the count per class
and, by name, every listed frame folder or video that is missing or empty, and every path listed
more than once. With ``--deep`` it also opens every sample and decodes its first and last frame,
naming each corrupt, truncated or zero-frame video and each unreadable image. Exit code 1 if
anything is missing, empty or unreadable, if a duplicate meets ``duplicates='error'``, or if a
dataset cannot be built (bad line or label, list file not UTF-8, ...), else 0.

Example (from the repository root)::

    python tools/data/make_toy_dataset.py data/toy_dfew
    python tools/data/check_dataset.py configs/est_r18_toy.py --deep
    python tools/data/check_dataset.py configs/est_r18_dfew.py --splits train test \\
        --cfg-options train_dataloader.dataset.data_root=/data/DFEW \\
        test_dataloader.dataset.data_root=/data/DFEW
"""
import argparse
import copy
import os
import os.path as osp
import sys
import warnings
from collections import Counter

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

PROGRESS_FROM = 300  # show a progress bar when scanning more entries than this


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Build the datasets of an est_mm/mmaction2 config and report, per split, '
        'the number of samples, the count per class and every listed frame folder or video '
        'that is missing on disk or empty, and every path listed more than once. Exit code 1 '
        'if anything is missing, empty or (with --deep) unreadable, or a dataset cannot be '
        'built, 0 otherwise. The data pipeline is not run.')
    parser.add_argument('config', help='config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'],
                        help='which <split>_dataloader datasets to check; a split the config '
                        'has no dataloader for is reported and passed over '
                        '(default: %(default)s)')
    parser.add_argument('--max-list', type=int, default=20, metavar='N',
                        help='print at most N missing and N empty entries per split by name, '
                        'then a count of the rest (default: %(default)s)')
    parser.add_argument('--deep', action='store_true',
                        help='also open every sample and decode its first and last frame, to '
                        'find corrupt, truncated or zero-frame videos and unreadable images '
                        '(slower: two reads per sample)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, e.g. '
                        'train_dataloader.dataset.data_root=/data/DFEW')
    args = parser.parse_args(argv)
    if args.max_list < 0:
        parser.error(f'--max-list must be >= 0, got {args.max_list}')
    return args


def leaf_datasets(cfg, where):
    """``(where, dataset config)`` for every real dataset in ``cfg``, looking inside dataset
    wrappers (``dataset=`` / ``datasets=`` of RepeatDataset, ConcatDataset, ...)."""
    if 'datasets' in cfg:
        out = []
        for i, sub in enumerate(cfg['datasets']):
            out += leaf_datasets(sub, f'{where}.datasets[{i}]')
        return out
    if 'dataset' in cfg and isinstance(cfg['dataset'], dict):
        return leaf_datasets(cfg['dataset'], f'{where}.dataset')
    return [(where, cfg)]


def build_for_check(cfg):
    """Build the dataset of ``cfg`` without its pipeline; FER datasets lazily, with
    ``missing='skip'``."""
    from mmaction.registry import DATASETS

    from est_mm.datasets import FERVideoDataset
    cfg = copy.deepcopy(cfg)
    cfg['pipeline'] = []
    cls = DATASETS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    if cls is None:
        raise KeyError(f"dataset type {cfg['type']!r} is not registered")
    if isinstance(cls, type) and issubclass(cls, FERVideoDataset):
        cfg['missing'] = 'skip'
        cfg['lazy_init'] = True
        cfg['duplicates'] = 'warn'  # report them all here instead of stopping at the first
        cfg['deep_check'] = False  # --deep does it, naming every bad sample
    return DATASETS.build(cfg)


def has_images(folder):
    from est_mm.datasets.transforms.loading import IMAGE_EXTENSIONS
    with os.scandir(folder) as it:
        return any(e.name.lower().endswith(IMAGE_EXTENSIONS) for e in it)


def scan(dataset, progress=True, deep=False):
    """``(labels of the samples present, missing paths, empty paths, number listed, duplicates,
    unreadable)``: ``duplicates`` are :class:`est_mm.datasets.integrity.Duplicate`, ``unreadable``
    the one-line problems of the samples whose first or last frame does not decode (``deep``)."""
    from tqdm import tqdm

    from est_mm.datasets import FERVideoDataset, ListEntry, probe_sample
    from est_mm.datasets.integrity import find_duplicates
    if isinstance(dataset, FERVideoDataset):
        with warnings.catch_warnings():  # duplicates: reported below, by name
            warnings.simplefilter('ignore')
            entries = dataset.list_entries()
        duplicates = dataset.duplicates
        exists = dataset.entry_exists
    else:  # any other mmaction dataset: check what its data infos point at
        dataset.full_init()
        entries = []
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            path = info.get('frame_dir') or info.get('filename')
            source = 'frames' if info.get('frame_dir') else 'videos'
            entries.append(ListEntry(f'sample {i}', path, info.get('label', -1), source))
        exists = FERVideoDataset.entry_exists
        duplicates = find_duplicates(entries)
    labels, missing, empty, unreadable = [], [], [], []
    bar = tqdm(entries, desc='deep check' if deep else 'scanning', unit='entry', file=sys.stderr,
               leave=False, disable=not progress or (len(entries) <= PROGRESS_FROM and not deep))
    for entry in bar:
        if not exists(entry):
            missing.append(entry.path)
            continue
        labels.append(entry.label)
        if osp.isdir(entry.path):
            if not has_images(entry.path):
                empty.append(entry.path)
                continue
        elif osp.getsize(entry.path) == 0:
            empty.append(entry.path)
            continue
        if deep:
            problem = probe_sample(entry.path, entry.source)
            if problem is not None:
                unreadable.append(problem)
    return labels, missing, empty, len(entries), duplicates, unreadable


def print_names(title, names, max_list):
    print(f'  {title}: {len(names)}')
    for name in names[:max_list]:
        print(f'    {name}')
    if len(names) > max_list:
        print(f'    ... and {len(names) - max_list} more')


def check_split(split, loader_cfg, args):
    """Print the report of one split; return the number of problems found."""
    problems = 0
    for where, ds_cfg in leaf_datasets(loader_cfg['dataset'], f'{split}_dataloader.dataset'):
        print(f"[{split}] {where}: {ds_cfg.get('type')}")
        try:
            dataset = build_for_check(ds_cfg)
            labels, missing, empty, listed, duplicates, unreadable = scan(
                dataset, progress=not args.no_progress, deep=args.deep)
        except Exception as err:  # a missing split file, a bad line, ...
            print(f'  cannot build the dataset: {type(err).__name__}: {err}')
            problems += 1
            continue
        if getattr(dataset, 'ann_file', None):
            print(f'  list: {dataset.ann_file}')
        print(f'  samples: {len(labels)} present of {listed} listed')
        classes = dataset.metainfo.get('classes') or ()
        counts = Counter(labels)
        for label in sorted(set(counts) | set(range(len(classes)))):
            name = classes[label] if 0 <= label < len(classes) else '?'
            print(f'    {label:>3} {name:<16} {counts.get(label, 0)}')
        print_names('missing on disk', missing, args.max_list)
        print_names('empty (no images / 0-byte video)', empty, args.max_list)
        problems += len(missing) + len(empty)
        if args.deep:
            print_names('unreadable (corrupt, truncated, zero frames, bad image)', unreadable,
                        args.max_list)
            problems += len(unreadable)
        policy = ds_cfg.get('duplicates', 'warn')
        print_names(f"listed more than once (duplicates={policy!r})",
                    [f'{d.where}: {d.path} (first at {d.first}'
                     f'{"" if d.same_label else ", another label"})' for d in duplicates],
                    args.max_list)
        if policy == 'error':
            problems += len(duplicates)
    return problems


def main(argv=None):
    args = parse_args(argv)
    if hasattr(sys.stdout, 'reconfigure'):  # non-UTF-8 file names print as \udcXX, not crash
        sys.stdout.reconfigure(errors='backslashreplace')
    from mmengine.config import Config
    from mmaction.utils import register_all_modules

    import est_mm  # noqa: F401  (registers the datasets)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    problems = 0
    for split in args.splits:
        loader_cfg = cfg.get(f'{split}_dataloader')
        if not loader_cfg or not loader_cfg.get('dataset'):
            print(f'[{split}] no {split}_dataloader in the config; passed over')
            continue
        problems += check_split(split, loader_cfg, args)
    if problems:
        print(f'FAILED: {problems} problem(s) found')
        return 1
    print('OK: every listed sample is on disk and non-empty' +
          (', and its first and last frame decode' if args.deep else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
