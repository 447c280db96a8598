"""Face preprocessing for raw videos: read, detect, follow the main face, crop 224x224 faces.

The pieces, usable one by one or through :func:`crop_main_face`:

- :class:`VideoFrames`: reads a video file in chunks of RGB frames (decord), so a long 720p
  video never sits in memory whole; :class:`ArrayFrames` gives in-memory frames the same shape.
- :func:`detect_video`: runs a face detector (:mod:`.face_detectors`) on every ``detect_every``-th
  frame (and the last one).
- :func:`track_main_face`: links detections frame to frame by IoU, keeps the track with the
  largest summed box area (the main face: large and persistent), interpolates its box and
  landmarks over frames without a detection and smooths them over time.
- :func:`crop_face` / :func:`iter_face_crops`: a square of ``margin`` x the longer box side around
  the box centre (optionally rotated so the eyes are level), resized to ``size`` x ``size``.
- :func:`extract_faces`: the batch tool behind ``tools/data/extract_faces.py`` (DFEW-style frame
  folders ``OUT/<name>/1.jpg..N.jpg``, resumable, parallel).
"""
import json
import math
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .face_detectors import FaceDetector, build_face_detector

__all__ = [
    'NoFaceError', 'VideoReadError', 'VideoFrames', 'ArrayFrames', 'open_frames', 'read_video',
    'FaceTrack', 'detect_video', 'track_main_face', 'crop_face', 'iter_face_crops',
    'crop_main_face', 'VIDEO_EXTENSIONS', 'TRACK_FILE', 'find_videos', 'extract_video_faces',
    'extract_faces', 'format_extract_summary'
]

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv',
                    '.flv', '.3gp', '.ts', '.mts', '.m2ts', '.ogv', '.vob')
TRACK_FILE = 'face_track.json'   # written last inside a finished frame folder


class NoFaceError(RuntimeError):
    """No face was detected in any examined frame of a video."""


class VideoReadError(RuntimeError):
    """A video file cannot be opened or decoded, or holds no frames."""


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# --------------------------------------------------------------------------- reading videos


