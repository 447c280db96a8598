"""Write the subject list of BU-4DFE (the EST paper's "BU-3DFE" sequences) for BU3DFEDataset
(:func:`est_mm.datasets.converters.write_bu4dfe_list`).

Assumed layout of the release (2D texture frames; other files are ignored)::

    ROOT/<subject>/<expression>/<frame>.jpg     e.g. ROOT/F001/Angry/000.jpg ... 099.jpg

``<subject>`` is any folder (F001 ... F058, M001 ... M043 in the release); ``<expression>`` is one
of Angry, Disgust, Fear, Happy, Sad, Surprise (any case; synonyms such as Happiness and the
BU-3DFE codes AN, DI, FE, HA, SA, SU are accepted). Frames are .jpg/.jpeg/.png/.bmp files, ordered
by the trailing number of their names when read (macOS ``._*`` files are no frames).

Output: one ``<subject>/<expression> <Label> <subject>`` line per sequence, paths relative to
ROOT, so the dataset config needs ``data_root=ROOT``::

    dict(type='BU3DFEDataset', ann_file='/path/bu4dfe_list.txt', data_root=ROOT,
         num_folds=10, fold=1, split='train', pipeline=...)

Example::

    python tools/data/convert_bu4dfe.py /data/BU4DFE data/bu4dfe_list.txt
"""
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.argtypes import list_writer_parser, write_list  # noqa: E402


def parse_args(argv=None):
    parser = list_writer_parser(
        __doc__, 'Write the list file of BU-4DFE sequences for BU3DFEDataset (layout and format '
        'below).', 'BU-4DFE root: one folder per subject (F001, M001, ...), each with one folder '
        'of frames per expression')
    parser.add_argument('--skip-unknown', action='store_true',
                        help='pass over expression folders whose name is not one of the six '
                        'expressions (e.g. Neutral), counting them, instead of stopping with '
                        'an error')
    parser.add_argument('--skip-empty', action='store_true',
                        help='pass over expression folders without any image, counting them, '
                        'instead of stopping with an error')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.converters import write_bu4dfe_list
    write_list(write_bu4dfe_list, args.root, args.out_list, args.skip_unknown, args.skip_empty,
               args.overwrite)


if __name__ == '__main__':
    main()
