"""t-SNE of EST's emotion feature T (decoder output, ESTHead.encode) on a dataset split, coloured
by class (paper Fig. 12)."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import add_cfg_options, load_tool_config, number  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Plot a t-SNE of the emotion feature T that the EST decoder produces for '
        'every clip of a split (test pipeline, no augmentation), coloured by true class; '
        'misclassified clips are drawn as crosses (paper Fig. 12).')
    parser.add_argument('config', help='config file, e.g. configs/est_r18_dfew.py')
    parser.add_argument('checkpoint', help='checkpoint file (.pth) of that config')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'],
                        help='which dataloader\'s dataset to embed (read with the test '
                        'pipeline; default: test)')
    parser.add_argument('--max-samples', type=number(int, 1), default=1000,
                        help='embed a random subset of at most this many clips (exact t-SNE '
                        'is O(N²); default: 1000)')
    parser.add_argument('--perplexity', type=number(float, 0, strict=True), default=30.0,
                        help='t-SNE perplexity, capped at (N-1)/3 (default: 30)')
    parser.add_argument('--iters', type=number(int, 1), default=1000,
                        help='t-SNE gradient steps (default: 1000)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the subset and the t-SNE start (default: 0)')
    parser.add_argument('--batch-size', type=int, default=8,
                        help='clips per forward pass (default: 8)')
    parser.add_argument('--num-workers', type=int, default=0,
                        help='data loading worker processes (default: 0)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda (default: cpu)')
    parser.add_argument('--features-out', metavar='NPZ',
                        help='also save T, logits, labels, predictions, sample indices and '
                        'the embedding to this .npz file')
    add_cfg_options(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    load_tool_config(args, out_files=[args.out, args.features_out])  # one line if they cannot work
    from est_mm.analysis.tsne import TsneOptions, tsne_figure
    from est_mm.inference_spec import SpecMismatchError
    from est_mm.utils import CheckpointError
    options = TsneOptions(split=args.split, max_samples=args.max_samples,
                          batch_size=args.batch_size, perplexity=args.perplexity,
                          iters=args.iters, seed=args.seed, cfg_options=args.cfg_options,
                          device=args.device, num_workers=args.num_workers,
                          features_out=args.features_out)
    try:
        info = tsne_figure(args.config, args.checkpoint, args.out, options)
    except (CheckpointError, SpecMismatchError) as err:  # one line naming the file
        raise SystemExit(str(err))
    print(f"wrote {info['out']}: {info['num_samples']} clips, accuracy "
          f"{100 * info['accuracy']:.1f} %")


if __name__ == '__main__':
    main()
