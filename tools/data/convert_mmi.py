"""Write the subject list of MMI expression videos for MMIDataset.

Assumed layout (the MMI "Sessions" download; any depth of folders is searched)::

    ROOT/<session>/<name>.avi
    ROOT/<session>/<name>-oao_aucs.xml     action-unit annotation beside each video

MMI's XML files do not reliably carry the six-class emotion label, so labels come from a CSV
the user provides, ``--labels CSV`` with rows ``name,label,subject``:

- ``name``: the video's file name without ``.avi`` (e.g. ``S001-001``), unique under ROOT;
- ``label``: Angry, Disgust, Fear, Happy, Sad or Surprise (any case; synonyms such as
  happiness/surprised and the codes AN, DI, FE, HA, SA, SU are accepted);
- ``subject``: the subject id; may be empty when the XML gives one.

A first row ``name,label,subject`` is taken as a header. The subject id is read from the video's
``<name>-oao_aucs.xml`` or the session's ``session.xml`` if either holds one (an element named
``subject`` with an ``id`` attribute or text, or an attribute ``subject``/``subjectId``), else the
CSV's. Videos without a CSV row are not listed (MMI has many action-unit-only sessions).

Output: one ``<session>/<name>.avi <Label> <subject>`` line per labelled video, relative to ROOT,
so the dataset config needs ``data_root=ROOT``::

    dict(type='MMIDataset', ann_file='/path/mmi_list.txt', data_root=ROOT, num_folds=10,
         fold=1, split='train', pipeline=...)

Example::

    python tools/data/convert_mmi.py /data/MMI/Sessions data/mmi_list.txt --labels mmi_labels.csv
"""
import argparse
import csv
import os
import os.path as osp
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

SUBJECT_ATTRS = ('subject', 'subjectid', 'subject_id')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__,
        description='Write the list file of MMI videos for MMIDataset (layout and formats '
        'below).')
    parser.add_argument('root', help='MMI root, e.g. the "Sessions" folder: one folder per '
                        'session holding <name>.avi and <name>-oao_aucs.xml')
    parser.add_argument('out_list', help='list file to write (refused if it exists, see '
                        '--overwrite)')
    parser.add_argument('--labels', required=True, metavar='CSV',
                        help='CSV with rows "name,label,subject": name = video file name '
                        'without .avi, label = one of the six expressions, subject = subject id '
                        '(may be empty when the XML has it); optional header row')
    parser.add_argument('--skip-missing', action='store_true',
                        help='pass over CSV rows whose video is not under ROOT, counting them, '
                        'instead of stopping with an error')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_LIST if it exists')
    return parser.parse_args(argv)


def read_labels(path):
    """``{name: (label, subject or '', 'file:line')}`` from the labels CSV."""
    from est_mm.datasets import basic6_name
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


def xml_subject(path):
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


def find_videos(root):
    """``{name: path relative to root}`` of every .avi under root."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'MMI root not found: {root}')
    videos = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for fname in sorted(files):
            stem, ext = osp.splitext(fname)
            if ext.lower() != '.avi':
                continue
            rel = osp.relpath(osp.join(folder, fname), root).replace(os.sep, '/')
            if stem in videos:
                raise ValueError(f'{root}: two videos named {stem!r}: {videos[stem]} and {rel}')
            videos[stem] = rel
    return videos


def collect(root, labels, skip_missing=False):
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


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.subject_fold_dataset import write_subject_list
    try:
        labels = read_labels(args.labels)
        lines, absent, notes = collect(args.root, labels, args.skip_missing)
        if not lines:
            raise ValueError(f'none of the videos in {args.labels} is under {args.root}')
        write_subject_list(args.out_list, lines, [
            f'MMI videos under {osp.abspath(args.root)} (use it as data_root)',
            f'labels from {osp.abspath(args.labels)}',
            'written by tools/data/convert_mmi.py; format: <video> <label> <subject>'
        ], overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        sys.exit(f'error: {err}')
    for note in notes:
        print(f'note: {note}')
    subjects = len({s for _, _, s in lines})
    print(f'wrote {len(lines)} videos of {subjects} subjects to {args.out_list}'
          + (f'; {len(absent)} labelled videos not found (first: {absent[0]})' if absent else ''))


if __name__ == '__main__':
    main()
