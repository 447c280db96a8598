"""Dataset preparation from raw videos: the main face of every video cut into a DFEW-style frame
folder ``OUT/<name>/1.jpg..N.jpg`` plus ``face_track.json`` (resumable, parallel). The batch job
behind ``tools/data/extract_faces.py``."""
import functools
import json
import os
import os.path as osp
import shutil
import signal
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..compat import opencv_threads_for_fork
from ..faces.crop import face_settings, iter_face_crops
from ..faces.detection import detect_video
from ..faces.detectors import FaceDetector, build_face_detector
from ..faces.tracking import NoFaceError, track_main_face
from ..utils.errors import first_line
from ..utils.stage_timer import StageTimer
from ..video.reader import VideoFrames, VideoReadError
from .fer_video_dataset import VIDEO_EXTENSIONS

__all__ = ['TRACK_FILE', 'ExtractOptions', 'FoundVideos', 'find_videos', 'extract_video_faces',
           'extract_faces', 'format_extract_summary']

TRACK_FILE = 'face_track.json'   # written last inside a finished frame folder


class FoundVideos(NamedTuple):
    """What :func:`find_videos` found: ``videos`` ``[(path, name)]``, ``problems``
    ``[(path, message)]`` (failures), ``skipped`` ``[message]`` (symbolic-link loops and
    folders reached twice through links, each walked once)."""
    videos: List[Tuple[str, str]]
    problems: List[Tuple[str, str]]
    skipped: List[str]


def _read_list(list_file: str, root: Optional[str]) -> Tuple[str, List[str]]:
    if not osp.isfile(list_file):
        raise FileNotFoundError(f'list file not found: {list_file}')
    root = osp.abspath(root or osp.dirname(osp.abspath(list_file)))
    with open(list_file, encoding='utf-8') as f:
        lines = [ln.strip() for ln in f]
    return root, [osp.join(root, ln) for ln in lines if ln and not ln.startswith('#')]


def _out_name(path: str, root: Optional[str]) -> str:
    stem = osp.splitext(path)[0]
    if root is not None:
        rel = osp.relpath(stem, root)
        if not rel.startswith(os.pardir):
            return rel.replace(os.sep, '/')
    return osp.basename(stem)


def _walk_videos(root: str, exts: Tuple[str, ...], skipped: List[str]) -> List[str]:
    """Video files below ``root``, following symbolic links to folders; a link to a folder
    already walked (a loop, or a second way to the same folder) is noted in ``skipped``."""
    found = []
    walked = {osp.realpath(root)}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        keep = []
        for d in sorted(dirnames):
            if d.startswith('.'):
                continue
            full = osp.join(dirpath, d)
            real = osp.realpath(full)
            if real in walked:
                skipped.append(f'{full}: links to {real}, already searched (not searched again)')
                continue
            walked.add(real)
            keep.append(d)
        dirnames[:] = keep
        found += [osp.join(dirpath, n) for n in filenames
                  if not n.startswith('.') and n.lower().endswith(exts)]
    return sorted(found)


def find_videos(inputs: Sequence[str] = (), list_file: Optional[str] = None,
                list_root: Optional[str] = None,
                extensions: Sequence[str] = VIDEO_EXTENSIONS) -> FoundVideos:
    """Collect videos and the output folder name of each.

    - a folder: every file with a video extension below it (recursively, following symbolic
      links to folders, each folder searched once; names starting with '.' skipped, e.g. macOS
      ``._x.mp4``); name = path relative to the folder, no extension;
    - a file: used as given (any extension); name = its stem;
    - ``list_file``: one path per line (blank lines and ``#`` comments skipped), relative paths
      resolved against ``list_root`` (default: the list file's folder); name = path relative to
      that root without extension (its stem if outside the root).

    The same file reached twice (e.g. through a link) keeps its first name; a second video
    wanting a name already taken is a problem.
    """
    exts = tuple(e.lower() for e in extensions)
    candidates: List[Tuple[str, str]] = []
    problems: List[Tuple[str, str]] = []
    skipped: List[str] = []
    for item in inputs:
        if osp.isdir(item):
            root = osp.abspath(item)
            candidates += [(p, _out_name(p, root)) for p in _walk_videos(root, exts, skipped)]
        elif osp.isfile(item):
            candidates.append((osp.abspath(item), _out_name(item, None)))
        else:
            problems.append((item, f'{item}: input not found'))
    if list_file is not None:
        root, paths = _read_list(list_file, list_root)
        for p in paths:
            if osp.isfile(p):
                candidates.append((osp.abspath(p), _out_name(osp.abspath(p), root)))
            else:
                problems.append((p, f'{p}: not found (listed in {list_file})'))
    videos: List[Tuple[str, str]] = []
    owner: Dict[str, str] = {}
    seen = set()
    for path, name in candidates:
        real = osp.realpath(path)
        if real in seen:   # the same file reached twice: keep its first name
            continue
        seen.add(real)
        if name in owner:
            problems.append((path, f'{path}: output name {name!r} already taken by '
                                   f'{owner[name]}'))
            continue
        owner[name] = path
        videos.append((path, name))
    return FoundVideos(videos, problems, skipped)


