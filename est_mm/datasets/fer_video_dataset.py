import os.path as osp
import warnings
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .holdout import check_holdout_args, stratified_holdout

SOURCES = ('frames', 'videos')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mpg', '.mpeg', '.m4v', '.wmv',
                    '.flv')


class ListEntry(NamedTuple):
    """One listed sample, before its existence on disk is checked."""
    where: str  # 'file:line' (or the folder it was found in), for messages
    path: str  # frame folder or video file
    label: int  # 0-based
    source: Optional[str] = None  # 'frames', 'videos', or None: whatever is on disk


def check_choice(owner: str, arg: str, value, choices: Sequence) -> None:
    """Raise ``ValueError('<owner>: <arg> must be <choices>, got <value>')`` if not a choice."""
    if value not in choices or isinstance(value, bool):
        names = [repr(c) for c in choices]
        text = names[0] if len(names) == 1 else ', '.join(names[:-1]) + ' or ' + names[-1]
        raise ValueError(f'{owner}: {arg} must be {text}, got {value!r}')


@DATASETS.register_module()
class FERVideoDataset(BaseActionDataset):
    """Facial-expression videos listed in a text file, one ``<path> <label>`` per line.

    ``<path>`` is a video file or a folder of frame images, relative to ``data_prefix['video']``;
    ``<label>`` is a 0-based integer. The line is split on its last whitespace, so paths may
    contain spaces. Blank lines and lines starting with ``#`` are ignored. Class names come from
    ``metainfo=dict(classes=(...))``; labels are checked against them (or ``num_classes``).

    Each data info holds ``frame_dir`` (the path is a folder) or ``filename`` (otherwise) and
    ``label`` (int), ready for :class:`VideoOrFramesInit`.

    Subclasses read other list formats by overriding :meth:`read_entries`; the checks for missing
    files and the validation hold-out below then work the same for every dataset.

    Args:
        ann_file (str): The list file.
        pipeline (list): Data transforms.
        data_prefix (dict): ``dict(video=folder)`` the listed paths are relative to.
            Defaults to ``dict(video='')``.
        num_classes (int, optional): Number of classes, if ``metainfo`` has no class names.
        missing (str, optional): A listed folder/video absent on disk: ``'error'`` raises naming
            it, ``'skip'`` drops it with one warning counting the dropped samples, None does not
            look. Defaults to None here (``'error'`` in the benchmark datasets).
        val_ratio (float): Fraction of each class held out for validation when ``subset`` is
            given, in (0, 1). Defaults to 0.
        val_seed (int): Seed of the hold-out shuffle. Defaults to 0.
        subset (str, optional): None keeps the whole list; ``'val'`` keeps the held-out part and
            ``'train'`` the rest (see :func:`~est_mm.datasets.holdout.stratified_holdout`). The
            split is made on the list as written, before missing files are dropped.
        **kwargs: Passed to :class:`mmaction.datasets.BaseActionDataset` (``data_root``,
            ``metainfo``, ``test_mode``, ``lazy_init``, ...).
    """

    # lower-case label spelling -> class name, for lists that name their labels
    LABEL_ALIASES: Dict[str, str] = {}

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 data_prefix: ConfigType = dict(video=''),
                 num_classes: Optional[int] = None,
                 missing: Optional[str] = None,
                 val_ratio: float = 0.0,
                 val_seed: int = 0,
                 subset: Optional[str] = None,
                 **kwargs) -> None:
        owner = type(self).__name__
        if missing not in (None, 'error', 'skip'):
            raise ValueError(f"{owner}: missing must be 'error' or 'skip' (or None: no check), "
                             f'got {missing!r}')
        check_holdout_args(owner, val_ratio, val_seed, subset)
        self.missing = missing
        self.val_ratio = val_ratio
        self.val_seed = int(val_seed)
        self.subset = subset
        self.skipped: List[str] = []  # paths dropped by missing='skip' at the last load
        super().__init__(
            ann_file, pipeline=pipeline, data_prefix=data_prefix, num_classes=num_classes,
            **kwargs)

    @property
    def known_num_classes(self) -> Optional[int]:
        """``num_classes`` if given, else the number of class names in the metainfo."""
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = self.metainfo.get('classes')
        return len(classes) if classes else None

    # ------------------------------------------------------------ reading lists

    def _video_path(self, rel_path: str) -> str:
        return osp.join(self.data_prefix.get('video') or '', rel_path)

    def _require_ann_file(self, what: str = 'annotation list', hint: str = '') -> None:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{what} not found: {self.ann_file}{hint}')

    def _read_list(self) -> List[Tuple[int, str, int]]:
        """``(line number, path, label)`` for every entry of the list file."""
        self._require_ann_file()
        entries = []
        for lineno, line in self._list_lines():
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f'{self.ann_file}:{lineno}: expected "<path> <label>", '
                                 f'got {line!r}')
            path, label = parts
            try:
                label = int(label)
            except ValueError:
                raise ValueError(f'{self.ann_file}:{lineno}: label must be an integer, '
                                 f'got {label!r}') from None
            entries.append((lineno, path, label))
        return entries

    def _list_lines(self):
        """``(line number, stripped line)`` of the list file, skipping blanks and ``#`` lines."""
        with open(self.ann_file, encoding='utf-8-sig') as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if line and not line.startswith('#'):
                    yield lineno, line

    def _check_label(self, lineno, label: int) -> None:
        num_classes = self.known_num_classes
        if label < 0 or (num_classes is not None and label >= num_classes):
            upper = num_classes if num_classes is not None else 'inf'
            raise ValueError(f'{self.ann_file}:{lineno}: label {label} outside [0, {upper})')

    def label_index(self, name: str, where: str) -> int:
        """0-based index of the class called ``name`` (any case, or a ``LABEL_ALIASES``
        spelling); ``ValueError`` naming ``where`` if there is none."""
        classes = self.metainfo.get('classes')
        if not classes:
            raise ValueError(f'{type(self).__name__}: give the class names with '
                             f'metainfo=dict(classes=(...)) to read label names')
        lookup = {c.lower(): i for i, c in enumerate(classes)}
        key = name.strip().lower()
        if key not in lookup and key in self.LABEL_ALIASES:
            key = self.LABEL_ALIASES[key].lower()
        if key not in lookup:
            raise ValueError(f'{where}: unknown label {name!r}; expected one of '
                             f'{", ".join(classes)}')
        return lookup[key]

    def read_entries(self) -> List[ListEntry]:
        """Every sample the annotation lists, in list order. Subclasses override this."""
        entries = []
        for lineno, path, label in self._read_list():
            self._check_label(lineno, label)
            entries.append(ListEntry(f'{self.ann_file}:{lineno}', self._video_path(path), label))
        return entries

    # ------------------------------------------------------------ hold-out and disk checks

    def list_entries(self) -> List[ListEntry]:
        """:meth:`read_entries`, reduced to ``subset`` if one is chosen; no disk access."""
        entries = self.read_entries()
        if self.subset is None:
            return entries
        is_val = stratified_holdout([e.label for e in entries], [e.path for e in entries],
                                    self.val_ratio, self.val_seed)
        keep = self.subset == 'val'
        return [e for e, v in zip(entries, is_val) if bool(v) == keep]

    @staticmethod
    def entry_exists(entry: ListEntry) -> bool:
        """Whether the entry's frame folder (``source='frames'``), video file (``'videos'``) or
        either (None) is on disk."""
        if entry.source == 'frames':
            return osp.isdir(entry.path)
        if entry.source == 'videos':
            return osp.isfile(entry.path)
        return osp.exists(entry.path)

    @staticmethod
    def _what(source: Optional[str]) -> str:
        return {'frames': 'frame folder', 'videos': 'video file'}.get(source, 'file or folder')

    def _make_info(self, entry: ListEntry) -> dict:
        if entry.source == 'frames' or (entry.source is None and osp.isdir(entry.path)):
            return {'frame_dir': entry.path, 'label': int(entry.label)}
        return {'filename': entry.path, 'label': int(entry.label)}

    def _check_nonempty(self, data_list: List[dict]) -> List[dict]:
        if not data_list:
            part = (f" (subset={self.subset!r}, val_ratio={self.val_ratio})"
                    if self.subset else '')
            raise ValueError(f'annotation list has no samples: {self.ann_file}{part}')
        return data_list

    def load_data_list(self) -> List[dict]:
        data_list, skipped = [], []
        for entry in self.list_entries():
            if self.missing is not None and not self.entry_exists(entry):
                if self.missing == 'error':
                    raise FileNotFoundError(
                        f'{entry.where}: {self._what(entry.source)} not found: {entry.path} '
                        f"(pass missing='skip' to drop absent videos)")
                skipped.append(entry)
                continue
            data_list.append(self._make_info(entry))
        self.skipped = [e.path for e in skipped]
        if skipped:
            kinds = {e.source for e in skipped}
            what = self._what(kinds.pop() if len(kinds) == 1 else None)
            warnings.warn(f'{type(self).__name__}: skipped {len(skipped)} of '
                          f'{len(skipped) + len(data_list)} videos listed in {self.ann_file} '
                          f'whose {what} is missing (first: {skipped[0].path})')
        return self._check_nonempty(data_list)
