"""Many videos through the demo: per-video outputs (:func:`~est_mm.apis.demo.run_demo`) plus one
CSV of every window of every face, with worker processes, a progress bar and resume.
``tools/demo_batch.py`` parses arguments and calls :func:`run_batch`."""
import csv
import dataclasses
import json
import os
import os.path as osp
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Dict, List, Optional, Sequence, Tuple

from ..streaming.options import DemoOptions
from ..utils.errors import first_line
from ..utils.files import atomic_write

__all__ = ['batch_outputs', 'is_finished', 'run_batch', 'write_csv']

DONE_DIR = '.est_batch'  # <out_dir>/.est_batch/<name>.done: the video's outputs are complete

_INFERENCER = None  # one per worker process


def batch_outputs(name: str, video: str, out_dir: str,
                  vid_out_dir: Optional[str] = None) -> Dict[str, str]:
    """The files run_demo writes for ``video`` under its output ``name`` (a path relative to
    ``out_dir`` without extension, as :func:`~est_mm.datasets.face_extraction.find_videos`
    names it)."""
    from .demo import demo_outputs
    sub = osp.dirname(name)
    return demo_outputs(video, osp.join(out_dir, sub),
                        vid_out_dir=osp.join(vid_out_dir, sub) if vid_out_dir else None)


def _marker(out_dir: str, name: str) -> str:
    return osp.join(out_dir, DONE_DIR, name + '.done')


def is_finished(name: str, video: str, out_dir: str, vid_out_dir: Optional[str] = None) -> bool:
    """Whether ``video`` was finished by an earlier run: its marker (written after all its
    outputs) and every output file exist."""
    outputs = batch_outputs(name, video, out_dir, vid_out_dir)
    return osp.isfile(_marker(out_dir, name)) and all(osp.isfile(p) for p in outputs.values())


def _init_worker(model_args: Dict) -> None:
    global _INFERENCER
    from .inference import ESTInferencer
    _INFERENCER = ESTInferencer(**model_args)


def _init_pool_worker(model_args: Dict) -> None:
    """A pool worker ignores Ctrl-C (the parent handles it and cancels what has not started)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(model_args)


def _one(video: str, name: str, out_dir: str, options: DemoOptions) -> Tuple[str, Optional[str]]:
    """Runs the demo on one unfinished video (replacing what an interrupted run left), then
    writes its marker. Returns (name, None) or (name, one-line error)."""
    from .demo import run_demo
    sub = osp.dirname(name)
    vid_out_dir = options.vid_out_dir
    try:
        run_demo(video, _INFERENCER, osp.join(out_dir, sub), dataclasses.replace(
            options, vid_out_dir=osp.join(vid_out_dir, sub) if vid_out_dir else None,
            pred_out_file=None, overwrite=True, progress=False))
    except Exception as err:  # noqa: BLE001 - one video's failure does not stop the others
        return name, first_line(err)
    marker = _marker(out_dir, name)
    with atomic_write(marker) as tmp, open(tmp, 'w') as f:
        f.write(video + '\n')
    return name, None


def write_csv(path: str, videos: Sequence[Tuple[str, str]], out_dir: str) -> int:
    """One row per window per face track of every finished video: video, track, start, end
    (frames, end exclusive), start_time, end_time (s), label, then one probability column per
    class. Written under a temporary name, then renamed. Returns the number of rows."""
    rows, classes = [], None
    for video, name in videos:
        json_path = batch_outputs(name, video, out_dir)['json']
        if not osp.isfile(_marker(out_dir, name)) or not osp.isfile(json_path):
            continue
        with open(json_path) as f:
            report = json.load(f)
        classes = classes or report['classes']
        for track in report['tracks']:
            for w in track['windows']:
                rows.append([video, track['id'], w['start'], w['end'], w['start_time'],
                             w['end_time'], w['label_name'], *w['scores']])
    with atomic_write(path) as tmp, open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['video', 'track', 'start', 'end', 'start_time', 'end_time', 'label'] +
                        [f'p_{c}' for c in (classes or [])])
        writer.writerows(rows)
    return len(rows)


def run_batch(videos: Sequence[Tuple[str, str]], model_args: Dict, out_dir: str,
              csv_path: Optional[str] = None, vid_out_dir: Optional[str] = None,
              workers: int = 1, progress: bool = True, inferencer=None,
              options: Optional[DemoOptions] = None) -> Dict:
    """The demo on every ``(path, name)`` of ``videos`` (from ``find_videos``): outputs under
    ``out_dir/<name>``; videos finished by an earlier run (:func:`is_finished`) are skipped, an
    interrupted one is redone, so nothing finished is overwritten. ``model_args`` build one
    :class:`~est_mm.apis.inference.ESTInferencer` per worker process (``workers`` 1: in this
    process; ``inferencer``: one already built from ``model_args``, used then). ``options``: the
    :class:`~est_mm.streaming.options.DemoOptions` of :func:`~est_mm.apis.demo.run_demo` (its
    output paths, ``overwrite`` and ``progress`` are set per video). The CSV (:func:`write_csv`,
    default ``<out_dir>/results.csv``) covers every finished video.

    Returns dict(done=[names run now], skipped=[names finished before], failed={name: error},
    csv=path, rows=int)."""
    from tqdm import tqdm
    csv_path = csv_path or osp.join(out_dir, 'results.csv')
    options = dataclasses.replace(options or DemoOptions(), vid_out_dir=vid_out_dir)
    todo = [(v, n) for v, n in videos if not is_finished(n, v, out_dir, vid_out_dir)]
    skipped = [n for v, n in videos if (v, n) not in todo]
    done: List[str] = []
    failed: Dict[str, str] = {}
    bar = tqdm(total=len(videos), initial=len(skipped), unit='video', disable=not progress,
               file=sys.stderr)

    def record(name, error):
        if error:
            failed[name] = error
            bar.write(f'{name}: {error}', file=sys.stderr)
        else:
            done.append(name)
        bar.update(1)

    if todo and workers <= 1:
        global _INFERENCER
        if inferencer is not None:
            _INFERENCER = inferencer
        else:
            _init_worker(model_args)
        for video, name in todo:
            record(*_one(video, name, out_dir, options))
    elif todo:
        import multiprocessing
        # workers stopped by Ctrl-C leave the pool's semaphores to multiprocessing's resource
        # tracker, which warns about them on stderr; it reads this from its environment
        quiet = 'ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker'
        given = os.environ.get('PYTHONWARNINGS', '')
        if quiet not in given.split(','):
            os.environ['PYTHONWARNINGS'] = ','.join(filter(None, [given, quiet]))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn'),
                                 initializer=_init_pool_worker,
                                 initargs=(model_args,)) as pool:
            jobs = [pool.submit(_one, v, n, out_dir, options) for v, n in todo]
            try:
                for job in as_completed(jobs):
                    record(*job.result())
            except KeyboardInterrupt:  # the workers ignore SIGINT: stop them, or they go on
                workers_left = list(getattr(pool, '_processes', {}).values())  # no public API
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in workers_left:
                    proc.terminate()
                for proc in workers_left:
                    proc.join(10)
                bar.close()
                raise
    bar.close()
    rows = write_csv(csv_path, videos, out_dir)
    return dict(done=done, skipped=skipped, failed=failed, csv=csv_path, rows=rows)
