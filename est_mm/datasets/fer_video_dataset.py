import os.path as osp
import warnings
from collections import Counter
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .emotion_names import emotion_key
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


def class_mapping(source: Sequence[str], target: Sequence[str],
                  class_map: Optional[Dict[str, Optional[str]]] = None,
                  owner: str = 'class_mapping') -> List[Optional[int]]:
    """For each source class name, the index of the target class it is (None: no counterpart).

    Names match case-insensitively and through the usual synonyms (:func:`emotion_key`:
    ``happiness`` = ``Happy``, ``NE`` = ``Neutral``). ``class_map`` (source name → target name,
    or None to drop the class) overrides the match for the names it lists; its keys and values
    match the same way, and a value that is no target class is an error.
    """
    lookup = {}
    for i, name in enumerate(target):
        key = emotion_key(name)
        if key in lookup:
            raise ValueError(f'{owner}: target classes {target[lookup[key]]!r} and {name!r} are '
                             f'the same class')
        lookup[key] = i
    overrides = {}
    for src, dst in (class_map or {}).items():
        if dst is not None and emotion_key(dst) not in lookup:
            raise ValueError(f'{owner}: class_map maps {src!r} to {dst!r}, which is not one of '
                             f'the target classes {", ".join(target)}')
        overrides[emotion_key(src)] = None if dst is None else lookup[emotion_key(dst)]
    unknown = set(overrides) - {emotion_key(n) for n in source}
    if unknown:
        raise ValueError(f'{owner}: class_map names {", ".join(sorted(unknown))}, not among the '
                         f'dataset\'s classes {", ".join(source)}')
    return [overrides[emotion_key(n)] if emotion_key(n) in overrides else
            lookup.get(emotion_key(n)) for n in source]


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
        target_classes (Sequence[str], optional): Cross-dataset testing (paper Table 11): the
            class names of the *model*, in its index order (e.g. DFEW's for a DFEW-trained model
            tested on AFEW). Each sample's label is re-indexed by name (see
            :func:`class_mapping`); samples of classes with no counterpart are dropped with one
            warning counting them per class (also in ``self.unmapped``). The dataset's metainfo
            then names the target classes (so the evaluators do) and keeps its own under
            ``source_classes``. Defaults to None (labels as listed).
        class_map (dict, optional): With ``target_classes``: explicit ``{dataset class name:
            target class name or None}`` for names that do not match by themselves (None drops
            the class). Defaults to None.
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
                 target_classes: Optional[Sequence[str]] = None,
                 class_map: Optional[Dict[str, Optional[str]]] = None,
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
        if class_map is not None and target_classes is None:
            raise ValueError(f'{owner}: class_map needs target_classes (the model\'s class '
                             f'names)')
        if target_classes is not None and (isinstance(target_classes, str)
                                           or not len(target_classes)):
            raise ValueError(f'{owner}: target_classes must be a sequence of class names, '
                             f'got {target_classes!r}')
        self.target_classes = None if target_classes is None else tuple(target_classes)
        self.class_map = dict(class_map) if class_map is not None else None
        self.unmapped: Dict[str, int] = {}  # dropped samples per class (target_classes)
        super().__init__(
            ann_file, pipeline=pipeline, data_prefix=data_prefix, num_classes=num_classes,
            **kwargs)
        self._use_target_metainfo()

    @property
    def source_classes(self) -> Optional[Tuple[str, ...]]:
        """The class names the list's labels refer to: the metainfo's, or with
        ``target_classes`` the dataset's own (``metainfo['source_classes']``)."""
        classes = self._metainfo.get('source_classes') or self._metainfo.get('classes')
        return tuple(classes) if classes else None

    @property
    def known_num_classes(self) -> Optional[int]:
        """``num_classes`` if given, else the number of the list's class names."""
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = self.source_classes
        return len(classes) if classes else None

    def _use_target_metainfo(self) -> None:
        """With ``target_classes``: metainfo ``classes`` = the target names, the dataset's own
        names kept as ``source_classes``."""
        if self.target_classes is None or self._metainfo.get('source_classes'):
            return
        source = self.source_classes
        if not source:
            raise ValueError(f'{type(self).__name__}: target_classes needs the dataset\'s own '
                             f'class names (metainfo=dict(classes=(...)))')
        self._metainfo['source_classes'] = source
        self._metainfo['classes'] = self.target_classes

    def map_to_target(self, entries: List[ListEntry]) -> List[ListEntry]:
        """Re-index the entries' labels onto ``target_classes``; drop (and count) the rest."""
        owner = type(self).__name__
        source = self.source_classes
        if not source:
            raise ValueError(f'{owner}: target_classes needs the dataset\'s own class names '
                             f'(metainfo=dict(classes=(...)))')
        mapping = class_mapping(source, self.target_classes, self.class_map, owner)
        kept, dropped = [], Counter()
        for e in entries:
            new = mapping[e.label]
            if new is None:
                dropped[source[e.label]] += 1
            else:
                kept.append(e._replace(label=new))
        self.unmapped = dict(dropped)
        if dropped:
            counts = ', '.join(f'{name}: {n}' for name, n in dropped.items())
            warnings.warn(f'{owner}: dropped {sum(dropped.values())} of {len(entries)} samples '
                          f'whose class has no counterpart among the target classes '
                          f'{", ".join(self.target_classes)} ({counts})')
        return kept

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
        classes = self.source_classes
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
        entries = self.list_entries()
        if self.target_classes is not None:
            entries = self.map_to_target(entries)
        for entry in entries:
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
        self._use_target_metainfo()
        return self._check_nonempty(data_list)
