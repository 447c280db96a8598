"""Write a small synthetic expression-video dataset in the official DFEW layout.

Example (from the repository root)::

    python tools/data/make_toy_dataset.py data/toy_dfew
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a synthetic facial-expression video dataset in the official DFEW '
        'layout: frame folders OUT/Clip/clip_224x224/<5-digit id>/1.jpg..N.jpg (unpadded frame '
        'names) and split files OUT/EmoLabel_DataSplit/{train,test}(single-labeled)/set_<k>.csv '
        'for folds k=1..5 (header "video_name,label", labels 1..7: Happy, Sad, Neutral, Angry, '
        'Surprise, Disgust, Fear). Each video is a cartoon face moving from neutral to a '
        'class-specific peak expression and back; identity, scale, position and noise vary per '
        'video. Read it with DFEWDataset(data_root=OUT, ...).')
    parser.add_argument('out_dir', help='output folder; must be empty or absent '
                        '(see --overwrite)')
    parser.add_argument('--train-per-class', type=int, default=16,
                        help='training videos per class in every fold (default: %(default)s)')
    parser.add_argument('--test-per-class', type=int, default=8,
                        help='test videos per class in every fold; the 5 folds rotate which '
                        'videos are the test part, so there are 7*(train+test) videos in all '
                        '(default: %(default)s)')
    parser.add_argument('--frame-size', type=int, default=64,
                        help='frame width and height in pixels, at least 16 '
                        '(default: %(default)s)')
    parser.add_argument('--min-frames', type=int, default=24,
                        help='fewest frames per video, at least 1 (default: %(default)s)')
    parser.add_argument('--max-frames', type=int, default=48,
                        help='most frames per video; lengths are uniform in '
                        '[min, max] (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed; the same seed writes the same dataset '
                        '(default: %(default)s)')
    parser.add_argument('--jpeg-quality', type=int, default=90,
                        help='JPEG quality 0..100 (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a toy dataset this tool wrote before in OUT_DIR (a folder '
                        'holding anything else is never touched)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from est_mm.datasets.toy import generate_toy_dataset
    try:
        s = generate_toy_dataset(
            args.out_dir,
            train_per_class=args.train_per_class,
            test_per_class=args.test_per_class,
            frame_size=args.frame_size,
            min_frames=args.min_frames,
            max_frames=args.max_frames,
            seed=args.seed,
            jpeg_quality=args.jpeg_quality,
            overwrite=args.overwrite,
            progress=not args.no_progress)
    except (ValueError, FileExistsError) as err:
        sys.exit(f'error: {err}')
    print(f"wrote {s['num_videos']} videos ({s['num_frames']} frames, "
          f"{s['frame_size']}x{s['frame_size']}) to {s['out_dir']}; each of 5 folds: "
          f"{s['train_per_fold']} train / {s['test_per_fold']} test")


if __name__ == '__main__':
    main()
