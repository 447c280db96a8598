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
import os.path as osp
import sys
import time
from typing import IO, Dict, List, Optional

import numpy as np

from ..faces import NoFaceError
from ..faces.tracking import FaceTrack
from ..streaming import run_live
from ..streaming.options import DemoOptions, LiveOptions
from ..utils.stage_timer import StageTimer
from ..video import VideoReadError, open_frames, open_stream
from .inference import ESTInferencer
from .visualize import frame_labels, plot_timeline, write_annotated_video


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


def run_demo(video: str, inferencer: ESTInferencer, out_dir: str,
             options: Optional[DemoOptions] = None,
             progress_file: Optional[IO[str]] = None) -> Dict:
    """Runs detection + EST on ``video`` and writes ``<stem>.json`` and ``<stem>_timeline.png``
    into ``out_dir`` (and ``<stem>.mp4`` into ``options.vid_out_dir``); ``options``: a
    :class:`~est_mm.streaming.options.DemoOptions` (default: its defaults). Every face gets its
    own track (``tracks`` in the JSON, ``<stem>_track<id>_timeline.png`` when there are
    several); tracks spanning fewer than ``min_track_len`` frames are dropped unless none is
    longer. The top-level prediction is the longest track's. The JSON also holds the timings:
    seconds of work per second of video. Raises :class:`est_mm.utils.OutputExistsError` before
    any work if one of these files exists, unless ``overwrite``; each is written under a
    temporary name, then renamed; folders are created only when a file is written.
    ``progress_file``: where the progress bar goes (default stderr)."""
    options = options or DemoOptions()
    outputs = _check_outputs(video, out_dir, options)
    probe = open_frames(video)  # decord's checks: one line for what is not a video
    total, fps, probe_times = probe.num_frames, probe.fps, probe.frame_times()
    del probe
    source = open_stream(video)
    logs, timer = _TrackLogs(), StageTimer()
    stem = osp.splitext(osp.basename(video))[0]
    with _progress_bar(total, fps, stem, options.progress, progress_file) as bar:
        summary = run_live(source, inferencer, options.jsonl, _loop_options(options, inferencer),
                           status=bar, timer=timer, on_frame=logs.on_frame,
                           on_window=logs.on_window)
    if summary['end'] == 'interrupted':
        raise KeyboardInterrupt
    total = summary['frames']
    if summary['end'] not in ('end of file', 'end of stream') and not total:
        raise VideoReadError(f'{video}: {summary["end"]}')
    times = (probe_times if probe_times is not None and len(probe_times) == total + 1
             else _frame_times(logs.stamps, source.fps))  # decord's: the last frame's own duration
    people = _people(logs.tracks, options.min_track_len, video, total, source.fps,
                     inferencer.classes, times)
    if not people:
        raise NoFaceError(f'{video}: no face was detected in any examined frame '
                          f'({total} frames, every {options.detect_every}. examined)')
    settings = _settings(options, inferencer)
    for p in people:
        p['face'] = (logs.tracks[p['id']].face(video, source.fps, (source.height, source.width),
                                               settings) if options.crop_faces else None)
    report = _report(video, source.fps, total, people, summary, timer.seconds, times)
    report['settings'] = settings
    report['outputs'] = _write_outputs(report, outputs, people, inferencer, times, out_dir,
                                       source.fps)
    return report


def _check_outputs(video: str, out_dir: str, options: DemoOptions) -> Dict[str, str]:
    """The output paths (:func:`demo_outputs`); OutputExistsError if one exists (or an earlier
    run's per-track timeline), unless ``options.overwrite``."""
    from ..utils.files import refuse_existing
    outputs = demo_outputs(video, out_dir, options.pred_out_file, options.vid_out_dir)
    stem = osp.splitext(osp.basename(video))[0]
    track_pngs = osp.join(glob.escape(out_dir), f'{glob.escape(stem)}_track*_timeline.png')
    refuse_existing(list(outputs.values()) + glob.glob(track_pngs), options.overwrite)
    return outputs


def _loop_options(options: DemoOptions, inferencer: ESTInferencer) -> LiveOptions:
    """The loop's options for a file: the face options, the inferencer's window and stride, and
    a tail window so the timeline reaches the last frame."""
    return LiveOptions(**vars(options.face_options()), window=inferencer.window,
                       stride=inferencer.stride, keep_tail=True)


