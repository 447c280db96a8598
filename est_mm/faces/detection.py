"""The detection loop: a face detector over the frames of a source, on every ``detect_every``-th
frame and the last one. Single- and multi-face tracking both consume :func:`iter_detections`."""
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np

from ..utils.stage_timer import StageTimer
from ..video.reader import FrameSource, open_frames
from .detectors import FaceDetector, build_face_detector

__all__ = ['iter_detections', 'detect_video']


def iter_detections(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                    detect_every: int = 1, timer: Optional[StageTimer] = None
                    ) -> Iterator[Tuple[int, np.ndarray, List[Optional[np.ndarray]]]]:
    """Yield ``(start, frames [n, H, W, 3] uint8 RGB, detections)`` chunk by chunk, in order.

    ``detections[i]`` is the ``[K, 15]`` array of frame ``start + i`` (see
    :mod:`.detectors`) on frames 0, k, 2k, ... and the last frame (k = ``detect_every``), None on
    the others. One chunk is decoded ahead, so a file that ends early (fewer decodable frames
    than its header claims) still gets its real last frame examined. ``timer`` accumulates
    ``decode`` and ``detect`` seconds.
    """
    if detect_every < 1:
        raise ValueError(f'detect_every must be at least 1, got {detect_every}')
    detector = build_face_detector(detector)
    video = open_frames(source)
    timer = timer or StageTimer()
    chunks = video.chunks()
    pending = None
    while True:
        with timer('decode'):
            upcoming = next(chunks, None)
        if pending is not None:
            start, chunk = pending
            last = video.num_frames - 1
            idx = [i for i in range(len(chunk))
                   if (start + i) % detect_every == 0 or start + i == last]
            with timer('detect'):
                found = detector.detect(chunk[idx]) if idx else []
            detections: List[Optional[np.ndarray]] = [None] * len(chunk)
            for i, det in zip(idx, found):
                detections[i] = det
            yield start, chunk, detections
        if upcoming is None:
            return
        pending = upcoming


def detect_video(source: FrameSource, detector: Union[str, FaceDetector] = 'retinaface',
                 detect_every: int = 1,
                 timer: Optional[StageTimer] = None) -> List[Optional[np.ndarray]]:
    """Per frame, a ``[K, 15]`` detection array, or None for frames not examined (see
    :func:`iter_detections`)."""
    return [det for _, _, dets in iter_detections(source, detector, detect_every, timer)
            for det in dets]
