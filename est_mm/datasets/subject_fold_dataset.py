import os
import os.path as osp
import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .fer_video_dataset import FERVideoDataset, ListEntry, check_choice


def natural_key(text: str) -> Tuple:
    """Sort key that orders the digit runs of ``text`` as numbers (``S2`` before ``S10``)."""
    return tuple((0, int(t), '') if t.isdigit() else (1, 0, t)
                 for t in re.split(r'(\d+)', text) if t)


def subject_folds(subjects: Iterable[str], num_folds: int) -> Dict[str, int]:
    """Fold (1..``num_folds``) of every subject: the distinct subjects in natural order, dealt
    round-robin (the 1st, ``num_folds + 1``-th, ... subject is in fold 1, and so on)."""
    ordered = sorted(set(subjects), key=natural_key)
    return {s: i % num_folds + 1 for i, s in enumerate(ordered)}


def write_subject_list(path: str,
                       rows: Sequence[Tuple[str, str, str]],
                       comments: Sequence[str] = (),
                       overwrite: bool = False) -> None:
    """Write a :class:`SubjectFoldDataset` list file: ``# comment`` lines, then one
    ``<path> <label> <subject>`` line per row. An existing file is replaced only if
    ``overwrite``."""
    if osp.exists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; pass --overwrite to replace it')
    for rel, label, subject in rows:
        for name, value in (('label', label), ('subject', subject)):
            if not value or any(c.isspace() for c in value):
                raise ValueError(f'{rel}: {name} {value!r} must be non-empty without spaces')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        for text in comments:
            f.write(f'# {text}\n')
        for rel, label, subject in rows:
            f.write(f'{rel} {label} {subject}\n')


@DATASETS.register_module()
class SubjectFoldDataset(FERVideoDataset):
    """Subject-independent k-fold cross-validation over a list file.

    List-file format: one ``<frame folder or video> <label name> <subject id>`` per line, the path
    relative to ``data_root``. Lines are split on the last two runs of whitespace, so the path may
    contain spaces (label and subject may not). Blank lines and lines starting with ``#`` are
    ignored. Label names are matched to the class names in any case (and through
    ``LABEL_ALIASES`` in subclasses).

    Folds: the distinct subjects in natural order are dealt round-robin into ``num_folds`` folds
    (:func:`subject_folds`); ``split='test'`` is every sample of the subjects of ``fold``,
    ``'train'`` every other sample, so no subject is on both sides and the test parts of all folds
    together hold every sample exactly once.

    Args:
        ann_file (str): The list file (relative to ``data_root`` or absolute).
        pipeline (list): Data transforms.
        data_root (str): Folder the listed paths are relative to. Defaults to ``''``.
        num_folds (int): Number of folds, at least 2 and at most the number of subjects.
            Defaults to 10.
        fold (int): The test fold, 1..``num_folds``. Defaults to 1.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        missing (str, optional): A listed sample absent on disk: ``'error'`` raises naming it,
            ``'skip'`` drops it with one warning counting the dropped samples, None does not
            look. Defaults to ``'error'``.
        **kwargs: Passed to :class:`FERVideoDataset` (``metainfo`` with the class names,
            ``val_ratio``, ``subset``, ``test_mode``, ...).
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 data_root: Optional[str] = '',
                 num_folds: int = 10,
                 fold: int = 1,
                 split: str = 'train',
                 missing: Optional[str] = 'error',
                 **kwargs) -> None:
        owner = type(self).__name__
        if isinstance(num_folds, bool) or not isinstance(num_folds, int) or num_folds < 2:
            raise ValueError(f'{owner}: num_folds must be an integer >= 2, got {num_folds!r}')
        if isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold <= num_folds:
            raise ValueError(f'{owner}: fold must be 1..{num_folds}, got {fold!r}')
        check_choice(owner, 'split', split, ('train', 'test'))
        self.num_folds = num_folds
        self.fold = fold
        self.split = split
        self.subjects: List[str] = []
        super().__init__(
            ann_file,
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=dict(video=''),
            missing=missing,
            **kwargs)

    def read_subject_list(self) -> List[Tuple[ListEntry, str]]:
        """``(entry, subject)`` for every line of the list file."""
        self._require_ann_file('subject list')
        rows = []
        for lineno, line in self._list_lines():
            where = f'{self.ann_file}:{lineno}'
            parts = line.rsplit(None, 2)
            if len(parts) != 3:
                raise ValueError(f'{where}: expected "<frame folder or video> <label> '
                                 f'<subject>", got {line!r}')
            path, label_name, subject = parts
            rows.append((ListEntry(where, self._video_path(path),
                                   self.label_index(label_name, where)), subject))
        return rows

    def read_entries(self) -> List[ListEntry]:
        rows = self.read_subject_list()
        num_subjects = len({s for _, s in rows})
        if num_subjects < self.num_folds:
            raise ValueError(f'{self.ann_file}: {num_subjects} subjects cannot fill '
                             f'num_folds={self.num_folds} folds')
        folds = subject_folds((s for _, s in rows), self.num_folds)
        in_test = self.split == 'test'
        chosen = [(e, s) for e, s in rows if (folds[s] == self.fold) == in_test]
        self.subjects = sorted({s for _, s in chosen}, key=natural_key)
        return [e for e, _ in chosen]
