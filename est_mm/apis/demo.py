"""Raw video → face tracks → EST per face → JSON, timeline PNG and (optionally) an annotated
video. ``tools/demo.py`` parses arguments and calls :func:`run_demo` (files) or
:func:`est_mm.streaming.run_live` (cameras, URLs, stdin).

A file's EST runs on the streaming engine, as a live source's does: one in-order pass over the
frames crops each face's sampled frames and pushes them to :class:`~est_mm.streaming.TrackStreams`
(``keep_tail``, the inferencer's window and stride), so memory is bounded by one window per face
and the numbers equal :meth:`ESTInferencer.predict`'s on the same crops (≤ 1e-5). What differs
from the live path is the tracking: a file's boxes come from the whole detection pass (linear
interpolation towards the next detection, a centred moving average, the main face chosen by its
summed box area, short tracks dropped), which needs frames a live source has not delivered yet; a
live source holds each face's last detected box. Hence different crops and numbers. The ONNX
backend runs whole clips, so it keeps :meth:`ESTInferencer.predict` over crops of the sampled
frames."""
import glob
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import IO, Dict, Optional

import numpy as np

from ..faces import crop_face, iter_face_crops, track_faces, track_main_face
from ..faces.multi_face import PersonFaceTrack
from ..utils.stage_timer import StageTimer
from ..video import open_frames
from .inference import ESTInferencer, VideoResult
from .visualize import frame_labels, plot_timeline, write_annotated_video


def check_writable_dir(path: str) -> None:
    """Creates folder ``path`` if needed and checks a file can be written in it; raises
    OSError with one line naming the folder otherwise (call it before any work)."""
    try:
        os.makedirs(path or '.', exist_ok=True)
        with tempfile.TemporaryFile(dir=path or '.'):
            pass
    except OSError as err:
        raise OSError(f'{path}: cannot write to this folder ({err.strerror or err})') from None


def _write_json(path: str, data: Dict) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(path + '.tmp', path)


def demo_outputs(video: str, out_dir: str, pred_out_file: Optional[str] = None,
                 vid_out_dir: Optional[str] = None) -> Dict[str, str]:
    """The files :func:`run_demo` writes: json, timeline (PNG) and, with ``vid_out_dir``, video."""
    stem = osp.splitext(osp.basename(video))[0]
    paths = dict(json=pred_out_file or osp.join(out_dir, f'{stem}.json'),
                 timeline=osp.join(out_dir, f'{stem}_timeline.png'))
    if vid_out_dir:
        paths['video'] = osp.join(vid_out_dir, f'{stem}.mp4')
    return paths


def run_demo(video: str, inferencer: ESTInferencer, out_dir: str, detector='retinaface',
             detect_every: int = 1, margin: float = 1.25, smooth: int = 5, align: bool = False,
             face_size: int = 224, pred_out_file: Optional[str] = None,
             vid_out_dir: Optional[str] = None, crop_faces: bool = True,
             overwrite: bool = False, max_faces: Optional[int] = None,
             min_track_len: int = 10, max_gap: int = 25, progress: Optional[bool] = None,
             progress_file: Optional[IO[str]] = None) -> Dict:
    """Runs detection + EST on ``video`` and writes ``<stem>.json`` and ``<stem>_timeline.png``
    into ``out_dir`` (and ``<stem>.mp4`` into ``vid_out_dir``). Every face gets its own track
    (``tracks`` in the JSON, ``<stem>_track<id>_timeline.png`` when there are several); with
    one face the result is exactly the single-face path's. The top-level prediction is the
    longest track's. The JSON also holds the timings: seconds of work per second of video.
    Raises :class:`est_mm.utils.OutputExistsError` before any work if one of these files exists,
    unless ``overwrite``; each is written under a temporary name, then renamed.

    ``progress``: a tqdm bar on ``progress_file`` (default stderr) over the in-order crop + EST
    pass (PyTorch backend): frames done / total, frames per second and the pass's seconds of
    work per second of video; None (tqdm's convention) shows it only on a terminal."""
    from ..utils.files import refuse_existing
    outputs = demo_outputs(video, out_dir, pred_out_file, vid_out_dir)
    stem = osp.splitext(osp.basename(video))[0]
    track_pngs = osp.join(glob.escape(out_dir), f'{glob.escape(stem)}_track*_timeline.png')
    refuse_existing(list(outputs.values()) + glob.glob(track_pngs), overwrite)
    frames = open_frames(video)
    total, fps = frames.num_frames, frames.fps
    times = frames.frame_times()
    timer = StageTimer()
    streaming = inferencer.backend == 'pytorch'
    if not crop_faces:
        people = [dict(id=1, first=0, last=total - 1, face=None)]
        if not streaming:
            with timer('est'):
                result = inferencer.predict(lambda idx: list(frames.get(list(idx))), total,
                                            fps, name=video)
            people[0]['result'] = place_windows(result, 0, times)
    elif streaming:
        people = _tracks_only(frames, detector, detect_every, smooth, max_faces, min_track_len,
                              max_gap, timer)
    else:
        people = _face_tracks(frames, times, inferencer, detector, detect_every, margin, smooth,
                              align, face_size, max_faces, min_track_len, max_gap, timer)
    if streaming:
        with _progress_bar(total, fps, f'{stem}: crop + EST', progress, progress_file) as bar:
            stream_people(frames, times, people, inferencer, face_size, margin, align, timer,
                          bar)
    main = max(people, key=lambda p: (p['last'] - p['first'], -p['id']))
    result = main['result']
    duration = float(times[-1]) if times is not None else None
    timings = timer.seconds
    report = dict(
        video=osp.abspath(video), num_frames=total, fps=fps, duration_s=duration,
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
        timings_s={k: round(v, 3) for k, v in timings.items()},
        seconds_per_video_second=({
            'detection': round((timings.get('detect', 0) + timings.get('decode', 0)) / duration,
                               3),
            'tracking': round(timings.get('track', 0) / duration, 3),
            'crop': round(timings.get('crop', 0) / duration, 3),
            'est': round(timings.get('est', 0) / duration, 3)} if duration else None),
        settings=dict(detector=str(detector), detect_every=detect_every, margin=margin,
                      smooth=smooth, align=align, face_size=face_size,
                      window=inferencer.window, stride=inferencer.stride,
                      backend=inferencer.backend, max_faces=max_faces,
                      min_track_len=min_track_len, max_gap=max_gap))
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
        stream = (f for _, chunk in frames.chunks() for f in chunk)
        report['outputs']['video'] = write_annotated_video(
            stream, outputs['video'], fps or 25.0, annotations=annotations)
    return report


