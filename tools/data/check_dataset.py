"""Check that the datasets of a config are complete on disk, before training on them.

For each chosen split the dataset of ``<split>_dataloader`` is built (pipeline left out, listed
samples absent on disk not fatal) and the tool prints the number of samples, the count per class
and, by name, every listed frame folder or video that is missing or empty, and every path listed
more than once. With ``--deep`` it also decodes every frame of every sample (``--workers N``
processes; a progress bar on a terminal, or always with ``--progress``), naming each corrupt,
truncated or zero-frame video and each unreadable or damaged image (a truncated JPEG or PNG,
corrupt JPEG data, a bad PNG chunk CRC: libjpeg's and libpng's warnings become part of the line
that names the file), and lists frames of another size than their folder's others and files the
loader ignores (macOS AppleDouble ``._*``, non-images). Exit code 1 if anything is missing,
empty, unreadable or damaged, if a duplicate meets ``duplicates='error'``, if a dataset cannot
be built (bad line or label, list file not UTF-8, ...), or if the config or a ``--cfg-options``
entry cannot work (one line), else 0. The logic is
:func:`est_mm.datasets.check.check_datasets`.

Example (from the repository root)::

    python tools/data/make_toy_dataset.py data/toy_dfew
    python tools/data/check_dataset.py configs/est_r18_toy.py --deep --workers 4
    python tools/data/check_dataset.py configs/est_r18_dfew.py --splits train test \\
        --cfg-options train_dataloader.dataset.data_root=/data/DFEW \\
        test_dataloader.dataset.data_root=/data/DFEW
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.argtypes import add_cfg_options, number  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Build the datasets of an est_mm/mmaction2 config and report, per split, '
        'the number of samples, the count per class and every listed frame folder or video '
        'that is missing on disk or empty, and every path listed more than once. Exit code 1 '
        'if anything is missing, empty or (with --deep) unreadable or damaged, or a dataset '
        'cannot be built, 0 otherwise. The data pipeline is not run.')
    parser.add_argument('config', help='config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'],
                        help='which <split>_dataloader datasets to check; a split the config '
                        'has no dataloader for is reported and passed over '
                        '(default: %(default)s)')
    parser.add_argument('--max-list', type=number(int, 0), default=20, metavar='N',
                        help='print at most N entries of each kind per split by name, '
                        'then a count of the rest (default: %(default)s)')
    parser.add_argument('--deep', action='store_true',
                        help='also decode every frame of every sample strictly, to find '
                        'corrupt, truncated or zero-frame videos and unreadable or damaged '
                        'images (truncated JPEG/PNG, corrupt JPEG data, bad PNG CRC), and list '
                        'frames of another size and files the loader ignores (AppleDouble ._*, '
                        'non-images); slower: reads all the data')
    parser.add_argument('--workers', type=number(int, 1), default=1, metavar='N',
                        help='processes decoding frames for --deep (default: %(default)s)')
    bars = parser.add_mutually_exclusive_group()
    bars.add_argument('--progress', action='store_true', default=None,
                      help='show the progress bars even when stderr is not a terminal '
                      '(default: only on a terminal)')
    bars.add_argument('--no-progress', dest='progress', action='store_false',
                      help='hide the progress bars')
    add_cfg_options(parser, 'train_dataloader.dataset.data_root=/data/DFEW')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.check import check_datasets
    from est_mm.utils.config import ConfigError
    try:
        return check_datasets(args.config, args.splits, args.max_list, args.deep, args.workers,
                              args.progress, args.cfg_options)
    except ConfigError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    sys.exit(main())
