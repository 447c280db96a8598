"""The subject list of MMI expression videos for MMIDataset, from the "Sessions" download
(``ROOT/<session>/<name>.avi`` with ``<name>-oao_aucs.xml``) and a user's labels CSV
(``name,label,subject``). The layout, the CSV and the list format are described for users in
``tools/data/convert_mmi.py --help``.
"""
import csv
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

from ..emotion_names import basic6_name
from ..subject_fold_dataset import write_subject_list
from ..transforms.loading import APPLEDOUBLE_PREFIX

SUBJECT_ATTRS = ('subject', 'subjectid', 'subject_id')


def read_labels(path: str) -> Dict[str, Tuple[str, str, str]]:
    """``{name: (label, subject or '', 'file:line')}`` from the labels CSV."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'labels CSV not found: {path}')
    rows = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith('#'):
                continue
            if lineno == 1 and [c.lower() for c in cells[:2]] == ['name', 'label']:
                continue
            where = f'{path}:{lineno}'
            if len(cells) not in (2, 3):
                raise ValueError(f'{where}: expected "name,label,subject", got {",".join(row)!r}')
            name, label_name, subject = (cells + [''])[:3]
            label = basic6_name(label_name)
            if label is None:
                raise ValueError(f'{where}: unknown label {label_name!r}; expected Angry, '
                                 f'Disgust, Fear, Happy, Sad or Surprise')
            if osp.splitext(name)[1].lower() == '.avi':
                name = osp.splitext(name)[0]
            if name in rows:
                raise ValueError(f'{where}: {name!r} is labelled twice (first at '
                                 f'{rows[name][2]})')
            rows[name] = (label, subject, where)
    if not rows:
        raise ValueError(f'{path}: no labelled videos')
    return rows


def xml_subject(path: str) -> Optional[str]:
    """The subject id stored in an XML file, or None (also for absent or unreadable files)."""
    if not osp.isfile(path):
        return None
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError):
        return None
    for elem in tree.iter():
        tag = elem.tag.rsplit('}', 1)[-1].lower() if isinstance(elem.tag, str) else ''
        attrs = {k.lower(): v.strip() for k, v in elem.attrib.items()}
        if tag == 'subject':
            value = attrs.get('id') or attrs.get('name') or (elem.text or '').strip()
            if value:
                return value
        for key in SUBJECT_ATTRS:
            if attrs.get(key):
                return attrs[key]
    return None


def find_videos(root: str) -> Dict[str, str]:
    """``{name: path relative to root}`` of every .avi under root (not macOS ``._*`` files)."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'MMI root not found: {root}')
    videos = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for fname in sorted(files):
            stem, ext = osp.splitext(fname)
            if ext.lower() != '.avi' or fname.startswith(APPLEDOUBLE_PREFIX):
                continue
            rel = osp.relpath(osp.join(folder, fname), root).replace(os.sep, '/')
            if stem in videos:
                raise ValueError(f'{root}: two videos named {stem!r}: {videos[stem]} and {rel}')
            videos[stem] = rel
    return videos


def collect(root: str, labels: Dict[str, Tuple[str, str, str]], skip_missing: bool = False
            ) -> Tuple[List[Tuple[str, str, str]], List[str], List[str]]:
    """``(lines, absent names, notes)``; lines are ``(video, label, subject)``."""
    videos = find_videos(root)
    lines, absent, notes = [], [], []
    for name, (label, csv_subject, where) in labels.items():
        if name not in videos:
            if skip_missing:
                absent.append(name)
                continue
            raise FileNotFoundError(f'{where}: no video {name}.avi under {root} '
                                    f'(see --skip-missing)')
        rel = videos[name]
        folder = osp.dirname(osp.join(root, rel))
        subject = (xml_subject(osp.join(folder, f'{name}-oao_aucs.xml'))
                   or xml_subject(osp.join(folder, 'session.xml')))
        if subject and csv_subject and subject != csv_subject:
            notes.append(f'{where}: subject {csv_subject!r} in the CSV, {subject!r} in the XML; '
                         f'the XML is used')
        subject = subject or csv_subject
        if not subject:
            raise ValueError(f'{where}: no subject for {name} in its XML nor in the CSV')
        if any(c.isspace() for c in subject):
            raise ValueError(f'{where}: subject {subject!r} must not contain spaces')
        lines.append((rel, label, subject))
    lines.sort(key=lambda line: line[0])
    return lines, absent, notes


def write_mmi_list(root: str, out_list: str, labels_csv: str, skip_missing: bool = False,
                   overwrite: bool = False) -> List[str]:
    """Write the list of the labelled videos under ``root`` to ``out_list``; return the lines
    to show (``note: ...`` lines, then the summary). Raises ``FileNotFoundError``,
    ``FileExistsError`` or ``ValueError`` (one line)."""
    labels = read_labels(labels_csv)
    lines, absent, notes = collect(root, labels, skip_missing)
    if not lines:
        raise ValueError(f'none of the videos in {labels_csv} is under {root}')
    write_subject_list(out_list, lines, [
        f'MMI videos under {osp.abspath(root)} (use it as data_root)',
        f'labels from {osp.abspath(labels_csv)}',
        'written by tools/data/convert_mmi.py; format: <video> <label> <subject>'
    ], overwrite=overwrite)
    subjects = len({s for _, _, s in lines})
    return [f'note: {note}' for note in notes] + [
        f'wrote {len(lines)} videos of {subjects} subjects to {out_list}'
        + (f'; {len(absent)} labelled videos not found (first: {absent[0]})' if absent else '')]