def place_windows(result: VideoResult, offset: int, times: Optional[np.ndarray]) -> VideoResult:
    """Moves a :class:`VideoResult` whose frames count from ``offset`` (a person's first frame)
    onto the video's frame numbers, with window times from the video's frame times
    ``[T + 1]`` (timestamps, so right for a variable frame rate; None: no times)."""
    for w in result.windows:
        w.start, w.end = w.start + offset, w.end + offset
        w.frame_inds = [i + offset for i in w.frame_inds]
        w.start_time, w.end_time = ((float(times[w.start]), float(times[w.end]))
                                    if times is not None else (None, None))
    return result


def _main_face(frames, times, inferencer, dets, margin, smooth, align, face_size, timer):
    """The single-face path: the main face tracked over the whole video, crops of the sampled
    frames only."""
    total = frames.num_frames
    with timer('track'):
        track = track_main_face(dets, smooth, name=frames.path)  # NoFaceError if none
    windows = inferencer.window_indices(total)
    needed = np.unique(np.concatenate([ind for _, _, ind in windows]))
    crops = next(iter_face_crops(frames, track, face_size, margin, align, needed, timer))[1]
    by_frame = dict(zip(needed.tolist(), crops))
    track.fps, track.frame_size = frames.fps, (frames.height, frames.width)
    with timer('est'):
        result = inferencer.predict(lambda idx: [by_frame[i] for i in idx], total, frames.fps,
                                    name=frames.path)
    return dict(id=1, first=0, last=total - 1, result=place_windows(result, 0, times),
                face=track)


def predict_person(frames, times, person: PersonFaceTrack, inferencer: ESTInferencer,
                   size: int = 224, margin: float = 1.25, align: bool = False,
                   timer: Optional[StageTimer] = None) -> VideoResult:
    """EST over one person's span: crops only the sampled frames along the person's box, runs
    the sliding windows and returns a :class:`VideoResult` on the video's frame numbers."""
    timer = timer or StageTimer()
    length = person.last - person.first + 1
    needed = np.unique(np.concatenate([ind for _, _, ind in inferencer.window_indices(length)]))
    face = person.face
    with timer('crop'):
        images = frames.get([person.first + int(i) for i in needed])
        crops = {int(i): crop_face(img, face.boxes[i], size, margin, face.landmarks[i], align)
                 for i, img in zip(needed, images)}
    with timer('est'):
        result = inferencer.predict(lambda idx: [crops[int(i)] for i in idx], length,
                                    frames.fps, name=frames.path)
    result.num_frames = frames.num_frames
    return place_windows(result, person.first, times)


