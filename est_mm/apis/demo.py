"""Raw video → face tracks → EST per face → JSON, timeline PNG and (optionally) an annotated
video. ``tools/demo.py`` parses arguments and calls :func:`run_demo` (files) or
:func:`est_mm.streaming.run_live` (cameras, URLs, stdin).

A file goes through the same loop as a live source (:func:`~est_mm.streaming.run_live`): one
in-order pass decodes each frame, detects faces every ``detect_every`` frames, follows them with
the online tracker (past frames only), crops each face's sampled frames and pushes them to the
streaming engine (``keep_tail``, the inferencer's window and stride). Memory is bounded by one
window per face (plus a box per frame per face for the JSON and the annotated video, 60 bytes),
and each face's numbers equal :meth:`ESTInferencer.predict`'s on the same crops (≤ 1e-5). What a
file adds: its window and stride (half a window by default), a tail window so the timeline
reaches the last frame, short tracks dropped, and the JSON, timeline PNG and annotated video
written at the end."""
import glob
import json
import os
import os.path as osp
import sys
import time
from typing import IO, Dict, List, Optional

import numpy as np

from ..faces import NoFaceError
from ..faces.tracking import FaceTrack
from ..utils.stage_timer import StageTimer
from ..video import VideoReadError, open_frames, open_stream
from .inference import ESTInferencer
from .visualize import frame_labels, plot_timeline, write_annotated_video


def _write_json(path: str, data: Dict) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(path + '.tmp', path)


def demo_outputs(video: str, out_dir: str, pred_out_file: Optional[str] = None,
                 vid_out_dir: Optional[str] = None) -> Dict[str, str]:
    """The files :func:`run_demo` writes for ``video``: json, timeline (and video)."""
    stem = osp.splitext(osp.basename(video))[0]
    paths = dict(json=pred_out_file or osp.join(out_dir, f'{stem}.json'),
                 timeline=osp.join(out_dir, f'{stem}_timeline.png'))
    if vid_out_dir:
        paths['video'] = osp.join(vid_out_dir, f'{stem}.mp4')
    return paths


class _TrackLog:
    """What the file outputs need of one face track, collected frame by frame: its rows
    (box, score, landmarks), detected flags and window records."""

    def __init__(self, track: int, first: int):
        self.id, self.first, self.last = track, first, first
        self.rows: List[np.ndarray] = []
        self.detected: List[bool] = []
        self.records = []

    def add(self, idx: int, row: np.ndarray, detected: bool) -> None:
        for _ in range(self.last + 1, idx):  # frames the track was not in: hold the last row
            self.rows.append(self.rows[-1])
            self.detected.append(False)
        self.rows.append(np.asarray(row, np.float32)[:15])
        self.detected.append(bool(detected))
        self.last = idx

    def face(self, source: str, fps: Optional[float], frame_size, settings) -> FaceTrack:
        rows = np.stack(self.rows)
        detected = np.array(self.detected, bool)
        return FaceTrack(boxes=rows[:, :4], detected=detected,
                         scores=np.where(detected, rows[:, 4], 0).astype(np.float32),
                         landmarks=rows[:, 5:15].reshape(-1, 5, 2), fps=fps, source=source,
                         frame_size=frame_size, settings=settings)