def _is_finished(folder: str) -> bool:
    return osp.isfile(osp.join(folder, TRACK_FILE))


def _replace_folder(tmp: str, out_folder: str) -> None:
    """Rename the finished ``tmp`` to ``out_folder``, swapping an old one out only now."""
    if osp.isdir(out_folder):
        old = out_folder.rstrip('/\\') + '.old'
        if osp.isdir(old):
            shutil.rmtree(old)
        os.rename(out_folder, old)
        os.rename(tmp, out_folder)
        shutil.rmtree(old)
    else:
        os.rename(tmp, out_folder)


@dataclass(frozen=True)
class ExtractOptions:
    """How :func:`extract_faces` finds, crops and writes the faces; ``tools/data/extract_faces.py``
    fills it from its options of the same names."""
    detector: str = 'retinaface'  # a name of est_mm.faces.detectors.detector_names()
    score_threshold: Optional[float] = None  # None: the detector's default
    max_side: Optional[int] = 640  # detect on frames shrunk to this longer side; None: full size
    detect_every: int = 1  # detect on every k-th frame (and the last), interpolating between
    iou_threshold: float = 0.3  # of a box with the track's last one to continue it
    size: int = 224  # side of the square crops
    margin: float = 1.25  # crop side = margin x the longer side of the face box
    smooth: int = 5  # frames of the centred moving average of the box; 0 or 1: off
    align: bool = False  # rotate each crop so the eyes are level
    jpeg_quality: int = 95
    overwrite: bool = False  # redo finished folders
    workers: int = 1  # processes, each with its own detector
    progress: bool = True  # a progress bar

    def __post_init__(self):
        if self.workers < 1:
            raise ValueError(f'workers must be at least 1, got {self.workers}')
        if self.detect_every < 1:
            raise ValueError(f'detect_every must be at least 1, got {self.detect_every}')
        if self.size < 1 or self.margin <= 0:
            raise ValueError(f'size and margin must be positive, got {self.size} and '
                             f'{self.margin}')

    def build_detector(self, num_threads: Optional[int] = None) -> FaceDetector:
        """The detector these options name (RetinaFace with ``num_threads`` onnxruntime
        threads; None: its default)."""
        extra = dict(num_threads=num_threads) if self.detector == 'retinaface' else {}
        return build_face_detector(self.detector, self.score_threshold, max_side=self.max_side,
                                   **extra)