def _face_tracks(frames, times, inferencer, detector, detect_every, margin, smooth, align,
                 face_size, max_faces, min_track_len, max_gap, timer):
    """[dict(id, first, last, result, face)] for every tracked face; a single face goes through
    the main-face path (track over the whole video, crops of the sampled frames only)."""
    persons, dets = track_faces(frames, detector, detect_every, max_faces, min_track_len,
                                max_gap, smooth, timer=timer)
    if len(persons) <= 1:
        return [_main_face(frames, times, inferencer, dets, margin, smooth, align, face_size,
                           timer)]
    return [dict(id=person.track_id, first=person.first, last=person.last, face=person.face,
                 result=predict_person(frames, times, person, inferencer, face_size, margin,
                                       align, timer))
            for person in persons]


def _tracks_only(frames, detector, detect_every, smooth, max_faces, min_track_len, max_gap,
                 timer):
    """[dict(id, first, last, face)]: every tracked face; a single face is the main face
    tracked over the whole video (as :func:`_main_face`)."""
    persons, dets = track_faces(frames, detector, detect_every, max_faces, min_track_len,
                                max_gap, smooth, timer=timer)
    if len(persons) > 1:
        return [dict(id=p.track_id, first=p.first, last=p.last, face=p.face) for p in persons]
    with timer('track'):
        track = track_main_face(dets, smooth, name=frames.path)  # NoFaceError if none
    track.fps, track.frame_size = frames.fps, (frames.height, frames.width)
    return [dict(id=1, first=0, last=frames.num_frames - 1, face=track)]


def stream_people(frames, times, people, inferencer: ESTInferencer, size: int = 224,
                  margin: float = 1.25, align: bool = False,
                  timer: Optional[StageTimer] = None, bar=None) -> None:
    """EST for every person of ``people`` (dicts with id, first, last and ``face``, a
    :class:`FaceTrack` over frames first..last, or None: the frames are the crops) in one
    in-order pass over ``frames``: the frames :meth:`ESTInferencer.window_indices` samples in
    each person's span are cropped and pushed to the streaming engine (``keep_tail``, the
    inferencer's window and stride), so each person's windows and probabilities are the
    inferencer's on the same crops. Sets each person's ``result`` (a :class:`VideoResult` on the
    video's frame numbers, window times from ``times``). ``bar``: a tqdm bar advanced per frame
    (see :func:`_progress_bar`)."""
    from ..streaming import TrackStreams, video_result
    timer = timer or StageTimer()
    streams = TrackStreams.from_inferencer(inferencer, window=inferencer.window,
                                           stride=inferencer.stride, keep_tail=True)
    needed = {p['id']: set((p['first'] + np.unique(np.concatenate(
        [ind for _, _, ind in inferencer.window_indices(p['last'] - p['first'] + 1)]))).tolist())
        for p in people}
    records = {p['id']: [] for p in people}

    def keep(found):
        for r in found:
            records[r.track].append(r)

    chunks = frames.chunks()
    while True:
        with timer('crop_decode'):
            item = next(chunks, None)
        if item is None:
            break
        start, chunk = item
        for idx, image in enumerate(chunk, start):
            crops = {}
            with timer('crop'):
                for p in people:
                    if p['first'] <= idx <= p['last']:
                        crops[p['id']] = None
                        if idx in needed[p['id']]:
                            face, t = p['face'], idx - p['first']
                            crops[p['id']] = image if face is None else crop_face(
                                image, face.boxes[t], size, margin, face.landmarks[t], align)
            if not crops:
                continue
            with timer('est'):
                keep(streams.push(idx, float(times[idx]) if times is not None else None, crops))
                for p in people:
                    if p['last'] == idx:
                        keep(streams.end(p['id']))
        if bar is not None:
            bar.advance(start + len(chunk), times)
    with timer('est'):
        keep(streams.finish())
    for p in people:
        p['result'] = place_windows(video_result(records[p['id']], frames.path,
                                                 frames.num_frames, frames.fps,
                                                 inferencer.classes), 0, times)


class _ProgressBar:
    """A tqdm bar over a video's frames whose postfix is the seconds of work per second of
    video since it started (the last update, on closing, includes the work after the last
    frame)."""

    def __init__(self, tqdm_bar, fps: Optional[float]):
        self.bar, self.fps, self.start, self.video_s = tqdm_bar, fps, time.perf_counter(), None

    def advance(self, done: int, times: Optional[np.ndarray]) -> None:
        """Marks frames [0, done) as processed (``times``: the video's frame times [T + 1])."""
        self.video_s = (float(times[min(done, len(times) - 1)]) if times is not None
                        else done / self.fps if self.fps else None)
        self._postfix()
        self.bar.update(done - self.bar.n)

    def _postfix(self) -> None:
        if self.video_s:
            self.bar.set_postfix_str(f'{(time.perf_counter() - self.start) / self.video_s:.2f} '
                                     's of work per s of video', refresh=False)

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
