"""Following faces through per-frame detections:

- :class:`IoULinker`: greedy box-IoU linking, behind :func:`track_main_face` (the main face of a
  video: the linked track with the largest summed box area; dataset face extraction);
- :class:`FaceTracker`: one track per person (box IoU plus a colour-histogram appearance cue,
  optimal assignment per frame, kept through short misses and occlusions), behind
  :class:`LiveFaceBoxes` (the demo, files and live sources alike: a box for every frame from
  past frames only) and the batch :func:`~est_mm.faces.multi_face.track_faces`;
- :func:`fill_track`: one track's detections → a per-frame :class:`FaceTrack` (interpolated over
  frames without a detection, smoothed over time; needs the whole video).

Both trackers take ``update(frame_idx, detections[, descriptors])`` per examined frame, so a
streaming reader can drive them frame by frame.
"""
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.optimize import linear_sum_assignment

__all__ = ['NoFaceError', 'FaceTrack', 'box_iou', 'IoULinker', 'link_tracks', 'smooth_series',
           'track_area', 'fill_track', 'track_main_face', 'face_descriptor', 'PersonTrack',
           'FaceTracker', 'associate', 'LiveFaceBoxes']

Detections = Sequence[Optional[np.ndarray]]


class NoFaceError(RuntimeError):
    """No face was detected in any examined frame of a video."""


@dataclass
class FaceTrack:
    """One face over the frames of a video (or of a person's span), one entry per frame.

    Attributes:
        boxes (np.ndarray): ``[T, 4]`` float32 (x1, y1, x2, y2), interpolated and smoothed.
        detected (np.ndarray): ``[T]`` bool, True where the face was really detected,
            False where its box was filled in (not examined, missed, or occluded).
        scores (np.ndarray): ``[T]`` float32 detector score (0 where not detected).
        landmarks (np.ndarray): ``[T, 5, 2]`` float32, interpolated and smoothed like the boxes.
        crops (np.ndarray, optional): ``[N, size, size, 3]`` uint8 RGB face crops of the frames
            ``crop_indices`` (all frames by default).
        crop_indices (np.ndarray, optional): ``[N]`` frame index of each crop.
        fps (float, optional), source (str, optional), frame_size ((H, W), optional).
    """

    boxes: np.ndarray
    detected: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    crops: Optional[np.ndarray] = None
    crop_indices: Optional[np.ndarray] = None
    fps: Optional[float] = None
    source: Optional[str] = None
    frame_size: Optional[Tuple[int, int]] = None
    settings: Dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.boxes)

    def to_dict(self) -> Dict:
        """JSON-ready summary (no crops); boxes and landmarks rounded to 0.1 pixel."""
        return dict(
            source=self.source, num_frames=self.num_frames, fps=self.fps,
            frame_size=list(self.frame_size) if self.frame_size else None,
            num_detected=int(self.detected.sum()), settings=self.settings,
            boxes=np.round(self.boxes.astype(float), 1).tolist(),
            detected=[int(d) for d in self.detected],
            scores=np.round(self.scores.astype(float), 4).tolist(),
            landmarks=np.round(self.landmarks.reshape(-1, 10).astype(float), 1).tolist())


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[N, M]`` of boxes ``a [N, 4]`` and ``b [M, 4]`` (x1, y1, x2, y2)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