def extract_video_faces(path: str, out_folder: str, options: Optional[ExtractOptions] = None,
                        detector: Optional[FaceDetector] = None, num_threads: int = 1) -> Dict:
    """Write the main-face crops of one video as ``out_folder/1.jpg .. N.jpg`` plus
    ``out_folder/face_track.json`` (the :meth:`FaceTrack.to_dict` summary), atomically.
    ``detector`` (built from ``options`` when None) finds the faces; ``num_threads`` decode the
    video (0: FFmpeg's choice).

    Frames go to ``<out_folder>.tmp/`` first, the JSON last, and the folder is renamed to
    ``out_folder`` only when complete, so an existing ``out_folder`` with the JSON is always a
    finished one (skipped unless ``overwrite``); a left-over ``.tmp`` folder is redone.

    Returns:
        dict: ``status`` ('done', 'finished' = skipped, 'no_face' or 'failed'), ``error``
        (one line), ``frames``, ``seconds`` (video length), ``timings`` (decode / detect /
        crop_decode / crop / write seconds).
    """
    opt = options or ExtractOptions()
    timer = StageTimer()
    result = dict(path=path, folder=out_folder, status='failed', error=None, frames=0,
                  seconds=None, timings=timer.seconds)
    if osp.isdir(out_folder) and not opt.overwrite:
        if _is_finished(out_folder):
            result['status'] = 'finished'
        else:
            result['error'] = (f'{out_folder}: exists but was not written by extract_faces '
                               f'(no {TRACK_FILE}); remove it or pass overwrite')
        return result
    tmp = out_folder.rstrip('/\\') + '.tmp'
    try:
        detector = detector or opt.build_detector()
        video = VideoFrames(path, num_threads=num_threads)
        detections = detect_video(video, detector, opt.detect_every, timer)
        result['frames'], result['seconds'] = len(detections), video.duration
        track = track_main_face(detections, opt.smooth, opt.iou_threshold, name=path)
        _write_crops(video, track, tmp, opt, timer)
        track.fps, track.frame_size = video.fps, (video.height, video.width)
        track.settings = face_settings(detector, opt.size, opt.margin, opt.smooth, opt.align,
                                       opt.detect_every, opt.iou_threshold)
        info = track.to_dict()
        info['truncated'] = video.truncated
        with open(osp.join(tmp, TRACK_FILE), 'w', encoding='utf-8') as f:
            json.dump(info, f)
        _replace_folder(tmp, out_folder)
        result['status'] = 'done'
    except NoFaceError as err:
        result['status'], result['error'] = 'no_face', first_line(err)
    except (VideoReadError, FileNotFoundError) as err:
        result['error'] = first_line(err)
    except Exception as err:  # one bad video must not stop a batch: report it
        result['error'] = f'{path}: {type(err).__name__}: {first_line(err)}'
    finally:
        if result['status'] != 'done' and osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _write_crops(video: VideoFrames, track, folder: str, opt: ExtractOptions,
                 timer: StageTimer) -> None:
    """The track's crops as ``folder/1.jpg ..`` (the folder made afresh)."""
    if osp.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(opt.jpeg_quality)]
    for start, crops in iter_face_crops(video, track, opt.size, opt.margin, opt.align,
                                        timer=timer):
        with timer('write'):
            for i, crop in enumerate(crops):
                dst = osp.join(folder, f'{start + i + 1}.jpg')
                if not cv2.imwrite(dst, np.ascontiguousarray(crop[..., ::-1]), params):
                    raise OSError(f'{dst}: cannot write image')


@functools.lru_cache(maxsize=1)
def _process_detector(options: ExtractOptions, num_threads: Optional[int]) -> FaceDetector:
    """One detector per process, built on its first video."""
    return options.build_detector(num_threads)


@dataclass(frozen=True)
class _ExtractJob:
    """:func:`extract_video_faces` with fixed settings, callable in a worker process."""
    options: ExtractOptions
    detector_threads: Optional[int]  # onnxruntime threads of each process's detector
    decode_threads: int

    def __call__(self, job: Tuple[str, str]) -> Dict:
        return extract_video_faces(job[0], job[1], self.options,
                                   _process_detector(self.options, self.detector_threads),
                                   self.decode_threads)