def run_demo(video: str, inferencer: ESTInferencer, out_dir: str, detector='retinaface',
             detect_every: int = 1, margin: float = 1.25, smooth: int = 5, align: bool = False,
             face_size: int = 224, pred_out_file: Optional[str] = None,
             vid_out_dir: Optional[str] = None, crop_faces: bool = True,
             overwrite: bool = False, max_faces: Optional[int] = None,
             min_track_len: int = 10, max_gap: int = 25, progress: Optional[bool] = None,
             progress_file: Optional[IO[str]] = None, jsonl=None) -> Dict:
    """Runs detection + EST on ``video`` and writes ``<stem>.json`` and ``<stem>_timeline.png``
    into ``out_dir`` (and ``<stem>.mp4`` into ``vid_out_dir``). Every face gets its own track
    (``tracks`` in the JSON, ``<stem>_track<id>_timeline.png`` when there are several); tracks
    spanning fewer than ``min_track_len`` frames are dropped unless none is longer. The
    top-level prediction is the longest track's. The JSON also holds the timings: seconds of
    work per second of video. ``jsonl``: also write each window's record as JSON Lines there
    as it is computed (a path or ``'-'``). Raises :class:`est_mm.utils.OutputExistsError`
    before any work if one of these files exists, unless ``overwrite``; each is written under a
    temporary name, then renamed.

    ``progress``: a tqdm bar on ``progress_file`` (default stderr) over the frames: frames done
    / total, frames per second and the seconds of work per second of video; None (tqdm's
    convention) shows it only on a terminal."""
    from ..streaming import run_live
    from ..utils.files import refuse_existing
    outputs = demo_outputs(video, out_dir, pred_out_file, vid_out_dir)
    stem = osp.splitext(osp.basename(video))[0]
    track_pngs = osp.join(glob.escape(out_dir), f'{glob.escape(stem)}_track*_timeline.png')
    refuse_existing(list(outputs.values()) + glob.glob(track_pngs), overwrite)
    probe = open_frames(video)  # decord's checks: one line for what is not a video
    total, fps, probe_times = probe.num_frames, probe.fps, probe.frame_times()
    del probe
    source = open_stream(video)
    logs: Dict[int, _TrackLog] = {}
    stamps: List[Optional[float]] = []

    def on_frame(idx, stamp, rows, detected):
        stamps.append(stamp)
        for t, row in rows.items():
            if t not in logs:
                logs[t] = _TrackLog(t, idx)
            logs[t].add(idx, row, t in detected)

    def on_window(record):
        logs[record.track].records.append(record)

    timer = StageTimer()
    settings = dict(detector=str(detector), detect_every=detect_every, margin=margin,
                    smooth=smooth, align=align, face_size=face_size,
                    window=inferencer.window, stride=inferencer.stride,
                    backend=inferencer.backend, max_faces=max_faces,
                    min_track_len=min_track_len, max_gap=max_gap)
    with _progress_bar(total, fps, f'{stem}', progress, progress_file) as bar:
        summary = run_live(source, inferencer, jsonl, detector=detector,
                           detect_every=detect_every, margin=margin, align=align,
                           face_size=face_size, crop_faces=crop_faces, max_faces=max_faces,
                           max_gap=max_gap, smooth=smooth, window=inferencer.window,
                           stride=inferencer.stride, keep_tail=True, status=bar, timer=timer,
                           on_frame=on_frame, on_window=on_window)
    if summary['end'] == 'interrupted':
        raise KeyboardInterrupt
    total = summary['frames']
    if summary['end'] not in ('end of file', 'end of stream') and not total:
        raise VideoReadError(f'{video}: {summary["end"]}')
    times = (probe_times if probe_times is not None and len(probe_times) == total + 1
             else _frame_times(stamps, source.fps))  # decord's: the last frame's own duration
    people = _people(logs, min_track_len, video, total, source.fps, inferencer.classes, times)
    if not people:
        raise NoFaceError(f'{video}: no face was detected in any examined frame '
                          f'({total} frames, every {detect_every}. examined)')
    frame_size = (source.height, source.width)
    for p in people:
        p['face'] = (logs[p['id']].face(video, source.fps, frame_size, settings)
                     if crop_faces else None)
    main = max(people, key=lambda p: (p['last'] - p['first'], -p['id']))
    result = main['result']
    duration = float(times[-1]) if times is not None else None
    timings = timer.seconds
    report = dict(
        video=osp.abspath(video), num_frames=total, fps=source.fps, duration_s=duration,
        label=result.label_name, scores=dict(zip(result.classes, result.scores)),
        windows=[w.__dict__ for w in result.windows], classes=result.classes,
        main_track=main['id'],
        face=main['face'].to_dict() if main['face'] is not None else None,
        tracks=[dict(id=p['id'], first_frame=p['first'], last_frame=p['last'],
                     label=p['result'].label_name,
                     scores=dict(zip(p['result'].classes, p['result'].scores)),
                     windows=[w.__dict__ for w in p['result'].windows],
                     face=p['face'].to_dict() if p['face'] is not None else None)
                for p in people],
        end=summary['end'], corrupt_packets=summary['corrupt_packets'],
        frames_embedded=summary['frames_embedded'],
        timings_s={k: round(v, 3) for k, v in timings.items()},
        seconds_per_video_second=({
            'detection': round((timings.get('detect', 0) + timings.get('decode', 0)) / duration,
                               3),
            'tracking': round(timings.get('track', 0) / duration, 3),
            'crop': round(timings.get('crop', 0) / duration, 3),
            'est': round(timings.get('est', 0) / duration, 3),
            **{f'est_{k}': round(timings.get(k, 0) / duration, 3)
               for k in ('backbone', 'aa_sfe', 'transformer')}} if duration else None),
        settings=settings)
    _write_json(outputs['json'], report)
    report['outputs'] = dict(json=outputs['json'], timeline=plot_timeline(
        result, outputs['timeline'], inferencer.sampler, times=times))
    if len(people) > 1:
        for p in people:
            report['outputs'][f'timeline_track{p["id"]}'] = plot_timeline(
                p['result'], osp.join(out_dir, f'{stem}_track{p["id"]}_timeline.png'),
                inferencer.sampler, title=f'{stem}: face #{p["id"]} (frames {p["first"]}–'
                f'{p["last"]}): {p["result"].label_name}', times=times)
    if vid_out_dir:
        annotations = _annotations(people, total)
        frames = (f.image for f in open_stream(video))
        report['outputs']['video'] = write_annotated_video(
            frames, outputs['video'], source.fps or 25.0, annotations=annotations)
    return report


