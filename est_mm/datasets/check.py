"""Is the data of a config complete on disk? The logic of ``tools/data/check_dataset.py``.

For each chosen split the dataset of ``<split>_dataloader`` is built (pipeline left out, listed
samples absent on disk not fatal) and :func:`check_datasets` prints the number of samples, the
count per class and, by name, every listed frame folder or video that is missing or empty, and
every path listed more than once. With ``deep`` it also decodes every frame of every sample
(:func:`~est_mm.datasets.integrity.check_every_frame`, in ``workers`` processes), naming each
corrupt, truncated or zero-frame video and each unreadable or damaged image (strict decoding:
:func:`~est_mm.datasets.integrity.decode_image`), and lists the frames of another size and the
files the loader passes over (macOS AppleDouble ``._*``, non-images).
"""
import copy
import multiprocessing
import os
import os.path as osp
import sys
import warnings
from collections import Counter
from typing import List, NamedTuple, Optional, Sequence

from ..compat import opencv_threads_for_fork
from .integrity import Duplicate, SampleCheck, check_every_frame, find_duplicates
from .transforms.loading import is_frame_name

PROGRESS_FROM = 300  # show a progress bar when scanning more entries than this


def leaf_datasets(cfg, where: str) -> list:
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

    from .fer_video_dataset import FERVideoDataset
    cfg = copy.deepcopy(cfg)
    cfg['pipeline'] = []
    cls = DATASETS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    if cls is None:
        raise KeyError(f"dataset type {cfg['type']!r} is not registered")
    if isinstance(cls, type) and issubclass(cls, FERVideoDataset):
        cfg['missing'] = 'skip'
        cfg['lazy_init'] = True
        cfg['duplicates'] = 'warn'  # report them all here instead of stopping at the first
        cfg['deep_check'] = False  # deep=True does it, naming every bad sample
    return DATASETS.build(cfg)


def has_images(folder: str) -> bool:
    """Whether ``folder`` holds a file the loader reads as a frame."""
    with os.scandir(folder) as it:
        return any(is_frame_name(e.name) for e in it)


class Scan(NamedTuple):
    """What :func:`scan` found in one dataset."""
    labels: List[int]  # of the samples present
    missing: List[str]
    empty: List[str]
    listed: int
    duplicates: List[Duplicate]
    checks: List[SampleCheck]  # deep: one per sample present and non-empty

    def findings(self, field: str) -> List[str]:
        """The non-empty ``problem``, ``other_size`` or ``ignored`` lines of the deep check."""
        return [getattr(c, field) for c in self.checks if getattr(c, field)]


def _entries(dataset):
    """``(entries, duplicates, exists)`` of any mmaction dataset."""
    from .fer_video_dataset import FERVideoDataset, ListEntry
    if isinstance(dataset, FERVideoDataset):
        with warnings.catch_warnings():  # duplicates: reported by name instead
            warnings.simplefilter('ignore')
            entries = dataset.list_entries()
        return entries, dataset.duplicates, dataset.entry_exists
    dataset.full_init()  # any other mmaction dataset: check what its data infos point at
    entries = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = info.get('frame_dir') or info.get('filename')
        source = 'frames' if info.get('frame_dir') else 'videos'
        entries.append(ListEntry(f'sample {i}', path, info.get('label', -1), source))
    return entries, find_duplicates(entries), FERVideoDataset.entry_exists


def _check_entry(entry) -> SampleCheck:
    return check_every_frame(entry.path, entry.source)


def _hidden(progress: Optional[bool]) -> Optional[bool]:
    """tqdm's ``disable``: None (``progress=None``) shows the bar only when stderr is a
    terminal."""
    return None if progress is None else not progress


def scan(dataset, progress: Optional[bool] = None, deep: bool = False,
         workers: int = 1) -> Scan:
    """Find the missing, empty and repeated samples of ``dataset``; with ``deep`` decode every
    frame of the others, in ``workers`` processes (1: in this one). Progress bars: always
    (True), never (False) or when stderr is a terminal (None)."""
    from tqdm import tqdm
    entries, duplicates, exists = _entries(dataset)
    labels, missing, empty, present = [], [], [], []
    for entry in tqdm(entries, desc='scanning', unit='entry', file=sys.stderr, leave=False,
                      disable=True if len(entries) <= PROGRESS_FROM else _hidden(progress)):
        if not exists(entry):
            missing.append(entry.path)
            continue
        labels.append(entry.label)
        if osp.isdir(entry.path) and not has_images(entry.path):
            empty.append(entry.path)
        elif osp.isfile(entry.path) and osp.getsize(entry.path) == 0:
            empty.append(entry.path)
        else:
            present.append(entry)
    checks = []
    if deep and present:
        bar = dict(total=len(present), desc='decoding every frame', unit='sample',
                   file=sys.stderr, leave=False, disable=_hidden(progress))
        if workers > 1:
            context = multiprocessing.get_context('fork' if os.name == 'posix' else 'spawn')
            # one OpenCV thread per worker: the workers are the parallelism
            with opencv_threads_for_fork(1), \
                    context.Pool(min(workers, len(present))) as pool:
                checks = list(tqdm(pool.imap(_check_entry, present, chunksize=4), **bar))
        else:
            checks = [_check_entry(e) for e in tqdm(present, **bar)]
    return Scan(labels, missing, empty, len(entries), duplicates, checks)