class IoULinker:
    """Greedy linking of detections into tracks by box IoU, one examined frame at a time.

    A detection joins the track whose latest box overlaps it most (IoU >= ``iou_threshold``,
    one detection per track per frame); otherwise it starts a new track. ``tracks``: lists of
    ``(frame index, detection row [15])``.
    """

    def __init__(self, iou_threshold: float = 0.3):
        self.iou_threshold = iou_threshold
        self.tracks: List[List[Tuple[int, np.ndarray]]] = []

    def update(self, frame_idx: int, det: Optional[np.ndarray]) -> None:
        """Add the detections ``[K, 15]`` of frame ``frame_idx`` (None or empty: nothing)."""
        if det is None or len(det) == 0:
            return
        free = list(range(len(det)))
        if self.tracks:
            iou = box_iou(np.stack([tr[-1][1][:4] for tr in self.tracks]), det[:, :4])
            used_tracks = set()
            for flat in np.argsort(-iou, axis=None, kind='stable'):
                ti, di = divmod(int(flat), iou.shape[1])
                if iou[ti, di] < self.iou_threshold:
                    break
                if ti in used_tracks or di not in free:
                    continue
                self.tracks[ti].append((frame_idx, det[di]))
                used_tracks.add(ti)
                free.remove(di)
        self.tracks.extend([(frame_idx, det[di])] for di in free)


def link_tracks(detections: Detections,
                iou_threshold: float = 0.3) -> List[List[Tuple[int, np.ndarray]]]:
    """:class:`IoULinker` over per-frame detections (None = frame not examined)."""
    linker = IoULinker(iou_threshold)
    for t, det in enumerate(detections):
        linker.update(t, det)
    return linker.tracks


