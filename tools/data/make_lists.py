"""Turn your own videos into the list files and class names a config reads.

Examples (from the repository root)::

    python tools/data/make_lists.py my_videos/ --out data/my_lists
    python tools/data/make_lists.py my_videos/ --out data/my_lists --subject-regex "^(P\\d+)_"
    python tools/data/make_lists.py --csv my_videos/labels.csv --out data/my_lists
    python tools/data/make_lists.py my_videos/ --out data/my_lists --extract-faces data/my_faces
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.argtypes import add_detector_option, number  # noqa: E402

DESCRIPTION = """\
Input: ROOT/<class>/<video file or frame folder> (the class is the folder's name; files that
are not videos are left out and counted), or --csv FILE with rows path,label[,subject[,split]]
(paths relative to the CSV's folder or absolute; an optional header row path,label,...;
split is train, val or test, on every row or on none).

Output, in OUT_DIR:
  classes.txt                   the class names, one per line, SORTED BY NAME; the label of a
                                clip is the 0-based line number of its class
  train.txt, val.txt, test.txt  one "<absolute path> <label>" line per clip (FERVideoDataset's
                                list format)

Split: stratified by class (every class in every split, the --split shares rounded, at least
one clip each), seeded by --seed (the same clips and seed give the same lists). With subjects
(the CSV's third column, or --subject-regex on the file or folder name) the split is
subject-independent: all clips of a person go to one split (a person may appear in several
classes), and the subjects per split are printed. A CSV split column is used as given; a
subject in two of its splits is refused.

Checks (each failure is one line, exit code 1, and no list is written): an empty class folder,
an unreadable clip (its first and last frame are decoded as training would), a path listed
twice, a subject in two given splits, a class with too few clips (or subjects) to put one in
every split, existing lists in OUT_DIR without --overwrite.

--extract-faces FACE_DIR first cuts the main face of every video into FACE_DIR/<class>/<name>/
(the code of tools/data/extract_faces.py, same defaults; resumable: finished folders are
skipped on a rerun) and the lists point to those folders. Videos in which no face is found are
named and left out; a video that fails is an error.
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', nargs='?', metavar='ROOT',
                        help='folder of class folders, each holding video files or frame '
                        'folders')
    parser.add_argument('--csv', metavar='FILE',
                        help='instead of ROOT: a CSV with rows path,label[,subject[,split]]')
    parser.add_argument('--out', required=True, metavar='OUT_DIR',
                        help='folder for classes.txt, train.txt, val.txt, test.txt')
    parser.add_argument('--split', type=number(float, 0, strict=True), nargs=3,
                        default=[0.7, 0.15, 0.15], metavar=('TRAIN', 'VAL', 'TEST'),
                        help='shares of each class in train, val and test (normalised to sum '
                        'to 1) (default: 0.7 0.15 0.15)')
    parser.add_argument('--seed', type=number(int, 0), default=0,
                        help='seed of the split shuffle (default: %(default)s)')
    parser.add_argument('--subject-regex', metavar='REGEX',
                        help='the subject of a clip: the first group (or whole match) of this '
                        'regular expression searched in its file or folder name, e.g. '
                        '"^(P\\d+)_" for P07_smile.mp4; makes the split subject-independent')
    parser.add_argument('--extract-faces', metavar='FACE_DIR',
                        help='cut face crops of every video into FACE_DIR first (resumable) '
                        'and list those frame folders')
    add_detector_option(parser, help='with --extract-faces: the face detector '
                        '(default: %(default)s)')
    parser.add_argument('--workers', type=number(int, 1), default=1,
                        help='with --extract-faces: parallel processes (default: %(default)s)')
    parser.add_argument('--no-check', action='store_true',
                        help='do not decode the first and last frame of every clip')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the lists of an existing OUT_DIR')
    args = parser.parse_args(argv)
    if (args.root is None) == (args.csv is None):
        parser.error('give either ROOT or --csv FILE')
    if args.subject_regex is not None:
        import re
        try:
            re.compile(args.subject_regex)
        except re.error as err:
            parser.error(f'argument --subject-regex: not a regular expression ({err})')
    return args


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.make_lists import ListError, ListOptions, make_lists, progress_wanted
    progress = progress_wanted()
    try:
        options = ListOptions(ratios=tuple(args.split), seed=args.seed,
                              subject_regex=args.subject_regex, overwrite=args.overwrite,
                              check_readable=not args.no_check, progress=progress)
        extract = None
        if args.extract_faces:
            from est_mm.datasets.face_extraction import ExtractOptions
            extract = ExtractOptions(detector=args.detector, workers=args.workers,
                                     progress=progress)
        written = make_lists(args.out, args.root, args.csv, options, args.extract_faces,
                             extract)
    except KeyboardInterrupt:
        print('\ninterrupted: no list was written (finished face folders are kept; run the '
              'same command again to resume)', file=sys.stderr)
        sys.exit(130)
    except (ListError, OSError) as err:
        sys.exit(f'error: {err}')
    print('wrote ' + ', '.join(written))


if __name__ == '__main__':
    main()
