"""Write the subject list of MMI expression videos for MMIDataset
(:func:`est_mm.datasets.converters.write_mmi_list`).

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
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.argtypes import list_writer_parser, write_list  # noqa: E402


def parse_args(argv=None):
    parser = list_writer_parser(
        __doc__, 'Write the list file of MMI videos for MMIDataset (layout and formats below).',
        'MMI root, e.g. the "Sessions" folder: one folder per session holding <name>.avi and '
        '<name>-oao_aucs.xml')
    parser.add_argument('--labels', required=True, metavar='CSV',
                        help='CSV with rows "name,label,subject": name = video file name '
                        'without .avi, label = one of the six expressions, subject = subject id '
                        '(may be empty when the XML has it); optional header row')
    parser.add_argument('--skip-missing', action='store_true',
                        help='pass over CSV rows whose video is not under ROOT, counting them, '
                        'instead of stopping with an error')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.converters import write_mmi_list
    write_list(write_mmi_list, args.root, args.out_list, args.labels, args.skip_missing,
               args.overwrite)


if __name__ == '__main__':
    main()