def smooth_series(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` frames along axis 0, centred (for an even window, one
    more frame before than after), edges repeated; ``window`` <= 1 leaves ``values`` as is."""
    window = int(window)
    if window <= 1 or len(values) < 2:
        return values
    return uniform_filter1d(np.asarray(values, np.float64), window, axis=0, mode='nearest')


def track_area(track: Sequence[Tuple[int, np.ndarray]]) -> float:
    """Sum of the box areas of a linked track (how big and how persistent a face is)."""
    return sum(float(np.prod(np.clip(row[2:4] - row[:2], 0, None))) for _, row in track)


def fill_track(track: Sequence[Tuple[int, np.ndarray]], num_frames: int, smooth: int = 5,
               name: str = '<video>') -> FaceTrack:
    """A :class:`FaceTrack` over frames ``0..num_frames-1`` from one track's detections
    ``[(frame, row [15])]``: box centre, size and landmarks linearly interpolated between
    detections (held before the first and after the last), then smoothed over ``smooth`` frames."""
    frames = np.array([t for t, _ in track])
    rows = np.stack([row for _, row in track]).astype(np.float64)
    params = np.hstack([(rows[:, :2] + rows[:, 2:4]) / 2, rows[:, 2:4] - rows[:, :2],
                        rows[:, 5:15]])   # cx, cy, w, h, 10 landmark coordinates
    all_t = np.arange(num_frames)
    filled = np.stack([np.interp(all_t, frames, params[:, j])
                       for j in range(params.shape[1])], axis=1)
    filled = smooth_series(filled, smooth)
    centre, size = filled[:, :2], filled[:, 2:4]
    detected = np.zeros(num_frames, bool)
    detected[frames] = True
    scores = np.zeros(num_frames, np.float32)
    scores[frames] = rows[:, 4]
    return FaceTrack(
        boxes=np.hstack([centre - size / 2, centre + size / 2]).astype(np.float32),
        detected=detected, scores=scores,
        landmarks=filled[:, 4:].reshape(-1, 5, 2).astype(np.float32), source=name)


def track_main_face(detections: Detections, smooth: int = 5, iou_threshold: float = 0.3,
                    name: str = '<video>') -> FaceTrack:
    """Follow the main face through per-frame detections (None = frame not examined).

    The main face is the IoU-linked track (:class:`IoULinker`) with the largest sum of box
    areas, filled in and smoothed by :func:`fill_track` (``smooth`` 0 or 1: no smoothing).

    Raises:
        NoFaceError: no detection in any frame (message names ``name``).
    """
    num_frames = len(detections)
    tracks = link_tracks(detections, iou_threshold)
    if not tracks:
        examined = sum(d is not None for d in detections)
        raise NoFaceError(f'{name}: no face found in any of the {examined} examined frames '
                          f'(of {num_frames})')
    return fill_track(max(tracks, key=track_area), num_frames, smooth, name)


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


class FaceTracker:
    """One track per person, fed one examined frame at a time (past frames only).

    A detection may continue a track last seen at most ``max_gap`` frames ago if their boxes
    overlap (IoU >= ``iou_threshold``) or, after a miss or an occlusion, if it looks the same
    (histogram intersection >= ``appearance_threshold``) and its centre lies within one face
    size of the track's last box. Pairs are chosen by optimal assignment of
    IoU + ``appearance_weight`` × similarity; the rest start new tracks (ids 1, 2, … by start).

    Measured against maintained trackers on the footage of tests/test_multi_face.py (RetinaFace
    boxes, Nov 2026): norfair 2.3.0 (IoU or centre distance, hit_counter_max 25) kept both ids
    through the 8-frame occlusion and split the one-after-the-other clip right, but requires
    numpy < 2 (the pins have numpy 2.2); supervision 0.26.1's ByteTrack kept both ids through
    the occlusion but joined or cut the one-after-the-other people ((0, 47), or (0, 22) and
    (26, 47) instead of (24, 47)), needs opencv-python beside our headless OpenCV, and is gone
    from supervision 0.27+ (0.31.2 has no ByteTrack); norfair-enough 2.4.3, a young fork of
    norfair that allows numpy 2, passed both. Kept ours: the forks' trackers are motion-only
    (no appearance cue for people who move while hidden) and count ``hit_counter_max`` in
    updates, not frames, so ``max_gap`` would change meaning with ``detect_every``.
    """

    def __init__(self, iou_threshold: float = 0.3, max_gap: int = 25,
                 appearance_threshold: float = 0.6, appearance_weight: float = 0.5):
        self.iou_threshold = iou_threshold
        self.max_gap = max_gap
        self.appearance_threshold = appearance_threshold
        self.appearance_weight = appearance_weight
        self.tracks: List[PersonTrack] = []
        self.started = 0  # tracks ever started (ids stay unique after :meth:`drop_stale`)

    def update(self, frame_idx: int, det: Optional[np.ndarray],
               descriptors: Optional[np.ndarray]) -> None:
        """Add the detections ``[K, 15]`` of frame ``frame_idx`` with their appearance
        ``descriptors [K, 64]`` (:func:`face_descriptor`); None or empty: nothing seen."""
        if det is None or len(det) == 0:
            return
        t, desc = frame_idx, descriptors
        live = [tr for tr in self.tracks if t - tr.last <= self.max_gap]
        matched = set()
        if live:
            last_boxes = np.stack([tr.items[-1][1][:4] for tr in live])
            iou = box_iou(last_boxes, det[:, :4])
            sim = np.array([[np.minimum(tr.appearance, d).sum() for d in desc] for tr in live])
            centres = (last_boxes[:, None, :2] + last_boxes[:, None, 2:4]) / 2
            dist = np.linalg.norm((det[None, :, :2] + det[None, :, 2:4]) / 2 - centres, axis=2)
            size = np.maximum(last_boxes[:, 2] - last_boxes[:, 0],
                              last_boxes[:, 3] - last_boxes[:, 1])[:, None]
            valid = (iou >= self.iou_threshold) | ((sim >= self.appearance_threshold) &
                                                   (dist <= size))
            score = np.where(valid, iou + self.appearance_weight * sim, -1.0)
            rows, cols = linear_sum_assignment(-score)
            for r, c in zip(rows, cols):
                if valid[r, c]:
                    tr = live[r]
                    tr.items.append((t, det[c]))
                    tr.appearance = 0.8 * tr.appearance + 0.2 * desc[c]
                    matched.add(c)
        for c in range(len(det)):
            if c not in matched:
                self.started += 1
                self.tracks.append(PersonTrack(self.started, [(t, det[c])], desc[c].copy()))

    def drop_stale(self, frame_idx: int) -> List[PersonTrack]:
        """Removes and returns the tracks last seen more than ``max_gap`` frames before
        ``frame_idx`` (no later detection can continue them)."""
        stale = [tr for tr in self.tracks if frame_idx - tr.last > self.max_gap]
        self.tracks = [tr for tr in self.tracks if frame_idx - tr.last <= self.max_gap]
        return stale


def associate(detections: Detections, descriptors: Sequence[Optional[np.ndarray]],
              iou_threshold: float = 0.3, max_gap: int = 25, appearance_threshold: float = 0.6,
              appearance_weight: float = 0.5) -> List[PersonTrack]:
    """:class:`FaceTracker` over per-frame detections and descriptors (None = not examined)."""
    tracker = FaceTracker(iou_threshold, max_gap, appearance_threshold, appearance_weight)
    for t, (det, desc) in enumerate(zip(detections, descriptors)):
        tracker.update(t, det, desc)
    return tracker.tracks


class LiveFaceBoxes:
    """A box for every live frame of every face, from past frames only (for live sources and
    files alike).

    :class:`FaceTracker` links the detections of the examined frames; between detections, and
    through misses of up to ``max_gap`` frames, a track's box and landmarks are its last
    detection's (held, no look-ahead: unlike :func:`fill_track`, nothing is interpolated towards
    a later detection or smoothed over future frames). ``smooth`` > 1: the box and landmarks
    given for a frame are the mean over the track's last ``smooth`` frames (a trailing moving
    average). Only each track's last detection (and ``smooth`` rows) is kept, so memory grows
    with the number of live faces, not with time. ``max_faces`` caps the faces followed at once
    (later faces are ignored while that many are live).
    """

    def __init__(self, max_gap: int = 25, iou_threshold: float = 0.3,
                 max_faces: Optional[int] = None, smooth: int = 0):
        self.tracker = FaceTracker(iou_threshold, max_gap)
        self.max_faces = max_faces
        self.smooth = max(int(smooth), 1)
        self._ignored = set()
        self._recent: Dict[int, deque] = {}

    def update(self, frame_idx: int, det: Optional[np.ndarray],
               descriptors: Optional[np.ndarray]) -> None:
        """Detections ``[K, 15]`` and descriptors ``[K, 64]`` of an examined frame."""
        known = {tr.track_id for tr in self.tracker.tracks}
        self.tracker.update(frame_idx, det, descriptors)
        for tr in self.tracker.tracks:
            del tr.items[:-1]
            if tr.track_id not in known and self.max_faces is not None and \
                    len(known - self._ignored) >= self.max_faces:
                self._ignored.add(tr.track_id)
            known.add(tr.track_id)

    def ended(self, frame_idx: int) -> List[int]:
        """Ids of the followed tracks that frame ``frame_idx`` is too late to continue."""
        stale = [tr.track_id for tr in self.tracker.drop_stale(frame_idx)]
        out = [t for t in stale if t not in self._ignored]
        self._ignored.difference_update(stale)
        for t in stale:
            self._recent.pop(t, None)
        return out

    def boxes(self) -> Dict[int, np.ndarray]:
        """``{track id: row [15]}`` (box, score, 5 landmarks) of every live track in the current
        frame: the last detection's row, or with ``smooth`` the trailing mean of box and
        landmarks (the score is the last detection's). Call once per frame, in order."""
        rows = {tr.track_id: tr.items[-1][1] for tr in self.tracker.tracks
                if tr.track_id not in self._ignored}
        if self.smooth <= 1:
            return rows
        out = {}
        for t, row in rows.items():
            recent = self._recent.setdefault(t, deque(maxlen=self.smooth))
            recent.append(np.asarray(row, np.float32))
            mean = np.mean(recent, axis=0).astype(np.float32)
            mean[4] = row[4]
            out[t] = mean
        return out

    def detected(self, frame_idx: int) -> set:
        """Ids of the followed tracks that a detection of frame ``frame_idx`` continued."""
        return {tr.track_id for tr in self.tracker.tracks
                if tr.items[-1][0] == frame_idx and tr.track_id not in self._ignored}