def _init_worker() -> None:
    """Worker processes leave Ctrl-C to the parent (which ends the pool), so an interrupt
    prints no traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def extract_faces(inputs: Sequence[str], out_dir: str, options: Optional[ExtractOptions] = None,
                  list_file: Optional[str] = None, list_root: Optional[str] = None,
                  log: Callable[[str], None] = print) -> Dict:
    """Write DFEW-style face-crop frame folders ``out_dir/<name>/1.jpg..N.jpg`` for many videos.

    Videos come from :func:`find_videos` (``inputs``, ``list_file``, ``list_root``); each is
    handled by :func:`extract_video_faces`, in ``options.workers`` processes (each builds its
    own detector on first use, with ``cpu_count // workers`` onnxruntime threads). Finished
    folders are skipped unless ``options.overwrite``. A video without any face is reported
    (status ``no_face``) and skipped, not counted as failed; unreadable videos and name
    collisions are failures; their lines go to ``log`` (above the progress bar if shown).

    Returns:
        dict: ``done``, ``finished``, ``no_face``, ``failed`` (lists of ``(path, message)`` for
        the last two, names for the first two), ``skipped_links`` (messages), ``frames``,
        ``video_seconds``, ``timings`` (summed seconds per phase over processed videos),
        ``wall_seconds``.
    """
    from tqdm import tqdm

    opt = options or ExtractOptions()
    tic = time.perf_counter()
    videos, problems, skipped = find_videos(inputs, list_file, list_root)
    summary = dict(done=[], finished=[], no_face=[], failed=list(problems),
                   skipped_links=skipped, frames=0, video_seconds=0.0, timings={},
                   wall_seconds=0.0, unknown_fps=0)
    jobs = []
    for path, name in videos:
        folder = osp.join(out_dir, *name.split('/'))
        if not opt.overwrite and _is_finished(folder):
            summary['finished'].append(name)
        else:
            jobs.append((path, folder))
    parallel = opt.workers > 1
    run = _ExtractJob(opt, max(1, (os.cpu_count() or 1) // opt.workers) if parallel else None,
                      1 if parallel else 0)
    os.makedirs(out_dir, exist_ok=True)
    bar = tqdm(total=len(jobs), unit='video', disable=not opt.progress, dynamic_ncols=True)
    collect = _Collector(summary, out_dir, bar, bar.write if opt.progress else log)
    try:
        if opt.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                collect(run(job))
        else:
            import multiprocessing as mp
            ctx = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn')
            # one OpenCV thread per worker: the workers are the parallelism
            with opencv_threads_for_fork(1), \
                    ctx.Pool(min(opt.workers, len(jobs)), _init_worker) as pool:
                for res in pool.imap_unordered(run, jobs):
                    collect(res)
    finally:
        bar.close()
    summary['wall_seconds'] = time.perf_counter() - tic
    return summary


class _Collector:
    """Adds each video's result to the :func:`extract_faces` summary and the progress bar."""

    def __init__(self, summary: Dict, out_dir: str, bar, log: Callable[[str], None]):
        self.summary, self.out_dir, self.bar, self.log = summary, out_dir, bar, log

    def __call__(self, res: Dict) -> None:
        summary = self.summary
        name = osp.relpath(res['folder'], self.out_dir).replace(os.sep, '/')
        status = res['status']
        if status in ('done', 'finished'):
            summary[status].append(name)
        else:
            summary[status].append((res['path'], res['error']))
            self.log(f"{'no face' if status == 'no_face' else 'FAILED'}: {res['error']}")
        if status == 'done':
            summary['frames'] += res['frames']
            if res['seconds']:
                summary['video_seconds'] += res['seconds']
            else:
                summary['unknown_fps'] += 1
            for key, sec in res['timings'].items():
                summary['timings'][key] = summary['timings'].get(key, 0.0) + sec
        self.bar.set_postfix(done=len(summary['done']), no_face=len(summary['no_face']),
                             failed=len(summary['failed']))
        self.bar.update(1)


def format_extract_summary(summary: Dict, workers: int = 1) -> str:
    """Human-readable lines for an :func:`extract_faces` summary: counts, the names of
    no-face and failed videos, links not followed, and processing seconds per second of video
    per phase."""
    lines = [f"done {len(summary['done'])}, skipped as finished {len(summary['finished'])}, "
             f"no face {len(summary['no_face'])}, failed {len(summary['failed'])}"]
    lines += [f'  no face: {path}' for path, _ in summary['no_face']]
    lines += [f'  failed: {msg}' for _, msg in summary['failed']]
    lines += [f'  link skipped: {msg}' for msg in summary.get('skipped_links', [])]
    tm, frames, secs = summary['timings'], summary['frames'], summary['video_seconds']
    if frames:
        per, unit = (secs, 's of video') if secs > 0 else (frames, 'frame')
        detect = tm.get('decode', 0.0) + tm.get('detect', 0.0)
        crop = tm.get('crop_decode', 0.0) + tm.get('crop', 0.0) + tm.get('write', 0.0)
        lines.append(
            f'speed over {frames} frames ({secs:.1f} s of video), processing seconds per '
            f'{unit}: detection {detect / per:.3f} (decode {tm.get("decode", 0.0) / per:.3f} '
            f'+ detector {tm.get("detect", 0.0) / per:.3f}), cropping/writing {crop / per:.3f} '
            f'(decode {tm.get("crop_decode", 0.0) / per:.3f} + crop {tm.get("crop", 0.0) / per:.3f}'
            f' + write {tm.get("write", 0.0) / per:.3f}), total {(detect + crop) / per:.3f}')
        if summary.get('unknown_fps'):
            lines.append(f"  ({summary['unknown_fps']} video(s) with unknown fps not counted "
                         'in the seconds of video)')
    lines.append(f"wall clock {summary['wall_seconds']:.1f} s with {workers} worker(s)")
    return '\n'.join(lines)