class VideoFrames:
    """Chunked RGB reader of a video file (decord), memory bounded.

    ``num_frames``, ``fps``, ``height`` and ``width`` are known after opening. :meth:`chunks`
    yields ``(start, frames [n, H, W, 3] uint8 RGB)``; a video whose container claims more frames
    than can be decoded is cut at the last decodable frame (``truncated`` becomes True). Videos
    up to ``cache_mb`` megabytes of decoded frames are kept after the first full pass, so a
    second pass (detect, then crop) does not decode again.

    Args:
        path (str): Video file.
        chunk_size (int): Frames per chunk. Defaults to 32.
        num_threads (int): decord decoding threads (0 = automatic). Defaults to 1.
        cache_mb (float): Keep all decoded frames if they fit in this many MB. Defaults to 256.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        VideoReadError: unreadable or corrupt file, no video stream, or zero frames.
    """

    def __init__(self, path: str, chunk_size: int = 32, num_threads: int = 1,
                 cache_mb: float = 256):
        self.path = str(path)
        self.chunk_size = max(1, int(chunk_size))
        if not osp.isfile(self.path):
            raise FileNotFoundError(f'video not found: {self.path}')
        if osp.getsize(self.path) == 0:
            raise VideoReadError(f'{self.path}: empty file (0 bytes)')
        import decord
        decord.logging.set_level(decord.logging.QUIET)
        try:
            self._reader = decord.VideoReader(self.path, num_threads=num_threads)
            self.num_frames = len(self._reader)
        except Exception as err:  # decord raises RuntimeError or DECORDError
            reason = _first_line(err)
            if reason.startswith('Error reading'):   # decord's generic message
                reason = 'not a video, corrupt, or an unsupported format'
            elif 'cannot find video stream' in reason:
                reason = 'no video stream'
            raise VideoReadError(f'{self.path}: cannot open video ({reason})') from None
        if self.num_frames <= 0:
            raise VideoReadError(f'{self.path}: video has no frames')
        try:
            first = self._reader[0].asnumpy()
        except Exception as err:
            raise VideoReadError(
                f'{self.path}: cannot decode the first frame ({_first_line(err)})') from None
        self.height, self.width = first.shape[:2]
        fps = float(self._reader.get_avg_fps() or 0)
        self.fps = fps if math.isfinite(fps) and fps > 0 else None
        self.truncated = False
        frame_mb = self.height * self.width * 3 / 2**20
        self._cache_ok = self.num_frames * frame_mb <= cache_mb
        self._cache: Optional[List[np.ndarray]] = None

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration(self) -> Optional[float]:
        """Length in seconds (None if the frame rate is unknown)."""
        return self.num_frames / self.fps if self.fps else None

    def _decode(self, indices: List[int]) -> np.ndarray:
        try:
            return self._reader.get_batch(indices).asnumpy()
        except Exception:
            pass
        frames = []
        for i in indices:   # find the first undecodable frame and cut the video there
            try:
                frames.append(self._reader[i].asnumpy())
            except Exception as err:
                if i == 0:
                    raise VideoReadError(
                        f'{self.path}: cannot decode frames ({_first_line(err)})') from None
                self.num_frames, self.truncated = i, True
                break
        return np.stack(frames) if frames else np.zeros((0, self.height, self.width, 3),
                                                        np.uint8)

    def chunks(self) -> Iterator[Tuple[int, np.ndarray]]:
        """Yield ``(start, frames [n, H, W, 3] uint8 RGB)`` over the whole video in order."""
        if self._cache is not None:
            start = 0
            for chunk in self._cache:
                yield start, chunk
                start += len(chunk)
            return
        cache = [] if self._cache_ok else None
        start = 0
        while start < self.num_frames:
            chunk = self._decode(list(range(start, min(start + self.chunk_size,
                                                       self.num_frames))))
            if not len(chunk):
                break
            if cache is not None:
                cache.append(chunk)
            yield start, chunk
            start += len(chunk)
        if cache is not None:
            self._cache = cache

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` as ``[n, H, W, 3]`` uint8 RGB."""
        indices = [int(i) for i in indices]
        if any(i < 0 or i >= self.num_frames for i in indices):
            raise IndexError(f'{self.path}: frame index out of range 0..{self.num_frames - 1}')
        if self._cache is not None:
            cs = self.chunk_size
            return np.stack([self._cache[i // cs][i % cs] for i in indices])
        frames = self._decode(indices)
        if len(frames) < len(indices):
            raise VideoReadError(f'{self.path}: cannot decode frame {indices[len(frames)]}')
        return frames


class ArrayFrames:
    """In-memory frames (``[T, H, W, 3]`` array or list of HxWx3 uint8 RGB) shaped like
    :class:`VideoFrames`."""

    def __init__(self, frames, fps: Optional[float] = None, chunk_size: int = 32,
                 name: str = '<frames>'):
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            raise ValueError(f'{name}: expected a sequence of frames, got one HxWx3 image')
        self.frames = list(frames) if not isinstance(frames, np.ndarray) else frames
        if len(self.frames) == 0:
            raise VideoReadError(f'{name}: no frames')
        first = np.asarray(self.frames[0])
        if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
            raise ValueError(f'{name}: frames must be HxWx3 uint8 RGB, got shape '
                             f'{first.shape} dtype {first.dtype}')
        self.path = name
        self.num_frames = len(self.frames)
        self.height, self.width = first.shape[:2]
        self.fps = fps
        self.chunk_size = max(1, int(chunk_size))
        self.truncated = False

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration(self) -> Optional[float]:
        return self.num_frames / self.fps if self.fps else None

    def chunks(self) -> Iterator[Tuple[int, np.ndarray]]:
        for start in range(0, self.num_frames, self.chunk_size):
            part = self.frames[start:start + self.chunk_size]
            yield start, part if isinstance(part, np.ndarray) else np.stack(
                [np.asarray(f) for f in part])

    def get(self, indices: Sequence[int]) -> np.ndarray:
        return np.stack([np.asarray(self.frames[int(i)]) for i in indices])


FrameSource = Union[str, np.ndarray, Sequence[np.ndarray], VideoFrames, ArrayFrames]


def open_frames(source: FrameSource, chunk_size: int = 32, **kwargs):
    """A :class:`VideoFrames` for a path, an :class:`ArrayFrames` for frames; readers pass
    through. ``kwargs`` go to :class:`VideoFrames` (``num_threads``, ``cache_mb``)."""
    if isinstance(source, (VideoFrames, ArrayFrames)):
        return source
    if isinstance(source, (str, os.PathLike)):
        return VideoFrames(os.fspath(source), chunk_size=chunk_size, **kwargs)
    return ArrayFrames(source, chunk_size=chunk_size)


def read_video(path: str, **kwargs) -> Tuple[np.ndarray, Optional[float]]:
    """All frames of a (short) video as ``[T, H, W, 3]`` uint8 RGB, and its fps (or None)."""
    video = VideoFrames(path, **kwargs)
    frames = np.concatenate([chunk for _, chunk in video.chunks()])
    return frames, video.fps


# --------------------------------------------------------------------------- tracking


@dataclass
class FaceTrack:
    """The main face of a video, one entry per frame.

    Attributes:
        boxes (np.ndarray): ``[T, 4]`` float32 (x1, y1, x2, y2), interpolated and smoothed.
        detected (np.ndarray): ``[T]`` bool, True where the main face was really detected,
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


def detect_video(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                 detect_every: int = 1,
                 timings: Optional[Dict[str, float]] = None) -> List[Optional[np.ndarray]]:
    """Detect faces on frames 0, k, 2k, ... and the last frame (k = ``detect_every``).

    Returns:
        list: per frame, a ``[K, 15]`` detection array (see :mod:`.face_detectors`), or None
        for frames that were not examined. ``timings`` (if given) accumulates seconds under
        ``'decode'`` and ``'detect'``.
    """
    if detect_every < 1:
        raise ValueError(f'detect_every must be at least 1, got {detect_every}')
    detector = build_face_detector(detector)
    video = open_frames(source)
    results: List[Optional[np.ndarray]] = []
    last = video.num_frames - 1
    tic = time.perf_counter()
    for start, chunk in video.chunks():
        t_decoded = time.perf_counter()
        idx = [i for i in range(len(chunk))
               if (start + i) % detect_every == 0 or start + i == last]
        dets = detector.detect(chunk[idx]) if idx else []
        per_frame = [None] * len(chunk)
        for i, det in zip(idx, dets):
            per_frame[i] = det
        results.extend(per_frame)
        toc = time.perf_counter()
        if timings is not None:
            timings['decode'] = timings.get('decode', 0.0) + t_decoded - tic
            timings['detect'] = timings.get('detect', 0.0) + toc - t_decoded
        tic = toc
    if video.truncated and results and results[-1] is None:
        # the container promised more frames; examine the real last one
        results[-1] = detector.detect(video.get([len(results) - 1]))[0]
    return results


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[N, M]`` of boxes ``a [N, 4]`` and ``b [M, 4]`` (x1, y1, x2, y2)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def link_tracks(detections: Sequence[Optional[np.ndarray]],
                iou_threshold: float = 0.3) -> List[List[Tuple[int, np.ndarray]]]:
    """Greedily link detections of consecutive examined frames into tracks by box IoU.

    A detection joins the track whose latest box overlaps it most (IoU >= ``iou_threshold``,
    one detection per track per frame); otherwise it starts a new track.

    Returns:
        list of tracks, each a list of ``(frame index, detection row [15])``.
    """
    tracks: List[List[Tuple[int, np.ndarray]]] = []
    for t, det in enumerate(detections):
        if det is None or len(det) == 0:
            continue
        free = list(range(len(det)))
        if tracks:
            iou = _iou(np.stack([tr[-1][1][:4] for tr in tracks]), det[:, :4])
            used_tracks = set()
            for flat in np.argsort(-iou, axis=None, kind='stable'):
                ti, di = divmod(int(flat), iou.shape[1])
                if iou[ti, di] < iou_threshold:
                    break
                if ti in used_tracks or di not in free:
                    continue
                tracks[ti].append((t, det[di]))
                used_tracks.add(ti)
                free.remove(di)
        tracks.extend([(t, det[di])] for di in free)
    return tracks


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over axis 0 with edge padding (window <= 1: unchanged)."""
    window = int(window)
    if window <= 1 or len(values) < 2:
        return values
    left, right = window // 2, window - 1 - window // 2
    padded = np.concatenate([np.repeat(values[:1], left, 0), values,
                             np.repeat(values[-1:], right, 0)])
    csum = np.cumsum(np.concatenate([np.zeros_like(values[:1]), padded]), axis=0)
    return (csum[window:] - csum[:-window]) / window


def track_main_face(detections: Sequence[Optional[np.ndarray]], smooth: int = 5,
                    iou_threshold: float = 0.3, name: str = '<video>') -> FaceTrack:
    """Follow the main face through per-frame detections (None = frame not examined).

    The main face is the IoU-linked track (:func:`link_tracks`) with the largest sum of box
    areas. Its box (centre and size) and landmarks are linearly interpolated over frames
    where it has no detection (held constant before the first and after the last one), then
    smoothed with a centred moving average of ``smooth`` frames (0 or 1: no smoothing).

    Raises:
        NoFaceError: no detection in any frame (message names ``name``).
    """
    num_frames = len(detections)
    tracks = link_tracks(detections, iou_threshold)
    if not tracks:
        examined = sum(d is not None for d in detections)
        raise NoFaceError(f'{name}: no face found in any of the {examined} examined frames '
                          f'(of {num_frames})')
    main = max(tracks, key=track_area)
    return fill_track(main, num_frames, smooth, name)


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
    filled = _smooth(filled, smooth)
    centre, size = filled[:, :2], filled[:, 2:4]
    detected = np.zeros(num_frames, bool)
    detected[frames] = True
    scores = np.zeros(num_frames, np.float32)
    scores[frames] = rows[:, 4]
    return FaceTrack(
        boxes=np.hstack([centre - size / 2, centre + size / 2]).astype(np.float32),
        detected=detected, scores=scores,
        landmarks=filled[:, 4:].reshape(-1, 5, 2).astype(np.float32), source=name)


# --------------------------------------------------------------------------- cropping


def crop_face(frame: np.ndarray, box: Sequence[float], size: int = 224, margin: float = 1.25,
              landmarks: Optional[np.ndarray] = None, align: bool = False) -> np.ndarray:
    """Cut a square face crop ``[size, size, 3]`` (same dtype as ``frame``) out of a frame.

    The square is centred on the box, ``margin`` x its longer side wide; parts outside the frame
    are black. With ``align`` and 5 ``landmarks [5, 2]``, the square is rotated so the two eyes
    (landmarks 0 and 1) are level. Downscaling uses area averaging (no aliasing).
    """
    x1, y1, x2, y2 = [float(v) for v in box[:4]]
    side = max(margin * max(x2 - x1, y2 - y1), 1.0)
    # pixel-index coordinates (pixel i spans [i, i + 1) in box coordinates)
    cx, cy = (x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5
    angle = 0.0
    if align and landmarks is not None and np.all(np.isfinite(landmarks[:2])):
        (lx, ly), (rx, ry) = np.asarray(landmarks[:2], np.float64)
        if rx != lx or ry != ly:
            angle = math.atan2(ry - ly, rx - lx)
    half = side / 2 * (abs(math.cos(angle)) + abs(math.sin(angle))) + 2
    x0, y0 = int(math.floor(cx - half)), int(math.floor(cy - half))
    xe, ye = int(math.ceil(cx + half)) + 1, int(math.ceil(cy + half)) + 1
    h, w = frame.shape[:2]
    roi = np.zeros((ye - y0, xe - x0) + frame.shape[2:], frame.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(xe, w), min(ye, h)
    if sx1 > sx0 and sy1 > sy0:
        roi[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    ccx, ccy = cx - x0, cy - y0
    scale = size / side
    fx = fy = 1.0
    if scale < 1.0:   # shrink with area averaging first, then a near-unit-scale warp
        nw = max(1, round(roi.shape[1] * scale))
        nh = max(1, round(roi.shape[0] * scale))
        fx, fy = nw / roi.shape[1], nh / roi.shape[0]
        roi = cv2.resize(roi, (nw, nh), interpolation=cv2.INTER_AREA)
        ccx, ccy = (ccx + 0.5) * fx - 0.5, (ccy + 0.5) * fy - 0.5
    mat = cv2.getRotationMatrix2D((ccx, ccy), math.degrees(angle), scale / fx)
    mat[:, 2] += ((size - 1) / 2 - ccx, (size - 1) / 2 - ccy)
    return cv2.warpAffine(roi, mat, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def iter_face_crops(source: FrameSource, track: FaceTrack, size: int = 224,
                    margin: float = 1.25, align: bool = False,
                    indices: Optional[Sequence[int]] = None,
                    timings: Optional[Dict[str, float]] = None
                    ) -> Iterator[Tuple[int, np.ndarray]]:
    """Yield ``(start, crops [n, size, size, 3] uint8 RGB)`` along ``track``, chunk by chunk.

    With ``indices``, only those frames are decoded and cropped (one chunk, ``start`` 0, in the
    order given). ``timings`` accumulates ``'crop_decode'`` (decoding, free for cached videos)
    and ``'crop'`` seconds.
    """
    video = open_frames(source)

    def crop_chunk(frame_ids, frames):
        return np.stack([crop_face(f, track.boxes[t], size, margin, track.landmarks[t], align)
                         for t, f in zip(frame_ids, frames)])

    def add(key, seconds):
        if timings is not None:
            timings[key] = timings.get(key, 0.0) + seconds

    tic = time.perf_counter()
    if indices is not None:
        indices = [int(i) for i in indices]
        frames = video.get(indices)
        add('crop_decode', time.perf_counter() - tic)
        tic = time.perf_counter()
        crops = crop_chunk(indices, frames)
        add('crop', time.perf_counter() - tic)
        yield 0, crops
        return
    for start, chunk in video.chunks():
        if start + len(chunk) > track.num_frames:
            raise ValueError(f'{video.path}: video has more frames than the face track '
                             f'({track.num_frames})')
        add('crop_decode', time.perf_counter() - tic)
        tic = time.perf_counter()
        crops = crop_chunk(range(start, start + len(chunk)), chunk)
        add('crop', time.perf_counter() - tic)
        yield start, crops
        tic = time.perf_counter()


def crop_main_face(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                   size: int = 224, margin: float = 1.25, smooth: int = 5, align: bool = False,
                   detect_every: int = 1, iou_threshold: float = 0.3,
                   crop_indices: Optional[Sequence[int]] = None,
                   timings: Optional[Dict[str, float]] = None) -> FaceTrack:
    """Detect, follow and crop the main face of a video or a frame sequence.

    Args:
        source: video path, ``[T, H, W, 3]`` uint8 RGB array or list of frames, or a reader.
        detector: a :class:`FaceDetector` or a name for :func:`build_face_detector`.
        size (int): Side of the square crops. Defaults to 224.
        margin (float): Crop side = margin x the longer box side. Defaults to 1.25.
        smooth (int): Moving-average window (frames) over box centre, size and landmarks;
            0 or 1 turns smoothing off. Defaults to 5.
        align (bool): Rotate crops so the eyes are level. Defaults to False.
        detect_every (int): Detect on every k-th frame only (and the last), interpolating the
            box in between: the main CPU speed lever. Defaults to 1.
        iou_threshold (float): IoU linking detections into tracks. Defaults to 0.3.
        crop_indices (list[int], optional): Crop only these frames (e.g. the sampled ones).
        timings (dict, optional): Accumulates seconds under decode / detect (detection pass)
            and crop_decode / crop (cropping pass).

    Returns:
        FaceTrack: boxes, detected, scores and landmarks for every frame, plus ``crops``.

    Raises:
        NoFaceError: no face in any examined frame. VideoReadError / FileNotFoundError: the
        video cannot be read.
    """
    detector = build_face_detector(detector)
    video = open_frames(source)
    detections = detect_video(video, detector, detect_every, timings)
    track = track_main_face(detections, smooth, iou_threshold, name=video.path)
    chunks = [c for _, c in iter_face_crops(video, track, size, margin, align, crop_indices,
                                            timings)]
    track.crops = np.concatenate(chunks)
    track.crop_indices = (np.arange(track.num_frames) if crop_indices is None else
                          np.asarray(crop_indices, np.int64))
    track.fps, track.frame_size = video.fps, (video.height, video.width)
    track.settings = _settings(detector, size, margin, smooth, align, detect_every,
                               iou_threshold)
    return track


def _settings(detector, size, margin, smooth, align, detect_every, iou_threshold) -> Dict:
    return dict(detector=detector.name, score_threshold=detector.score_threshold,
                max_side=detector.max_side, size=size, margin=margin, smooth=smooth,
                align=align, detect_every=detect_every, iou_threshold=iou_threshold)


# --------------------------------------------------------------------------- batch extraction


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


def find_videos(inputs: Sequence[str] = (), list_file: Optional[str] = None,
                list_root: Optional[str] = None,
                extensions: Sequence[str] = VIDEO_EXTENSIONS
                ) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """Collect videos and the output folder name of each.

    - a folder: every file with a video extension below it (recursively; names starting with
      '.' skipped, e.g. macOS ``._x.mp4``); name = path relative to the folder, no extension;
    - a file: used as given (any extension); name = its stem;
    - ``list_file``: one path per line (blank lines and ``#`` comments skipped), relative paths
      resolved against ``list_root`` (default: the list file's folder); name = path relative to
      that root without extension (its stem if outside the root).

    Returns:
        (videos, problems): ``[(path, name)]`` in input order, and ``[(path, message)]`` for
        missing inputs and for videos whose name is already taken by another video.
    """
    exts = tuple(e.lower() for e in extensions)
    candidates: List[Tuple[str, str]] = []
    problems: List[Tuple[str, str]] = []
    for item in inputs:
        if osp.isdir(item):
            root = osp.abspath(item)
            found = []
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
                found += [osp.join(dirpath, n) for n in filenames
                          if not n.startswith('.') and n.lower().endswith(exts)]
            candidates += [(p, _out_name(p, root)) for p in sorted(found)]
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
        if path in seen:   # the same file reached twice: keep its first name
            continue
        seen.add(path)
        if name in owner:
            problems.append((path, f'{path}: output name {name!r} already taken by '
                                   f'{owner[name]}'))
            continue
        owner[name] = path
        videos.append((path, name))
    return videos, problems


def _is_finished(folder: str) -> bool:
    return osp.isfile(osp.join(folder, TRACK_FILE))


def extract_video_faces(path: str, out_folder: str,
                        detector: Union[str, FaceDetector] = 'retinaface', size: int = 224,
                        margin: float = 1.25, smooth: int = 5, align: bool = False,
                        detect_every: int = 1, iou_threshold: float = 0.3,
                        jpeg_quality: int = 95, overwrite: bool = False,
                        num_threads: int = 1) -> Dict:
    """Write the main-face crops of one video as ``out_folder/1.jpg .. N.jpg`` plus
    ``out_folder/face_track.json`` (the :meth:`FaceTrack.to_dict` summary), atomically.

    Frames go to ``<out_folder>.tmp/`` first, the JSON last, and the folder is renamed to
    ``out_folder`` only when complete, so an existing ``out_folder`` with the JSON is always a
    finished one (skipped unless ``overwrite``); a left-over ``.tmp`` folder is redone.

    Returns:
        dict: ``status`` ('done', 'finished' = skipped, 'no_face' or 'failed'), ``error``
        (one line), ``frames``, ``seconds`` (video length), ``timings`` (decode / detect /
        crop_decode / crop / write seconds).
    """
    result = dict(path=path, folder=out_folder, status='failed', error=None, frames=0,
                  seconds=None, timings={})
    if osp.isdir(out_folder) and not overwrite:
        if _is_finished(out_folder):
            result['status'] = 'finished'
        else:
            result['error'] = (f'{out_folder}: exists but was not written by extract_faces '
                               f'(no {TRACK_FILE}); remove it or pass overwrite')
        return result
    tmp = out_folder.rstrip('/\\') + '.tmp'
    timings = result['timings']
    try:
        detector = build_face_detector(detector)
        video = VideoFrames(path, num_threads=num_threads)
        detections = detect_video(video, detector, detect_every, timings)
        result['frames'], result['seconds'] = len(detections), (
            len(detections) / video.fps if video.fps else None)
        track = track_main_face(detections, smooth, iou_threshold, name=path)
        if osp.isdir(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
        for start, crops in iter_face_crops(video, track, size, margin, align,
                                            timings=timings):
            tic = time.perf_counter()
            for i, crop in enumerate(crops):
                dst = osp.join(tmp, f'{start + i + 1}.jpg')
                if not cv2.imwrite(dst, np.ascontiguousarray(crop[..., ::-1]), params):
                    raise OSError(f'{dst}: cannot write image')
            timings['write'] = timings.get('write', 0.0) + time.perf_counter() - tic
        track.fps, track.frame_size = video.fps, (video.height, video.width)
        track.settings = _settings(detector, size, margin, smooth, align, detect_every,
                                   iou_threshold)
        info = track.to_dict()
        info['truncated'] = video.truncated
        with open(osp.join(tmp, TRACK_FILE), 'w', encoding='utf-8') as f:
            json.dump(info, f)
        if osp.isdir(out_folder):   # overwrite: swap the old folder out only now
            old = out_folder.rstrip('/\\') + '.old'
            if osp.isdir(old):
                shutil.rmtree(old)
            os.rename(out_folder, old)
            os.rename(tmp, out_folder)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_folder)
        result['status'] = 'done'
    except NoFaceError as err:
        result['status'], result['error'] = 'no_face', _first_line(err)
    except (VideoReadError, FileNotFoundError) as err:
        result['error'] = _first_line(err)
    except Exception as err:  # one bad video must not stop a batch: report it
        result['error'] = f'{path}: {type(err).__name__}: {_first_line(err)}'
    finally:
        if result['status'] != 'done' and osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return result


_WORKER: Dict = {}


def _worker_init(detector_cfg: Dict, options: Dict, pool: bool = False):
    _WORKER.update(detector_cfg=detector_cfg, options=options, detector=None)
    if pool:
        cv2.setNumThreads(1)


def _worker_run(job: Tuple[str, str]) -> Dict:
    if _WORKER.get('detector') is None:   # built lazily, once per worker process
        _WORKER['detector'] = build_face_detector(**_WORKER['detector_cfg'])
    return extract_video_faces(job[0], job[1], _WORKER['detector'], **_WORKER['options'])


def extract_faces(inputs: Sequence[str], out_dir: str, list_file: Optional[str] = None,
                  list_root: Optional[str] = None, detector: str = 'retinaface',
                  score_threshold: Optional[float] = None, max_side: Optional[int] = 640,
                  size: int = 224, margin: float = 1.25, smooth: int = 5, align: bool = False,
                  detect_every: int = 1, jpeg_quality: int = 95, workers: int = 1,
                  overwrite: bool = False, progress: bool = True,
                  log: Callable[[str], None] = print) -> Dict:
    """Write DFEW-style face-crop frame folders ``out_dir/<name>/1.jpg..N.jpg`` for many videos.

    Videos come from :func:`find_videos`; each is handled by :func:`extract_video_faces`, in
    ``workers`` processes (each builds its own detector on first use, with
    ``cpu_count // workers`` onnxruntime threads). Finished folders are skipped unless
    ``overwrite``. A video without any face is reported (status ``no_face``) and skipped, not
    counted as failed; unreadable videos and name collisions are failures.

    Returns:
        dict: ``done``, ``finished``, ``no_face``, ``failed`` (lists of ``(path, message)`` for
        the last two, names for the first two), ``frames``, ``video_seconds``, ``timings``
        (summed seconds per phase over processed videos), ``wall_seconds``.
    """
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f'workers must be at least 1, got {workers}')
    if detect_every < 1:
        raise ValueError(f'detect_every must be at least 1, got {detect_every}')
    if size < 1 or margin <= 0:
        raise ValueError(f'size and margin must be positive, got {size} and {margin}')
    tic = time.perf_counter()
    videos, problems = find_videos(inputs, list_file, list_root)
    summary = dict(done=[], finished=[], no_face=[], failed=list(problems), frames=0,
                   video_seconds=0.0, timings={}, wall_seconds=0.0, unknown_fps=0)
    jobs = []
    for path, name in videos:
        folder = osp.join(out_dir, *name.split('/'))
        if not overwrite and _is_finished(folder):
            summary['finished'].append(name)
        else:
            jobs.append((path, folder))
    cpus = os.cpu_count() or 1
    threads = max(1, cpus // workers) if workers > 1 else None
    detector_cfg = dict(name=detector, score_threshold=score_threshold, max_side=max_side)
    if detector == 'retinaface':
        detector_cfg['num_threads'] = threads
    options = dict(size=size, margin=margin, smooth=smooth, align=align,
                   detect_every=detect_every, jpeg_quality=jpeg_quality, overwrite=overwrite,
                   num_threads=1 if workers > 1 else 0)
    os.makedirs(out_dir, exist_ok=True)
    bar = tqdm(total=len(jobs), unit='video', disable=not progress, dynamic_ncols=True)

    def collect(res: Dict):
        name = osp.relpath(res['folder'], out_dir).replace(os.sep, '/')
        status = res['status']
        if status == 'done':
            summary['done'].append(name)
        elif status == 'finished':
            summary['finished'].append(name)
        else:
            summary[status].append((res['path'], res['error']))
            (bar.write if progress else log)(
                f"{'no face' if status == 'no_face' else 'FAILED'}: {res['error']}")
        if status == 'done':
            summary['frames'] += res['frames']
            if res['seconds']:
                summary['video_seconds'] += res['seconds']
            else:
                summary['unknown_fps'] += 1
            for key, sec in res['timings'].items():
                summary['timings'][key] = summary['timings'].get(key, 0.0) + sec
        bar.set_postfix(done=len(summary['done']), no_face=len(summary['no_face']),
                        failed=len(summary['failed']))
        bar.update(1)

    try:
        if workers == 1 or len(jobs) <= 1:
            _worker_init(detector_cfg, options)
            for job in jobs:
                collect(_worker_run(job))
        else:
            import multiprocessing as mp
            ctx = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn')
            with ctx.Pool(min(workers, len(jobs)), _worker_init,
                          (detector_cfg, options, True)) as pool:
                for res in pool.imap_unordered(_worker_run, jobs):
                    collect(res)
    finally:
        bar.close()
    summary['wall_seconds'] = time.perf_counter() - tic
    return summary


def format_extract_summary(summary: Dict, workers: int = 1) -> str:
    """Human-readable lines for an :func:`extract_faces` summary: counts, the names of
    no-face and failed videos, and processing seconds per second of video per phase."""
    lines = [f"done {len(summary['done'])}, skipped as finished {len(summary['finished'])}, "
             f"no face {len(summary['no_face'])}, failed {len(summary['failed'])}"]
    lines += [f'  no face: {path}' for path, _ in summary['no_face']]
    lines += [f'  failed: {msg}' for _, msg in summary['failed']]
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