def _frame_times(stamps: List[Optional[float]], fps: Optional[float]) -> Optional[np.ndarray]:
    """The start of every frame and the end of the last (one frame at the stream's average
    rate later), ``[T + 1]`` seconds, from the frames' timestamps (right for a variable frame
    rate); None when a timestamp is unknown."""
    if not stamps or any(t is None for t in stamps):
        return None
    times = np.asarray(stamps, np.float64)
    step = 1 / fps if fps else times[-1] - times[-2] if len(times) > 1 else 0.0
    return np.append(times, times[-1] + step)


def _people(logs: Dict[int, '_TrackLog'], min_track_len: int, video: str, total: int,
            fps: Optional[float], classes, times: Optional[np.ndarray]) -> List[Dict]:
    """[dict(id, first, last, result)] of the tracks with windows, those spanning fewer than
    ``min_track_len`` frames dropped unless no other is left (then the longest is kept). With
    the frame ``times`` ``[T + 1]``, a window ends where the next frame starts (a live record
    can only guess that from the gap before its last frame)."""
    from ..streaming import video_result
    tracks = [log for log in logs.values() if log.records]
    kept = [log for log in tracks if log.last - log.first + 1 >= min_track_len]
    if not kept and tracks:
        kept = [max(tracks, key=lambda log: (log.last - log.first, -log.id))]
    people = [dict(id=log.id, first=log.first, last=log.last,
                   result=video_result(log.records, video, total, fps, classes))
              for log in sorted(kept, key=lambda log: log.id)]
    for p in people if times is not None else []:
        for w in p['result'].windows:
            w.start_time, w.end_time = float(times[w.start]), float(times[w.end])
    return people


class _ProgressBar:
    """A tqdm bar over a video's frames whose postfix is the seconds of work per second of
    video since it started (the last update, on closing, includes the work after the last
    frame)."""

    def __init__(self, tqdm_bar, fps: Optional[float]):
        self.bar, self.fps, self.start, self.video_s = tqdm_bar, fps, time.perf_counter(), None
        self.windows = 0

    def update(self, done: int, windows: int, final: bool = False) -> None:
        """``done`` frames processed, ``windows`` window results emitted (``final``: the
        last call)."""
        self.video_s = done / self.fps if self.fps else None
        self.windows = windows
        self._postfix()
        self.bar.update(done - self.bar.n)

    def _postfix(self) -> None:
        if self.video_s:
            self.bar.set_postfix_str(f'{(time.perf_counter() - self.start) / self.video_s:.2f} '
                                     f's of work per s of video, {self.windows} windows',
                                     refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._postfix()
        self.bar.close()


def _progress_bar(total: int, fps: Optional[float], desc: str, progress: Optional[bool],
                  stream: Optional[IO[str]]) -> _ProgressBar:
    """A :class:`_ProgressBar` over ``total`` frames on ``stream`` (default stderr); ``progress``
    None: only when that is a terminal (tqdm's ``disable=None``)."""
    from tqdm import tqdm
    return _ProgressBar(tqdm(total=total, desc=desc, unit='frame', file=stream or sys.stderr,
                             disable=None if progress is None else not progress,
                             dynamic_ncols=True), fps)


def _annotations(people, total):
    """Per frame: [(box, '#id label p%')] for every face whose track covers it."""
    out = [[] for _ in range(total)]
    for p in people:
        windows = frame_labels(p['result'])
        tag = f'#{p["id"]} ' if len(people) > 1 else ''
        for t in range(p['first'], p['last'] + 1):
            w = windows[t]
            box = p['face'].boxes[t - p['first']] if p['face'] is not None else None
            out[t].append((box, f'{tag}{w.label_name} {100 * max(w.scores):.0f}%'))
    return out
