"""Crop geometry: square face crops around a track's boxes, and :func:`crop_main_face`, the
whole single-face path (detect → follow the main face → crop)."""
import math
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..utils.stage_timer import StageTimer
from ..video.reader import FrameSource, open_frames
from .detection import detect_video
from .detectors import FaceDetector, build_face_detector
from .tracking import FaceTrack, track_main_face

__all__ = ['crop_face', 'iter_face_crops', 'crop_main_face', 'face_settings']


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


def _crop_frames(track: FaceTrack, frame_ids, frames, size, margin, align) -> np.ndarray:
    return np.stack([crop_face(f, track.boxes[t], size, margin, track.landmarks[t], align)
                     for t, f in zip(frame_ids, frames)])


def iter_face_crops(source: FrameSource, track: FaceTrack, size: int = 224,
                    margin: float = 1.25, align: bool = False,
                    indices: Optional[Sequence[int]] = None,
                    timer: Optional[StageTimer] = None) -> Iterator[Tuple[int, np.ndarray]]:
    """Yield ``(start, crops [n, size, size, 3] uint8 RGB)`` along ``track``, chunk by chunk.

    With ``indices``, only those frames are decoded and cropped (one chunk, ``start`` 0, in the
    order given). ``timer`` accumulates ``crop_decode`` (decoding, free for cached videos) and
    ``crop`` seconds.
    """
    video = open_frames(source)
    timer = timer or StageTimer()
    if indices is not None:
        indices = [int(i) for i in indices]
        with timer('crop_decode'):
            frames = video.get(indices)
        with timer('crop'):
            crops = _crop_frames(track, indices, frames, size, margin, align)
        yield 0, crops
        return
    chunks = video.chunks()
    while True:
        with timer('crop_decode'):
            item = next(chunks, None)
        if item is None:
            return
        start, chunk = item
        if start + len(chunk) > track.num_frames:
            raise ValueError(f'{video.path}: video has more frames than the face track '
                             f'({track.num_frames})')
        with timer('crop'):
            crops = _crop_frames(track, range(start, start + len(chunk)), chunk, size, margin,
                                 align)
        yield start, crops


def face_settings(detector: FaceDetector, size, margin, smooth, align, detect_every,
                  iou_threshold) -> Dict:
    """The settings recorded with a :class:`FaceTrack` (``face_track.json``, the demo JSON)."""
    return dict(detector=detector.name, score_threshold=detector.score_threshold,
                max_side=detector.max_side, size=size, margin=margin, smooth=smooth,
                align=align, detect_every=detect_every, iou_threshold=iou_threshold)


def crop_main_face(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                   size: int = 224, margin: float = 1.25, smooth: int = 5, align: bool = False,
                   detect_every: int = 1, iou_threshold: float = 0.3,
                   crop_indices: Optional[Sequence[int]] = None,
                   timer: Optional[StageTimer] = None) -> FaceTrack:
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
        timer (StageTimer, optional): Accumulates decode / detect (detection pass) and
            crop_decode / crop (cropping pass) seconds.

    Returns:
        FaceTrack: boxes, detected, scores and landmarks for every frame, plus ``crops``.

    Raises:
        NoFaceError: no face in any examined frame. VideoReadError / FileNotFoundError: the
        video cannot be read.
    """
    detector = build_face_detector(detector)
    video = open_frames(source)
    detections = detect_video(video, detector, detect_every, timer)
    track = track_main_face(detections, smooth, iou_threshold, name=video.path)
    chunks = [c for _, c in iter_face_crops(video, track, size, margin, align, crop_indices,
                                            timer)]
    track.crops = np.concatenate(chunks)
    track.crop_indices = (np.arange(track.num_frames) if crop_indices is None else
                          np.asarray(crop_indices, np.int64))
    track.fps, track.frame_size = video.fps, (video.height, video.width)
    track.settings = face_settings(detector, size, margin, smooth, align, detect_every,
                                   iou_threshold)
    return track
