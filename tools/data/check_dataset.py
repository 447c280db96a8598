"""Check that the datasets of a config are complete on disk, before training on them.

For each chosen split the dataset of ``<split>_dataloader`` is built (pipeline left out, listed
samples absent on disk not fatal) and the tool prints the number of samples, the count per class
and, by name, every listed frame folder or video that is missing or empty, and every path listed
more than once. With ``--deep`` it also decodes every frame of every sample (``--workers N``
processes, with a progress bar), naming each corrupt, truncated or zero-frame video and each
unreadable image, and lists frames of another size than their folder's others and files the
loader ignores (macOS AppleDouble ``._*``, non-images). Exit code 1 if anything is missing,
empty or unreadable, if a duplicate meets ``duplicates='error'``, or if a dataset cannot be built
(bad line or label, list file not UTF-8, ...), else 0. The logic is
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


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Build the datasets of an est_mm/mmaction2 config and report, per split, '
        'the number of samples, the count per class and every listed frame folder or video '
        'that is missing on disk or empty, and every path listed more than once. Exit code 1 '
        'if anything is missing, empty or (with --deep) unreadable, or a dataset cannot be '
        'built, 0 otherwise. The data pipeline is not run.')
    parser.add_argument('config', help='config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'],
                        help='which <split>_dataloader datasets to check; a split the config '
                        'has no dataloader for is reported and passed over '
                        '(default: %(default)s)')
    parser.add_argument('--max-list', type=int, default=20, metavar='N',
                        help='print at most N entries of each kind per split by name, '
                        'then a count of the rest (default: %(default)s)')
    parser.add_argument('--deep', action='store_true',
                        help='also decode every frame of every sample, to find corrupt, '
                        'truncated or zero-frame videos and unreadable images, and list frames '
                        'of another size and files the loader ignores (AppleDouble ._*, '
                        'non-images); slower: reads all the data')
    parser.add_argument('--workers', type=positive_int, default=1, metavar='N',
                        help='processes decoding frames for --deep (default: %(default)s)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bars')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, e.g. '
                        'train_dataloader.dataset.data_root=/data/DFEW')
    args = parser.parse_args(argv)
    if args.max_list < 0:
        parser.error(f'--max-list must be >= 0, got {args.max_list}')
    return args


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.check import check_datasets
    return check_datasets(args.config, args.splits, args.max_list, args.deep, args.workers,
                          not args.no_progress, args.cfg_options)


if __name__ == '__main__':
    sys.exit(main())
