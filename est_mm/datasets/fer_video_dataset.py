import io
import logging
import os
import os.path as osp
import sys
import time
import warnings
from collections import Counter
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from ..utils.classes_file import classes_file_path, read_classes_file
from .emotion_names import emotion_key
from .holdout import check_holdout_args, stratified_holdout
from .integrity import (BAD_SAMPLE_POLICIES, DUPLICATE_POLICIES, BadSampleError, Duplicate,
                        describe_failure, find_duplicates, printable, probe_sample,
                        read_text)
from .transforms.loading import APPLEDOUBLE_PREFIX

SOURCES = ('frames', 'videos')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mpg', '.mpeg', '.m4v', '.wmv',
                    '.flv', '.3gp', '.ts', '.mts', '.m2ts', '.ogv', '.vob')


def is_video_name(name: str) -> bool:
    """Whether a file called ``name`` is a video: a :data:`VIDEO_EXTENSIONS` extension (any
    case), and not a macOS AppleDouble ``._*`` file."""
    return (osp.splitext(name)[1].lower() in VIDEO_EXTENSIONS
            and not osp.basename(name).startswith(APPLEDOUBLE_PREFIX))


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
        duplicates (str): A path listed more than once in the list: ``'warn'`` keeps every
            listing with one warning naming the first repeat (file:line) and counting them,
            ``'drop'`` keeps the first listing only (same warning), ``'error'`` raises naming the
            first repeat. All repeats are in ``self.duplicates``. Defaults to ``'warn'``.
        on_bad_sample (str): A sample that fails to load (corrupt, truncated or zero-frame video,
            unreadable image, folder without images): ``'error'`` raises a
            :class:`~est_mm.datasets.integrity.BadSampleError` whose one-line message names the
            file and the problem; ``'skip'`` logs one warning line per bad file and loads another
            random sample instead (mmengine's refetch; training only). Skipped files are in
            ``self.bad_samples`` (path → problem) *of the process that loaded them*: with
            DataLoader workers that is the worker, so the warning lines are the record. In
            ``test_mode`` a sample is never replaced at load time (it would count twice in the
            metric): ``'skip'`` turns ``deep_check`` on instead. Defaults to ``'error'``.
        deep_check (bool): When the data list is built, open every sample and decode its first
            and last frame (:func:`~est_mm.datasets.integrity.probe_sample`;
            ``tools/data/check_dataset.py --deep`` decodes every frame). Unreadable samples follow ``on_bad_sample``:
            ``'error'`` raises naming the first and counting them, ``'skip'`` drops them with one
            warning (also in ``self.bad_samples``). Costs two image or video reads per sample in
            every process that builds the dataset. Defaults to False.
        encoding (str): Text encoding of the list/CSV file (a UTF-8 byte-order mark is dropped).
            Bytes that do not decode raise a one-line error naming the file, line and byte
            offset. Defaults to ``'utf-8'``.
        encoding_errors (str): Python's decoding error handler for the list file:
            ``'surrogateescape'`` keeps undecodable bytes as Python spells undecodable file
            names, so a listed non-UTF-8 name matches the same bytes on disk.
            Defaults to ``'strict'``.
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
                 duplicates: str = 'warn',
                 on_bad_sample: str = 'error',
                 deep_check: bool = False,
                 encoding: str = 'utf-8',
                 encoding_errors: str = 'strict',
                 classes_file: Optional[str] = None,
                 **kwargs) -> None:
        owner = type(self).__name__
        if classes_file is not None:
            kwargs['metainfo'] = self._classes_from_file(classes_file, kwargs)
        if missing not in (None, 'error', 'skip'):
            raise ValueError(f"{owner}: missing must be 'error' or 'skip' (or None: no check), "
                             f'got {missing!r}')
        check_choice(owner, 'duplicates', duplicates, DUPLICATE_POLICIES)
        check_choice(owner, 'on_bad_sample', on_bad_sample, BAD_SAMPLE_POLICIES)
        if not isinstance(deep_check, bool):
            raise ValueError(f'{owner}: deep_check must be True or False, got {deep_check!r}')
        self.duplicates_policy = duplicates
        self.on_bad_sample = on_bad_sample
        self.deep_check = bool(deep_check)
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self.duplicates: List[Duplicate] = []  # repeated listings found at the last read
        self.bad_samples: Dict[str, str] = {}  # path -> problem, skipped in this process
        self._bad_in_a_row = 0
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

    @staticmethod
    def _classes_from_file(classes_file: str, kwargs: dict) -> dict:
        """``metainfo`` with the classes of ``classes_file`` (see
        :func:`~est_mm.utils.classes_file.read_classes_file`)."""
        path = classes_file_path(dict(classes_file=classes_file,
                                      data_root=kwargs.get('data_root')))
        classes = list(read_classes_file(path))
        metainfo = dict(kwargs.get('metainfo') or {})
        given = metainfo.get('classes')
        if given and [str(c) for c in given] != classes:
            raise ValueError(f'{path} names the classes {", ".join(classes)}, but '
                             f'metainfo.classes names {", ".join(map(str, given))}')
        return dict(metainfo, classes=classes)

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

    def read_ann_text(self) -> str:
        """The text of the list/CSV file in ``encoding``; bytes that do not decode raise one
        line naming the file, line and byte offset (see
        :func:`~est_mm.datasets.integrity.read_text`)."""
        return read_text(self.ann_file, self.encoding, self.encoding_errors)

    def _list_lines(self):
        """``(line number, stripped line)`` of the list file, skipping blanks and ``#`` lines."""
        for lineno, line in enumerate(io.StringIO(self.read_ann_text(), newline=None), 1):
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

    def handle_duplicates(self, entries: List[ListEntry]) -> List[ListEntry]:
        """Apply ``duplicates`` to paths listed more than once; record them in
        ``self.duplicates``."""
        self.duplicates = find_duplicates(entries)
        if not self.duplicates:
            return entries
        first = self.duplicates[0]
        conflict = sum(not d.same_label for d in self.duplicates)
        labels = f', {conflict} with another label' if conflict else ''
        what = (f'{first.where}: {first.path} is listed again (first at {first.first}'
                f'{"" if first.same_label else ", with another label"})')
        if self.duplicates_policy == 'error':
            raise ValueError(f"{what}; pass duplicates='warn' to keep every listing or 'drop' "
                             f'to keep the first')
        action = ("kept every listing; duplicates='drop' keeps the first only"
                  if self.duplicates_policy == 'warn' else 'kept the first listing only')
        warnings.warn(f'{type(self).__name__}: {what}; {len(self.duplicates)} repeated '
                      f'listing(s) in {self.ann_file}{labels}: {action}')
        if self.duplicates_policy == 'drop':
            repeats = {d.where for d in self.duplicates}
            entries = [e for e in entries if e.where not in repeats]
        return entries

    def list_entries(self) -> List[ListEntry]:
        """:meth:`read_entries` after the ``duplicates`` policy, reduced to ``subset`` if one is
        chosen; no disk access."""
        entries = self.handle_duplicates(self.read_entries())
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
        if self.deep_check or (self.test_mode and self.on_bad_sample == 'skip'):
            data_list = self._deep_check(data_list)
        self._use_target_metainfo()
        return self._check_nonempty(data_list)

    # ------------------------------------------------------------ unreadable samples

    @staticmethod
    def _info_path(info: dict) -> str:
        return info.get('frame_dir') or info.get('filename') or '<unnamed sample>'

    def _deep_check(self, data_list: List[dict]) -> List[dict]:
        """Decode the first and last frame of every sample; apply ``on_bad_sample`` to the
        unreadable ones."""
        owner = type(self).__name__
        began = time.time()
        print_log(printable(f'{owner}: deep check of the {len(data_list)} samples of '
                            f'{self.ann_file} (first and last frame of each)...'),
                  logger='current')
        kept, bad = [], {}
        for info in data_list:
            source = 'frames' if 'frame_dir' in info else 'videos'
            problem = probe_sample(self._info_path(info), source)
            if problem is None:
                kept.append(info)
            else:
                bad[self._info_path(info)] = problem
        print_log(f'{owner}: deep check done in {time.time() - began:.1f} s: {len(bad)} of '
                  f'{len(data_list)} samples unreadable', logger='current')
        if bad and self.on_bad_sample == 'error':
            raise BadSampleError(
                f'{next(iter(bad.values()))} ({len(bad)} of {len(data_list)} samples of '
                f"{self.ann_file} unreadable; tools/data/check_dataset.py --deep lists them, "
                f"on_bad_sample='skip' drops them)")
        if bad:
            self.bad_samples.update(bad)
            warnings.warn(f'{owner}: dropped {len(bad)} of {len(data_list)} samples of '
                          f'{self.ann_file} that cannot be read (first: '
                          f'{next(iter(bad.values()))})')
        return kept

    def _warn_bad_sample(self, path: str, problem: str) -> None:
        """One warning line per bad file and process: in the log (rank 0) or on stderr."""
        if path in self.bad_samples:
            return
        self.bad_samples[path] = problem
        message = printable(f"{type(self).__name__}: skipped a sample that cannot be loaded "
                            f"(on_bad_sample='skip', {len(self.bad_samples)} so far in process "
                            f'{os.getpid()}): {problem}')
        if int(os.environ.get('RANK', 0)) == 0:
            print_log(message, logger='current', level=logging.WARNING)
        else:  # mmengine shows only errors of the other ranks
            print(f'WARNING rank {os.environ["RANK"]}: {message}', file=sys.stderr, flush=True)

    def prepare_data(self, idx) -> Any:
        """The pipeline's output for sample ``idx``, or, when it fails, a one-line
        :class:`BadSampleError` (``on_bad_sample='error'`` or ``test_mode``) or None, which
        makes mmengine load another random sample (``'skip'``)."""
        try:
            data = super().prepare_data(idx)
        except Exception as err:
            path = self._info_path(self.get_data_info(idx))
            problem = describe_failure(path, err)
            if self.on_bad_sample == 'error':
                raise BadSampleError(f"{problem} (on_bad_sample='skip' skips such samples in "
                                     f'training; tools/data/check_dataset.py --deep finds them '
                                     f'all)') from err
            if self.test_mode:
                raise BadSampleError(f'{problem} (test samples are not replaced at load time; '
                                     f'they are dropped at start-up by the deep check)') from err
            self._warn_bad_sample(path, problem)
            self._bad_in_a_row += 1
            limit = min(self.max_refetch, 100)
            if self._bad_in_a_row >= limit:
                raise BadSampleError(f'{self._bad_in_a_row} samples in a row failed to load, so '
                                     f'the data or the pipeline is wrong, not one clip; last: '
                                     f'{problem}') from err
            return None
        self._bad_in_a_row = 0
        return data
