"""Write the subject list of BU-4DFE (the EST paper's "BU-3DFE" sequences) for BU3DFEDataset.

Assumed layout of the release (2D texture frames; other files are ignored)::

    ROOT/<subject>/<expression>/<frame>.jpg     e.g. ROOT/F001/Angry/000.jpg ... 099.jpg

``<subject>`` is any folder (F001 ... F058, M001 ... M043 in the release); ``<expression>`` is one
of Angry, Disgust, Fear, Happy, Sad, Surprise (any case; synonyms such as Happiness and the
BU-3DFE codes AN, DI, FE, HA, SA, SU are accepted). Frames are .jpg/.jpeg/.png/.bmp files, ordered
by the trailing number of their names when read.

Output: one ``<subject>/<expression> <Label> <subject>`` line per sequence, paths relative to
ROOT, so the dataset config needs ``data_root=ROOT``::

    dict(type='BU3DFEDataset', ann_file='/path/bu4dfe_list.txt', data_root=ROOT,
         num_folds=10, fold=1, split='train', pipeline=...)

Example::

    python tools/data/convert_bu4dfe.py /data/BU4DFE data/bu4dfe_list.txt
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__,
        description='Write the list file of BU-4DFE sequences for BU3DFEDataset (layout '
        'and format below).')
    parser.add_argument('root', help='BU-4DFE root: one folder per subject (F001, M001, ...), '
                        'each with one folder of frames per expression')
    parser.add_argument('out_list', help='list file to write (refused if it exists, see '
                        '--overwrite)')
    parser.add_argument('--skip-unknown', action='store_true',
                        help='pass over expression folders whose name is not one of the six '
                        'expressions (e.g. Neutral), counting them, instead of stopping with '
                        'an error')
    parser.add_argument('--skip-empty', action='store_true',
                        help='pass over expression folders without any image, counting them, '
                        'instead of stopping with an error')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT_LIST if it exists')
    return parser.parse_args(argv)


def collect(root, skip_unknown=False, skip_empty=False):
    """``(lines, skipped)``: ``(folder relative to root, label, subject)`` per sequence, and the
    folders passed over."""
    from est_mm.datasets import basic6_name
    from est_mm.datasets.subject_fold_dataset import natural_key
    from est_mm.datasets.transforms.loading import IMAGE_EXTENSIONS
    if not osp.isdir(root):
        raise FileNotFoundError(f'BU-4DFE root not found: {root}')
    lines, skipped = [], []
    for subject in sorted(os.listdir(root), key=natural_key):
        subject_dir = osp.join(root, subject)
        if subject.startswith('.') or not osp.isdir(subject_dir):
            continue
        if any(c.isspace() for c in subject):
            raise ValueError(f'{subject_dir}: subject folder names must not contain spaces')
        for expression in sorted(os.listdir(subject_dir), key=natural_key):
            folder = osp.join(subject_dir, expression)
            if expression.startswith('.') or not osp.isdir(folder):
                continue
            label = basic6_name(expression)
            if label is None:
                if skip_unknown:
                    skipped.append(folder)
                    continue
                raise ValueError(f'{folder}: unknown expression folder {expression!r} '
                                 f'(expected Angry, Disgust, Fear, Happy, Sad, Surprise or '
                                 f'AN, DI, FE, HA, SA, SU; see --skip-unknown)')
            if not any(n.lower().endswith(IMAGE_EXTENSIONS) for n in os.listdir(folder)):
                if skip_empty:
                    skipped.append(folder)
                    continue
                raise ValueError(f'{folder}: no {"/".join(IMAGE_EXTENSIONS)} frames '
                                 f'(see --skip-empty)')
            lines.append((f'{subject}/{expression}', label, subject))
    if not lines:
        raise ValueError(f'{root}: no expression sequences found in the layout '
                         f'<subject>/<expression>/<frames>')
    return lines, skipped


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.subject_fold_dataset import write_subject_list
    try:
        lines, skipped = collect(args.root, args.skip_unknown, args.skip_empty)
        write_subject_list(args.out_list, lines, [
            f'BU-4DFE sequences under {osp.abspath(args.root)} (use it as data_root)',
            'written by tools/data/convert_bu4dfe.py; format: <frame folder> <label> <subject>'
        ], overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        sys.exit(f'error: {err}')
    subjects = len({s for _, _, s in lines})
    print(f'wrote {len(lines)} sequences of {subjects} subjects to {args.out_list}'
          + (f'; passed over {len(skipped)} folders (first: {skipped[0]})' if skipped else ''))


if __name__ == '__main__':
    main()
