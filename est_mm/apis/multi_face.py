"""Every face in a video: detections associated into one track per person (box IoU plus a
colour-histogram appearance cue, optimal assignment per frame), kept through short misses and
occlusions, short tracks dropped. Each track then goes through the single-face crop path."""
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .face_detectors import FaceDetector, build_face_detector
from .faces import FaceTrack, FrameSource, _iou, fill_track, open_frames, track_area


def face_descriptor(frame: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """Hue-saturation histogram (8×8, L1-normalised, [64]) of the central part of a face box."""
    x1, y1, x2, y2 = box[:4]
    w, h = x2 - x1, y2 - y1
    x1, x2 = int(max(0, x1 + 0.2 * w)), int(min(frame.shape[1], x2 - 0.2 * w))
    y1, y2 = int(max(0, y1 + 0.2 * h)), int(min(frame.shape[0], y2 - 0.1 * h))
    if x2 <= x1 or y2 <= y1:
        return np.full(64, 1 / 64, np.float32)
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[y1:y2, x1:x2]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [8, 8], [0, 180, 0, 256]).ravel()
    return (hist / max(hist.sum(), 1e-9)).astype(np.float32)


@dataclass
class PersonTrack:
    """One person's detections: ``items`` = [(frame, row [15])] in time order."""
    track_id: int
    items: List[Tuple[int, np.ndarray]] = field(default_factory=list)
    appearance: Optional[np.ndarray] = None

    @property
    def first(self) -> int:
        return self.items[0][0]

    @property
    def last(self) -> int:
        return self.items[-1][0]


def detect_with_appearance(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                           detect_every: int = 1, timings: Optional[Dict[str, float]] = None):
    """Detections on frames 0, k, 2k, … and the last (None elsewhere), each row with its
    appearance descriptor: (list of [K, 15] or None, list of [K, 64] or None)."""
    if detect_every < 1:
        raise ValueError(f'detect_every must be at least 1, got {detect_every}')
    detector = build_face_detector(detector)
    video = open_frames(source)
    dets, descs = [], []
    last = video.num_frames - 1
    for start, chunk in video.chunks():
        tic = time.perf_counter()
        idx = [i for i in range(len(chunk)) if (start + i) % detect_every == 0 or start + i == last]
        found = detector.detect(chunk[idx]) if idx else []
        per_frame, per_desc = [None] * len(chunk), [None] * len(chunk)
        for i, det in zip(idx, found):
            per_frame[i] = det
            per_desc[i] = np.stack([face_descriptor(chunk[i], row) for row in det]) if len(det) \
                else np.zeros((0, 64), np.float32)
        dets.extend(per_frame)
        descs.extend(per_desc)
        if timings is not None:
            timings['detect'] = timings.get('detect', 0.0) + time.perf_counter() - tic
    return dets, descs


def associate(detections: Sequence[Optional[np.ndarray]],
              descriptors: Sequence[Optional[np.ndarray]], iou_threshold: float = 0.3,
              max_gap: int = 25, appearance_threshold: float = 0.6,
              appearance_weight: float = 0.5) -> List[PersonTrack]:
    """Link detections into person tracks, frame by frame.

    A detection may continue a track last seen at most ``max_gap`` frames ago if their boxes
    overlap (IoU >= ``iou_threshold``) or, after a miss or an occlusion, if it looks the same
    (histogram intersection >= ``appearance_threshold``) and its centre lies within one face
    size of the track's last box. Pairs are chosen by optimal assignment of
    IoU + ``appearance_weight`` × similarity; the rest start new tracks (ids 1, 2, … by start).
    """
    tracks: List[PersonTrack] = []
    for t, det in enumerate(detections):
        if det is None or len(det) == 0:
            continue
        desc = descriptors[t]
        live = [tr for tr in tracks if t - tr.last <= max_gap]
        matched = set()
        if live:
            last_boxes = np.stack([tr.items[-1][1][:4] for tr in live])
            iou = _iou(last_boxes, det[:, :4])
            sim = np.array([[np.minimum(tr.appearance, d).sum() for d in desc] for tr in live])
            centres = (last_boxes[:, None, :2] + last_boxes[:, None, 2:4]) / 2
            dist = np.linalg.norm((det[None, :, :2] + det[None, :, 2:4]) / 2 - centres, axis=2)
            size = np.maximum(last_boxes[:, 2] - last_boxes[:, 0],
                              last_boxes[:, 3] - last_boxes[:, 1])[:, None]
            valid = (iou >= iou_threshold) | ((sim >= appearance_threshold) & (dist <= size))
            score = np.where(valid, iou + appearance_weight * sim, -1.0)
            rows, cols = linear_sum_assignment(-score)
            for r, c in zip(rows, cols):
                if valid[r, c]:
                    tr = live[r]
                    tr.items.append((t, det[c]))
                    tr.appearance = 0.8 * tr.appearance + 0.2 * desc[c]
                    matched.add(c)
        for c in range(len(det)):
            if c not in matched:
                tracks.append(PersonTrack(len(tracks) + 1, [(t, det[c])], desc[c].copy()))
    return tracks


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
                iou_threshold: float = 0.3, timings: Optional[Dict[str, float]] = None
                ) -> Tuple[List[PersonFaceTrack], List[Optional[np.ndarray]]]:
    """One :class:`PersonFaceTrack` per person (spanning at least ``min_track_len`` frames; the
    ``max_faces`` biggest and most persistent ones if given), ids in order of appearance, plus
    the raw per-frame detections (for the single-face path)."""
    video = open_frames(source)
    dets, descs = detect_with_appearance(video, detector, detect_every, timings)
    tic = time.perf_counter()
    tracks = [tr for tr in associate(dets, descs, iou_threshold, max_gap)
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
    if timings is not None:
        timings['track'] = timings.get('track', 0.0) + time.perf_counter() - tic
    return out, dets


def shift_result(result, offset: int):
    """Moves a per-person :class:`VideoResult` (frames counted from the person's first frame)
    onto the video's frame numbers and times."""
    for w in result.windows:
        w.start, w.end = w.start + offset, w.end + offset
        w.frame_inds = [i + offset for i in w.frame_inds]
        if result.fps:
            w.start_time, w.end_time = w.start / result.fps, w.end / result.fps
    return result


def predict_person(frames, person: PersonFaceTrack, inferencer, size: int = 224,
                   margin: float = 1.25, align: bool = False,
                   timings: Optional[Dict[str, float]] = None):
    """EST over one person's span: crops only the sampled frames along the person's box, runs
    the sliding windows and returns a :class:`VideoResult` on the video's frame numbers."""
    from .faces import crop_face
    video = open_frames(frames)
    length = person.last - person.first + 1
    needed = np.unique(np.concatenate([ind for _, _, ind in inferencer.window_indices(length)]))
    tic = time.perf_counter()
    images = video.get([person.first + int(i) for i in needed])
    face = person.face
    crops = {int(i): crop_face(img, face.boxes[i], size, margin, face.landmarks[i], align)
             for i, img in zip(needed, images)}
    if timings is not None:
        timings['crop'] = timings.get('crop', 0.0) + time.perf_counter() - tic
    result = inferencer.predict(lambda idx: [crops[int(i)] for i in idx], length, video.fps,
                                name=video.path)
    result.num_frames = video.num_frames
    return shift_result(result, person.first)
