"""EST vs a backbone-only TSN baseline (training step, inference, peak memory) on the same frames
and batch, and data loading + snippet sampling time per clip from frame folders and videos."""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.argtypes import add_cfg_options, load_tool_config, cpu_defaults  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Benchmark EST against a TSN baseline with the same backbone (average of the '
        'per-frame features + a linear classifier) on the same clips: training step (forward, '
        'backward, Adam step), inference, peak memory (one subprocess per model), and the test '
        'pipeline\'s loading + snippet sampling time per clip on generated JPEG folders and MP4 '
        'files. Prints the machine, a table and the ratios EST/TSN and loading/forward.')
    parser.add_argument('--config', default='configs/est_r18_dfew.py',
                        help='EST config; the TSN baseline takes its backbone, class count and '
                        'data preprocessor (default: configs/est_r18_dfew.py)')
    parser.add_argument('--frame-size', type=int, default=112,
                        help='frame side S of the S×S inputs and generated clips (default: 112, '
                        'to keep a 2-core run short; 224 is the paper\'s)')
    parser.add_argument('--batch', type=int, default=2,
                        help='clips per step, same for both models; at least 2 (the SSOP '
                        'branch\'s BatchNorm needs 2 in training; default: 2, the paper trains '
                        'with 8)')
    parser.add_argument('--iters', type=int, default=5,
                        help='timed repetitions per model and measurement; the best (used for '
                        'the ratios) and the median are reported (default: 5)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed repetitions before them (default: 1)')
    parser.add_argument('--device', default='cpu',
                        help='cpu or cuda[:i] for the model timings and memory (default: cpu); '
                        'data loading always runs on the CPU')
    parser.add_argument('--amp', action='store_true',
                        help='float16 autocast + GradScaler for both models (CUDA only)')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory subprocesses (saves ~4 model builds)')
    parser.add_argument('--no-loading', action='store_true',
                        help='skip the data-loading measurement')
    parser.add_argument('--num-clips', type=int, default=3,
                        help='generated clips per source type for the loading measurement '
                        '(default: 3)')
    parser.add_argument('--clip-frames', type=int, default=90,
                        help='frames per generated clip (default: 90)')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s choice, one per core). On a '
                        'CPU shared with other jobs, 1 avoids OpenMP stalls that hit models '
                        'with many small ops (EST\'s head, Adam over 175 tensors) hardest')
    parser.add_argument('--compete', type=int, default=0, metavar='N',
                        help='time the models beside a separate PyTorch process running a conv + '
                        'matmul loop on N threads, as another training job on the same cores '
                        'would; it is stopped at the end, on an error and on Ctrl-C (default: 0, '
                        'none)')
    parser.add_argument('--json', metavar='OUT', help='also write all numbers to this JSON file')
    add_cfg_options(parser, 'train_dataloader.dataset.data_root=/data/DFEW')
    return parser.parse_args()


def main():
    cpu_defaults(reuse_memory=True)  # before torch
    args = parse_args()
    load_tool_config(args, out_files=[args.json])  # one line if they cannot work
    import torch

    from est_mm.analysis.benchmark import BenchmarkOptions, format_benchmark, run_benchmark
    from est_mm.utils.files import atomic_write
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        options = BenchmarkOptions(
            frame_size=args.frame_size, batch=args.batch, iters=args.iters, warmup=args.warmup,
            device=args.device, amp=args.amp, cfg_options=args.cfg_options,
            memory=not args.no_memory, loading=not args.no_loading, num_clips=args.num_clips,
            clip_frames=args.clip_frames, compete=args.compete)
    except ValueError as err:  # --amp without CUDA, --batch 1, --compete -1
        sys.exit(str(err))
    try:
        report = run_benchmark(args.config, options,
                               log=lambda m: print(m, file=sys.stderr, flush=True))
    except KeyboardInterrupt:  # the competing process is already stopped
        print('interrupted; the competing process is stopped, nothing written', file=sys.stderr)
        sys.exit(130)
    print(format_benchmark(report))
    if args.json:
        with atomic_write(args.json) as tmp, open(tmp, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
