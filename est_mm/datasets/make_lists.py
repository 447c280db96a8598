"""Your own videos as list files: ``ROOT/<class>/<video or frame folder>`` (or a CSV
``path,label[,subject[,split]]``) checked, split stratified by class (subject-independent when
subjects are known) and written as ``classes.txt`` plus ``train.txt`` / ``val.txt`` /
``test.txt`` in the :class:`~est_mm.datasets.FERVideoDataset` format. The work behind
``tools/data/make_lists.py``; every problem raises :class:`ListError` with one line."""
import csv
import io
import os
import os.path as osp
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..utils.files import atomic_write, check_writable_dir, refuse_existing
from .fer_video_dataset import is_video_name
from .integrity import native_stderr, probe_sample, read_text

__all__ = ['SPLITS', 'CLASSES_FILE', 'ListError', 'Clip', 'ListOptions', 'scan_class_folders',
           'read_clip_csv', 'set_subjects', 'check_clips', 'split_clips', 'make_lists']

SPLITS = ('train', 'val', 'test')
CLASSES_FILE = 'classes.txt'


class ListError(ValueError):
    """Input that cannot become list files; ``str(err)`` is one line naming the file."""


class Clip(NamedTuple):
    """One video file or frame folder and what is known of it."""
    path: str  # absolute
    label: str  # class name
    where: str  # where it is listed ('csv:line'), or its path
    subject: Optional[str] = None
    split: Optional[str] = None  # given in the CSV


@dataclass(frozen=True)
class ListOptions:
    """How :func:`make_lists` splits and checks; ``tools/data/make_lists.py`` fills it."""
    ratios: Tuple[float, float, float] = (0.7, 0.15, 0.15)  # train, val, test
    seed: int = 0
    subject_regex: Optional[str] = None  # the subject from the file name (first group)
    overwrite: bool = False  # replace the lists of an existing list folder
    check_readable: bool = True  # decode the first and last frame of every clip
    progress: bool = False  # a progress bar while checking

    def __post_init__(self):
        if len(self.ratios) != 3 or min(self.ratios) <= 0:
            raise ListError(f'split ratios must be three numbers > 0 (train val test), got '
                            f'{" ".join(map(str, self.ratios))}')


def _visible(name: str) -> bool:
    return not name.startswith('.')


def scan_class_folders(root: str) -> Tuple[List[Clip], List[str]]:
    """Every video file and frame folder in ``root/<class>/`` as a :class:`Clip` labelled by its
    class folder's name, and the paths of other files there (not videos: left out).
    An empty class folder, or a root without class folders, raises :class:`ListError`."""
    if not osp.isdir(root):
        raise ListError(f'{root}: not a folder')
    classes = sorted(d for d in os.listdir(root)
                     if _visible(d) and osp.isdir(osp.join(root, d)))
    if not classes:
        raise ListError(f'{root}: no class folders (expected {root}/<class>/<video file or '
                        f'frame folder>)')
    clips, ignored = [], []
    for name in classes:
        folder = osp.join(root, name)
        found = 0
        for entry in sorted(filter(_visible, os.listdir(folder))):
            path = osp.abspath(osp.join(folder, entry))
            if osp.isdir(path) or is_video_name(entry):
                clips.append(Clip(path, name, path))
                found += 1
            else:
                ignored.append(path)
        if not found:
            raise ListError(f'{folder}: empty class folder (no video file or frame folder)')
    return clips, ignored


