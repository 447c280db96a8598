"""Class names from a ``classes.txt`` (one name per line, index = line order; blank lines and
``#`` lines ignored), the one place a custom dataset names its classes.

A dataset config gives ``classes_file='classes.txt'`` (relative to its ``data_root``);
:func:`apply_classes_files` runs after ``--cfg-options`` are merged (``load_config``), so the
names follow an overridden ``data_root``: it writes them into each dataset's
``metainfo.classes`` and, where the head's ``num_classes`` is None, sets it to their number.
"""
import os.path as osp
from typing import Iterator, Mapping, Optional, Tuple

SPLITS = ('train', 'val', 'test')


def read_classes_file(path: str) -> Tuple[str, ...]:
    """The class names listed in ``path``; one-line ``FileNotFoundError`` / ``ValueError``
    naming the file for a missing file, no names, or a name listed twice."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: classes file not found (one class name per line, '
                                'as tools/data/make_lists.py writes it)')
    with open(path, encoding='utf-8-sig') as f:
        lines = [(i, line.strip()) for i, line in enumerate(f, 1)]
    names, seen = [], {}
    for lineno, name in lines:
        if not name or name.startswith('#'):
            continue
        if name.lower() in seen:
            raise ValueError(f'{path}:{lineno}: class {name!r} is listed again (first at line '
                             f'{seen[name.lower()]})')
        seen[name.lower()] = lineno
        names.append(name)
    if not names:
        raise ValueError(f'{path}: lists no class names (one per line)')
    return tuple(names)


def classes_file_path(dataset: Mapping) -> Optional[str]:
    """A dataset config's ``classes_file``, joined to its ``data_root`` when relative."""
    path = dataset.get('classes_file')
    if not path:
        return None
    root = dataset.get('data_root')
    return osp.join(root, path) if root and not osp.isabs(path) else str(path)


def _datasets(cfg) -> Iterator[Tuple[str, dict]]:
    """``(split, dataset dict)`` of each dataloader, wrappers (``dataset=dict(dataset=...)``)
    unwrapped down to the dict that holds the ``classes_file``."""
    for split in SPLITS:
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
        while isinstance(dataset, Mapping) and 'classes_file' not in dataset \
                and isinstance(dataset.get('dataset'), Mapping):
            dataset = dataset['dataset']
        if isinstance(dataset, Mapping):
            yield split, dataset


def apply_classes_files(cfg, missing_ok: bool = False) -> Optional[Tuple[str, ...]]:
    """Every dataset with a ``classes_file``: its names into ``metainfo.classes``; the model
    head's ``num_classes`` from them when it is None. Returns the names (None: no
    ``classes_file``). Splits naming different classes raise one line naming both files;
    ``missing_ok`` skips files that are not there (inference, where the checkpoint names the
    classes)."""
    found = None
    for split, dataset in _datasets(cfg):
        path = classes_file_path(dataset)
        if path is None or (missing_ok and not osp.isfile(path)):
            continue
        classes = read_classes_file(path)
        if found is not None and classes != found[1]:
            raise ValueError(f'{path} ({split}) names other classes than {found[0]}: '
                             f'{", ".join(classes)} vs {", ".join(found[1])}')
        found = found or (path, classes)
        dataset['metainfo'] = dict(dataset.get('metainfo') or {}, classes=list(classes))
    head = (cfg.get('model') or {}).get('cls_head')
    if found is not None and isinstance(head, dict) and head.get('num_classes') is None:
        head['num_classes'] = len(found[1])
    return None if found is None else found[1]
