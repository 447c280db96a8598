"""Every face in a video: detections followed online by :class:`~.tracking.FaceTracker` into one
track per person (kept through short misses and occlusions, short tracks dropped), each filled
in and smoothed like the main face."""
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import numpy as np

from ..utils.stage_timer import StageTimer
from ..video.reader import FrameSource, open_frames
from .detection import iter_detections
from .detectors import FaceDetector
from .tracking import FaceTrack, FaceTracker, face_descriptor, fill_track, track_area

__all__ = ['PersonFaceTrack', 'describe_faces', 'detect_with_appearance', 'track_faces']


def describe_faces(frame: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Appearance descriptors ``[K, 64]`` of the ``K`` detections ``[K, 15]`` of one frame."""
    if not len(det):
        return np.zeros((0, 64), np.float32)
    return np.stack([face_descriptor(frame, row) for row in det])


def detect_with_appearance(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                           detect_every: int = 1, timer: Optional[StageTimer] = None):
    """Detections on frames 0, k, 2k, … and the last (None elsewhere), each row with its
    appearance descriptor: (list of [K, 15] or None, list of [K, 64] or None)."""
    dets, descs = [], []
    for _, chunk, found in iter_detections(source, detector, detect_every, timer):
        dets.extend(found)
        descs.extend(None if det is None else describe_faces(frame, det)
                     for frame, det in zip(chunk, found))
    return dets, descs


@dataclass
class PersonFaceTrack:
    """A person's face over frames ``first..last`` of the video (``face`` indexed from first)."""
    track_id: int
    first: int
    last: int
    face: FaceTrack


def track_faces(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                detect_every: int = 1, max_faces: Optional[int] = None,
                min_track_len: int = 10, max_gap: int = 25, smooth: int = 5,
                iou_threshold: float = 0.3, timer: Optional[StageTimer] = None
                ) -> Tuple[List[PersonFaceTrack], List[Optional[np.ndarray]]]:
    """One :class:`PersonFaceTrack` per person (spanning at least ``min_track_len`` frames; the
    ``max_faces`` biggest and most persistent ones if given), ids in order of appearance, plus
    the raw per-frame detections (for the single-face path). ``timer`` accumulates decode,
    detect and track (appearance, association, filling) seconds."""
    video = open_frames(source)
    timer = timer or StageTimer()
    tracker = FaceTracker(iou_threshold, max_gap)
    dets: List[Optional[np.ndarray]] = []
    for start, chunk, found in iter_detections(video, detector, detect_every, timer):
        with timer('track'):
            for i, det in enumerate(found):
                if det is not None:
                    tracker.update(start + i, det, describe_faces(chunk[i], det))
        dets.extend(found)
    with timer('track'):
        tracks = [tr for tr in tracker.tracks
                  if tr.last - tr.first + 1 >= min(min_track_len, video.num_frames)]
        if max_faces is not None:
            tracks = sorted(tracks, key=lambda tr: -track_area(tr.items))[:max_faces]
        tracks.sort(key=lambda tr: (tr.first, tr.track_id))
        out = []
        for new_id, tr in enumerate(tracks, 1):
            local = [(t - tr.first, row) for t, row in tr.items]
            face = fill_track(local, tr.last - tr.first + 1, smooth, name=video.path)
            face.fps, face.frame_size = video.fps, (video.height, video.width)
            out.append(PersonFaceTrack(new_id, tr.first, tr.last, face))
    return out, dets