def _csv_rows(csv_file: str):
    """``(line number, cells)`` of the CSV's data rows (blank, ``#`` and header rows skipped)."""
    text = read_text(csv_file)
    for lineno, row in enumerate(csv.reader(io.StringIO(text, newline='')), 1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith('#'):
            continue
        if lineno == 1 and cells[0].lower() == 'path':
            continue
        yield lineno, cells


def read_clip_csv(csv_file: str) -> List[Clip]:
    """The clips of a CSV ``path,label[,subject[,split]]`` (paths relative to the CSV's folder
    or absolute; an optional first row ``path,label,...`` is a header). A missing file, a
    malformed row or a split other than train/val/test raises :class:`ListError`."""
    if not osp.isfile(csv_file):
        raise ListError(f'{csv_file}: CSV file not found')
    base = osp.dirname(osp.abspath(csv_file))
    clips = []
    for lineno, cells in _csv_rows(csv_file):
        where = f'{csv_file}:{lineno}'
        if not 2 <= len(cells) <= 4 or not cells[0] or not cells[1]:
            raise ListError(f'{where}: expected "path,label[,subject[,split]]", got '
                            f'{",".join(cells)!r}')
        cells += [''] * (4 - len(cells))
        path = osp.normpath(osp.join(base, cells[0]))
        if not osp.exists(path):
            raise ListError(f'{where}: {path} not found')
        if cells[3] and cells[3] not in SPLITS:
            raise ListError(f'{where}: split must be train, val or test, got {cells[3]!r}')
        clips.append(Clip(path, cells[1], where, cells[2] or None, cells[3] or None))
    if not clips:
        raise ListError(f'{csv_file}: no clips listed')
    given = {c.split is not None for c in clips}
    if len(given) > 1:
        first = next(c for c in clips if c.split is None)
        raise ListError(f'{first.where}: no split, but other rows give one (give it on every '
                        f'row or on none)')
    return clips


def set_subjects(clips: List[Clip], pattern: str) -> List[Clip]:
    """The clips with their subject taken from the file name by regular expression
    ``pattern`` (its first group, or the whole match); a name it does not match raises."""
    regex = re.compile(pattern)
    out = []
    for clip in clips:
        name = osp.basename(clip.path.rstrip('/\\'))
        match = regex.search(name)
        if not match:
            raise ListError(f'{clip.path}: --subject-regex {pattern!r} does not match the '
                            f'file name {name!r}')
        out.append(clip._replace(subject=match.group(1) if regex.groups else match.group(0)))
    return out


def check_clips(clips: Sequence[Clip], readable: bool = True, progress: bool = False) -> None:
    """Raise :class:`ListError` for a path listed twice (also through links), a subject in two
    given splits, or (``readable``) a clip whose first or last frame does not decode."""
    seen: Dict[str, Clip] = {}
    for clip in clips:
        real = osp.realpath(clip.path)
        if real in seen:
            raise ListError(f'{clip.where}: duplicate path {clip.path} (also listed as '
                            f'{seen[real].where})')
        seen[real] = clip
    split_of: Dict[str, Clip] = {}
    for clip in clips:
        if clip.subject is None or clip.split is None:
            continue
        other = split_of.setdefault(clip.subject, clip)
        if other.split != clip.split:
            raise ListError(f'{clip.where}: subject {clip.subject!r} is in {clip.split} and in '
                            f'{other.split} ({other.where}); a subject must be in one split')
    if readable:
        from tqdm import tqdm
        for clip in tqdm(clips, desc='checking', unit='clip', disable=not progress,
                         dynamic_ncols=True):
            with native_stderr():  # FFmpeg's and decord's own lines: the problem says it
                problem = probe_sample(clip.path)
            if problem is not None:
                listed = f' (listed at {clip.where})' if clip.where != clip.path else ''
                raise ListError(f'unreadable clip{listed}: {problem}')


def _class_shares(n: int, ratios: Sequence[float]) -> List[int]:
    """How many of a class's ``n`` clips go to each split: at least one each, the rest by
    ``ratios`` (rounded, the remainder to train)."""
    total = float(sum(ratios))
    counts = [0] + [max(1, int(np.floor(r / total * n + 0.5))) for r in ratios[1:]]
    counts[0] = n - sum(counts[1:])
    return counts


def _split_by_clip(clips: List[Clip], classes: List[str], ratios, seed: int) -> List[str]:
    """Each clip's split: per class, sorted by path, shuffled with ``seed``, cut by ratio."""
    splits = [''] * len(clips)
    for name in classes:
        members = sorted((i for i, c in enumerate(clips) if c.label == name),
                         key=lambda i: clips[i].path)
        if len(members) < len(SPLITS):
            raise ListError(f'class {name!r} has {len(members)} clip(s); a train/val/test split '
                            f'needs at least {len(SPLITS)} per class')
        counts = _class_shares(len(members), ratios)
        if counts[0] < 1:
            raise ListError(f'class {name!r} has {len(members)} clips, too few to split '
                            f'{"/".join(map(str, ratios))} with a clip in every split')
        order = np.random.RandomState(seed).permutation(len(members))
        bounds = np.cumsum(counts)
        for rank, j in enumerate(order):
            splits[members[j]] = SPLITS[int(np.searchsorted(bounds, rank, side='right'))]
    return splits


def _split_by_subject(clips: List[Clip], classes: List[str], ratios, seed: int) -> List[str]:
    """Each clip's split, whole subjects at a time: subjects in a seeded order, each to the split
    that lacks most of its classes (relative to the ratio's share), so classes stay
    stratified as far as the subjects allow."""
    per_subject: Dict[str, Counter] = {}
    for clip in clips:
        per_subject.setdefault(clip.subject, Counter())[clip.label] += 1
    totals = Counter(c.label for c in clips)
    share = np.asarray(ratios, float) / sum(ratios)
    have = {s: Counter() for s in SPLITS}
    subjects = sorted(per_subject)
    where = {}
    for k in np.random.RandomState(seed).permutation(len(subjects)):
        subject = subjects[k]
        counts = per_subject[subject]

        def lack(i):
            return sum(n * (1 - have[SPLITS[i]][c] / (share[i] * totals[c]))
                       for c, n in counts.items())
        best = max(range(len(SPLITS)), key=lambda i: (lack(i), -i))
        where[subject] = SPLITS[best]
        have[SPLITS[best]].update(counts)
    for name in classes:
        subjects_of = {c.subject for c in clips if c.label == name}
        missing = [s for s in SPLITS if not have[s][name]]
        if missing:
            raise ListError(f'class {name!r}: its {totals[name]} clip(s) come from '
                            f'{len(subjects_of)} subject(s), and the subject-independent split '
                            f'(seed {seed}) leaves none in {"/".join(missing)}; a class needs '
                            f'clips of at least {len(SPLITS)} subjects (try another --seed or '
                            f'--split)')
    return [where[c.subject] for c in clips]


def split_clips(clips: List[Clip], classes: List[str], ratios=(0.7, 0.15, 0.15),
                seed: int = 0) -> Dict[str, List[Clip]]:
    """The clips of each split (train/val/test), each sorted by path: the CSV's split where
    given; else whole subjects per split when every clip has a subject; else stratified per
    class. Raises :class:`ListError` when a class is too small for every split to get a clip."""
    if all(c.split for c in clips):
        splits = [c.split for c in clips]
        for name in SPLITS:
            if name not in splits:
                raise ListError(f'no clip is assigned to {name} in the split column')
    elif all(c.subject for c in clips):
        splits = _split_by_subject(clips, classes, ratios, seed)
    else:
        if any(c.subject for c in clips):
            first = next(c for c in clips if not c.subject)
            raise ListError(f'{first.where}: no subject, but other clips have one (give it for '
                            f'every clip or for none)')
        splits = _split_by_clip(clips, classes, ratios, seed)
    return {name: sorted((c for c, s in zip(clips, splits) if s == name), key=lambda c: c.path)
            for name in SPLITS}


def _extract(clips: List[Clip], root: str, face_dir: str, extract_options,
             log: Callable[[str], None]) -> List[Clip]:
    """The clips with each video replaced by its face-crop folder under ``face_dir``
    (:func:`~est_mm.datasets.face_extraction.extract_faces`, resumable: finished folders are
    skipped). A failed video raises; a video without a face is left out (and named)."""
    from .face_extraction import extract_faces, format_extract_summary
    videos = [c for c in clips if osp.isfile(c.path)]
    with tempfile.TemporaryDirectory() as tmp:
        list_file = osp.join(tmp, 'videos.txt')
        with open(list_file, 'w', encoding='utf-8') as f:
            f.writelines(f'{c.path}\n' for c in videos)
        summary = extract_faces([], face_dir, extract_options, list_file=list_file,
                                list_root=root, log=log)
    log(format_extract_summary(summary, extract_options.workers))
    if summary['failed']:
        raise ListError(f'face extraction failed for {len(summary["failed"])} video(s); first: '
                        f'{summary["failed"][0][1]}')
    no_face = {osp.abspath(p) for p, _ in summary['no_face']}
    for path in sorted(no_face):
        log(f'no face found, left out of the lists: {path}')
    out = []
    for clip in clips:
        if clip.path in no_face:
            continue
        if osp.isfile(clip.path):
            rel = osp.relpath(osp.splitext(clip.path)[0], root)
            name = rel if not rel.startswith(os.pardir) else osp.basename(rel)
            clip = clip._replace(path=osp.abspath(osp.join(face_dir, name)))
        out.append(clip)
    return out


def _write(out_dir: str, classes: List[str], splits: Dict[str, List[Clip]]) -> List[str]:
    """``classes.txt`` and the split lists, each written whole (atomic rename)."""
    index = {name: i for i, name in enumerate(classes)}
    written = []
    with atomic_write(osp.join(out_dir, CLASSES_FILE)) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.writelines(f'{name}\n' for name in classes)
    written.append(osp.join(out_dir, CLASSES_FILE))
    for name in SPLITS:
        path = osp.join(out_dir, f'{name}.txt')
        with atomic_write(path) as tmp:
            with open(tmp, 'w', encoding='utf-8') as f:
                f.writelines(f'{c.path} {index[c.label]}\n' for c in splits[name])
        written.append(path)
    return written


def _report(classes: List[str], splits: Dict[str, List[Clip]], log) -> None:
    """Clips per class and split, and subjects per split."""
    width = max(len(c) for c in classes + ['class'])
    log(f'{"class":<{width}}  ' + '  '.join(f'{s:>5}' for s in SPLITS))
    for name in classes:
        counts = [sum(c.label == name for c in splits[s]) for s in SPLITS]
        log(f'{name:<{width}}  ' + '  '.join(f'{n:>5}' for n in counts))
    if any(c.subject for clips in splits.values() for c in clips):
        counts = ', '.join(f'{s} {len({c.subject for c in splits[s]})}' for s in SPLITS)
        log(f'subjects per split: {counts} (no subject in two splits)')


def make_lists(out_dir: str, root: Optional[str] = None, csv_file: Optional[str] = None,
               options: ListOptions = ListOptions(), face_dir: Optional[str] = None,
               extract_options=None, log: Callable[[str], None] = print) -> List[str]:
    """Check the clips of ``root`` (class folders) or ``csv_file``, optionally cut their faces
    into ``face_dir`` first, split them and write ``out_dir/classes.txt`` (class names sorted
    by name; label i is line i) and ``out_dir/{train,val,test}.txt`` (``<absolute path>
    <label>`` lines). Nothing is written unless every check passes. Returns the written
    paths."""
    outputs = [osp.join(out_dir, CLASSES_FILE)] + [osp.join(out_dir, f'{s}.txt') for s in SPLITS]
    refuse_existing(outputs, options.overwrite)
    check_writable_dir(out_dir, create=False)
    if (root is None) == (csv_file is None):
        raise ListError('give either a folder of class folders or a CSV file')
    if face_dir is not None and root is not None and osp.abspath(face_dir).startswith(
            osp.join(osp.abspath(root), '')):
        raise ListError(f'{face_dir}: the face folder must be outside {root} (its folders would '
                        f'be read as clips of a class)')
    if root is not None:
        clips, ignored = scan_class_folders(root)
        if ignored:
            log(f'left out {len(ignored)} file(s) that are not videos (first: {ignored[0]})')
    else:
        clips = read_clip_csv(csv_file)
    if options.subject_regex:
        clips = set_subjects(clips, options.subject_regex)
    classes = sorted({c.label for c in clips})
    check_clips(clips, options.check_readable, options.progress)
    split_clips(clips, classes, options.ratios, options.seed)  # too few clips: before extracting
    if face_dir is not None:
        base = osp.abspath(root if root is not None else osp.dirname(osp.abspath(csv_file)))
        clips = _extract(clips, base, face_dir, extract_options, log)
        missing = sorted(set(classes) - {c.label for c in clips})
        if missing:
            raise ListError(f'no face found in any clip of class {missing[0]!r}')
    splits = split_clips(clips, classes, options.ratios, options.seed)
    _report(classes, splits, log)
    return _write(out_dir, classes, splits)


def progress_wanted() -> bool:
    """A progress bar only on a terminal."""
    return sys.stderr.isatty()