def print_names(title: str, names: Sequence[str], max_list: int) -> None:
    print(f'  {title}: {len(names)}')
    for name in names[:max_list]:
        print(f'    {name}')
    if len(names) > max_list:
        print(f'    ... and {len(names) - max_list} more')


def check_split(split: str, loader_cfg, max_list: int = 20, deep: bool = False,
                workers: int = 1, progress: Optional[bool] = None) -> int:
    """Print the report of one split; return the number of problems found."""
    problems = 0
    for where, ds_cfg in leaf_datasets(loader_cfg['dataset'], f'{split}_dataloader.dataset'):
        print(f"[{split}] {where}: {ds_cfg.get('type')}")
        try:
            dataset = build_for_check(ds_cfg)
            found = scan(dataset, progress=progress, deep=deep, workers=workers)
        except Exception as err:  # a missing split file, a bad line, ...
            print(f'  cannot build the dataset: {type(err).__name__}: {err}')
            problems += 1
            continue
        if getattr(dataset, 'ann_file', None):
            print(f'  list: {dataset.ann_file}')
        print(f'  samples: {len(found.labels)} present of {found.listed} listed')
        classes = dataset.metainfo.get('classes') or ()
        counts = Counter(found.labels)
        for label in sorted(set(counts) | set(range(len(classes)))):
            name = classes[label] if 0 <= label < len(classes) else '?'
            print(f'    {label:>3} {name:<16} {counts.get(label, 0)}')
        print_names('missing on disk', found.missing, max_list)
        print_names('empty (no images / 0-byte video)', found.empty, max_list)
        problems += len(found.missing) + len(found.empty)
        if deep:
            unreadable = found.findings('problem')
            print_names('unreadable or damaged (corrupt, truncated, zero frames, bad image)',
                        unreadable, max_list)
            problems += len(unreadable)
            print_names('frames of another size (not an error: resized when loaded)',
                        found.findings('other_size'), max_list)
            print_names('files the loader ignores (not an error)', found.findings('ignored'),
                        max_list)
        policy = ds_cfg.get('duplicates', 'warn')
        print_names(f"listed more than once (duplicates={policy!r})",
                    [f'{d.where}: {d.path} (first at {d.first}'
                     f'{"" if d.same_label else ", another label"})' for d in found.duplicates],
                    max_list)
        if policy == 'error':
            problems += len(found.duplicates)
    return problems


def check_datasets(config: str, splits: Sequence[str] = ('train', 'val', 'test'),
                   max_list: int = 20, deep: bool = False, workers: int = 1,
                   progress: Optional[bool] = None, cfg_options: Optional[dict] = None) -> int:
    """Print the report of every split of ``config``; return the exit code: 1 if anything is
    missing, empty or (``deep``) unreadable or damaged, if a duplicate meets
    ``duplicates='error'``, or if a dataset cannot be built, else 0. A config file or
    ``cfg_options`` entry that cannot work raises :class:`~est_mm.utils.config.ConfigError`
    (one line naming it). ``progress``: see :func:`scan`."""
    from mmaction.utils import register_all_modules

    from ..utils.config import load_config
    register_all_modules()
    if hasattr(sys.stdout, 'reconfigure'):  # non-UTF-8 file names print as \udcXX, not crash
        sys.stdout.reconfigure(errors='backslashreplace')
    cfg = load_config(config, cfg_options, require=())
    problems = 0
    for split in splits:
        loader_cfg = cfg.get(f'{split}_dataloader')
        if not loader_cfg or not loader_cfg.get('dataset'):
            print(f'[{split}] no {split}_dataloader in the config; passed over')
            continue
        problems += check_split(split, loader_cfg, max_list, deep, workers, progress)
    if problems:
        print(f'FAILED: {problems} problem(s) found')
        return 1
    print('OK: every listed sample is on disk and non-empty' +
          (', and every frame decodes' if deep else ''))
    return 0