def _settings(options: DemoOptions, inferencer: ESTInferencer) -> Dict:
    """The JSON's ``settings`` (and each face track's)."""
    return dict(detector=str(options.detector), detect_every=options.detect_every,
                margin=options.margin, smooth=options.smooth, align=options.align,
                face_size=options.face_size, window=inferencer.window, stride=inferencer.stride,
                backend=inferencer.backend, max_faces=options.max_faces,
                min_track_len=options.min_track_len, max_gap=options.max_gap)


class _TrackLogs:
    """The loop's hooks for a file: every frame's timestamp and a :class:`_TrackLog` per face
    track (rows, detected flags, window records)."""

    def __init__(self):
        self.tracks: Dict[int, _TrackLog] = {}
        self.stamps: List[Optional[float]] = []

    def on_frame(self, idx, stamp, rows, detected) -> None:
        self.stamps.append(stamp)
        for t, row in rows.items():
            if t not in self.tracks:
                self.tracks[t] = _TrackLog(t, idx)
            self.tracks[t].add(idx, row, t in detected)

    def on_window(self, record) -> None:
        self.tracks[record.track].records.append(record)


def _result_dict(result) -> Dict:
    return dict(label=result.label_name, scores=dict(zip(result.classes, result.scores)),
                windows=[w.__dict__ for w in result.windows])


def _report(video: str, fps: Optional[float], total: int, people: List[Dict], summary: Dict,
            timings: Dict[str, float], times: Optional[np.ndarray]) -> Dict:
    """The demo JSON (without its settings and outputs): the longest track's prediction, every
    track's, how reading ended and the seconds of work per second of video."""
    main = max(people, key=lambda p: (p['last'] - p['first'], -p['id']))
    result = main['result']
    duration = float(times[-1]) if times is not None else None
    return dict(
        video=osp.abspath(video), num_frames=total, fps=fps, duration_s=duration,
        **_result_dict(result), classes=result.classes, main_track=main['id'],
        face=main['face'].to_dict() if main['face'] is not None else None,
        tracks=[dict(id=p['id'], first_frame=p['first'], last_frame=p['last'],
                     **_result_dict(p['result']),
                     face=p['face'].to_dict() if p['face'] is not None else None)
                for p in people],
        end=summary['end'], corrupt_packets=summary['corrupt_packets'],
        frames_embedded=summary['frames_embedded'],
        timings_s={k: round(v, 3) for k, v in timings.items()},
        seconds_per_video_second=_speed(timings, duration))


def _speed(timings: Dict[str, float], duration: Optional[float]) -> Optional[Dict]:
    """Seconds of work per second of video, per stage (None without a duration)."""
    if not duration:
        return None
    stages = dict(detection=timings.get('detect', 0) + timings.get('decode', 0),
                  tracking=timings.get('track', 0), crop=timings.get('crop', 0),
                  est=timings.get('est', 0),
                  **{f'est_{k}': timings.get(k, 0) for k in ('backbone', 'aa_sfe', 'transformer')})
    return {k: round(v / duration, 3) for k, v in stages.items()}


def _write_outputs(report: Dict, outputs: Dict[str, str], people: List[Dict], inferencer,
                   times: Optional[np.ndarray], out_dir: str, fps: Optional[float]) -> Dict:
    """Writes the JSON, the timeline PNG(s) and the annotated video; returns their paths."""
    from ..utils.files import atomic_write
    with atomic_write(outputs['json']) as tmp, open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
    main = next(p for p in people if p['id'] == report['main_track'])
    written = dict(json=outputs['json'], timeline=plot_timeline(
        main['result'], outputs['timeline'], inferencer.sampler, times=times))
    stem = osp.splitext(osp.basename(report['video']))[0]
    if len(people) > 1:
        for p in people:
            written[f'timeline_track{p["id"]}'] = plot_timeline(
                p['result'], osp.join(out_dir, f'{stem}_track{p["id"]}_timeline.png'),
                inferencer.sampler, title=f'{stem}: face #{p["id"]} (frames {p["first"]}–'
                f'{p["last"]}): {p["result"].label_name}', times=times)
    if 'video' in outputs:
        frames = (f.image for f in open_stream(report['video']))
        written['video'] = write_annotated_video(
            frames, outputs['video'], fps or 25.0,
            annotations=_annotations(people, report['num_frames']))
    return written


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
