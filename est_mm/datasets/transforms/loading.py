import json
import logging
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from mmaction.registry import TRANSFORMS
from ...utils.errors import first_line
from ..integrity import DamagedFrameError, DecodedImage, decode_image, printable

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
APPLEDOUBLE_PREFIX = '._'  # macOS metadata files ("._5.jpg") copied beside the real ones

_TRAILING_INT = re.compile(r'(\d+)$')
DAMAGED_FRAME_POLICIES = ('warn', 'error')
_WARNED = set()  # damaged frames already named by this process (when no hook collects them)


def natural_frame_key(name: str) -> Tuple:
    """Sort key for a frame file name: the trailing integer of the stem, then the name.

    ``2.jpg`` sorts before ``10.jpg`` and ``00001_2.jpg`` before ``00001_10.jpg``; names without
    a trailing integer come after all numbered ones.
    """
    match = _TRAILING_INT.search(osp.splitext(name)[0])
    return (0, int(match.group(1)), name) if match else (1, 0, name)


def is_frame_name(name: str) -> bool:
    """Whether a file called ``name`` in a frame folder is a frame: an image extension (any
    case), and not a macOS AppleDouble ``._*`` file."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(APPLEDOUBLE_PREFIX)


def list_frames(frame_dir: str) -> List[str]:
    """Paths of the frames (:func:`is_frame_name`) in ``frame_dir`` in natural frame order."""
    if not osp.isdir(frame_dir):
        raise FileNotFoundError(f'frame folder not found: {frame_dir}')
    names = [n for n in os.listdir(frame_dir) if is_frame_name(n)]
    if not names:
        raise FileNotFoundError(f'frame folder has no {"/".join(IMAGE_EXTENSIONS)} images: '
                                f'{frame_dir}')
    return [osp.join(frame_dir, n) for n in sorted(names, key=natural_frame_key)]


def is_utf8_path(path: str) -> bool:
    """Whether ``path`` can be passed to OpenCV/decord as it is: a name with bytes that are not
    UTF-8 (Python spells them as surrogates) crashes ``cv2.imread`` and fails in decord."""
    try:
        path.encode('utf-8')
        return True
    except UnicodeEncodeError:
        return False


@TRANSFORMS.register_module()
class VideoOrFramesInit(BaseTransform):
    """Open a sample that is either a folder of frame images or a video file.

    With ``frame_dir`` in results, the folder's images (.jpg .jpeg .png .bmp, any case; not
    AppleDouble ``._*`` files) are listed in natural order (trailing integer of the name: ``2.jpg`` before ``10.jpg``). Otherwise
    ``filename`` is opened with decord.

    Required keys: ``frame_dir`` or ``filename``.
    Added keys: ``total_frames``; ``frame_paths`` (frames) or ``video_reader`` (video).

    Args:
        num_threads (int): Decoding threads for decord. Defaults to 1.
    """

    def __init__(self, num_threads: int = 1) -> None:
        self.num_threads = num_threads

    def transform(self, results: Dict) -> Dict:
        if results.get('frame_dir'):
            paths = list_frames(results['frame_dir'])
            results['frame_paths'] = paths
            results['total_frames'] = len(paths)
            return results
        filename = results.get('filename')
        if not filename:
            raise KeyError("VideoOrFramesInit: results has neither 'frame_dir' nor 'filename'")
        if not osp.isfile(filename):
            raise FileNotFoundError(f'video file not found: {filename}')
        if osp.getsize(filename) == 0:
            raise RuntimeError(f'video file is empty (0 bytes): {filename}')
        import decord
        try:
            if is_utf8_path(filename):
                reader = decord.VideoReader(filename, num_threads=self.num_threads)
            else:  # decord reads a file object into memory instead
                with open(filename, 'rb') as f:
                    reader = decord.VideoReader(f, num_threads=self.num_threads)
        except Exception as err:  # decord raises its own error types for bad input
            raise RuntimeError(f'cannot read video {filename} (corrupt, truncated, no frames or '
                               f'not a video): {first_line(err)}') from None
        if len(reader) == 0:
            raise RuntimeError(f'video has no frames: {filename}')
        results['video_reader'] = reader
        results['total_frames'] = len(reader)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_threads={self.num_threads})'


def decode_rgb(path: str) -> DecodedImage:
    """:func:`~est_mm.datasets.integrity.decode_image` (one strict decode) with the pixels as an
    HxWx3 uint8 RGB array (gray and RGBA become RGB)."""
    img, problem = decode_image(path)
    return DecodedImage(None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB), problem)


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array (gray and RGBA become RGB); a damaged file
    that still decodes is returned as decoded (:func:`decode_rgb` says what is wrong)."""
    img, problem = decode_rgb(path)
    if img is None:
        raise RuntimeError(f'cannot read image {path}: {problem}')
    return img


def image_size(path: str) -> Tuple[int, int]:
    """``(h, w)`` of ``read_rgb(path)`` from the file's header, without decoding the pixels.

    EXIF orientations 5-8 (a quarter turn, which OpenCV applies) swap the two. A header Pillow
    cannot parse falls back to ``read_rgb`` (and its error for unreadable files).
    """
    try:  # open() takes names with non-UTF-8 bytes, as read_rgb's np.fromfile does
        with open(path, 'rb') as f, Image.open(f) as img:
            w, h = img.size
            quarter_turn = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        return read_rgb(path).shape[:2]
    return (w, h) if quarter_turn else (h, w)


def _expand(decoded: List[np.ndarray], inverse: np.ndarray) -> List[np.ndarray]:
    """``[decoded[i] for i in inverse]`` with repeats copied, so in-place transforms (e.g.
    mmaction's ``Flip``) never touch one array twice."""
    seen = set()
    imgs = []
    for i in inverse.tolist():
        imgs.append(decoded[i].copy() if i in seen else decoded[i])
        seen.add(i)
    return imgs


@TRANSFORMS.register_module()
class VideoOrFramesDecode(BaseTransform):
    """Decode the frames at ``frame_inds`` from what :class:`VideoOrFramesInit` opened.

    Each distinct index is decoded once. Frames whose size differs from the clip's frame 0 are
    resized to the size of the clip's frame 0 (bilinear), whichever frames were sampled: a frame
    folder's frame 0 is not decoded for this when it was not sampled, only its header is read.

    A frame image is decoded strictly (:func:`~est_mm.datasets.integrity.decode_image`): a
    damaged one (truncated, corrupt data, bad CRC) is reported with its file and problem, and
    loaded as far as it decodes (``on_damaged='warn'``), or stops the load with a
    :class:`~est_mm.datasets.integrity.DamagedFrameError` (``'error'``). Reports go to the
    file ``damage_log`` names when set (:class:`~est_mm.engine.hooks.DamagedFrameHook` sets it
    and names each frame once in the run's log, from every DataLoader worker), else to a
    warning line, once per file and process. A frame that does not decode at all raises
    ``RuntimeError`` naming it either way.

    Required keys: ``frame_inds``, ``total_frames`` and ``frame_paths`` or ``video_reader``.
    Added keys: ``imgs`` (list of HxWx3 uint8 RGB arrays in ``frame_inds`` order),
    ``original_shape`` and ``img_shape`` (``(h, w)``). Removed keys: ``video_reader``.

    Args:
        on_damaged (str): ``'warn'`` or ``'error'``, see above. Defaults to ``'warn'``.
    """

    def __init__(self, on_damaged: str = 'warn') -> None:
        if on_damaged not in DAMAGED_FRAME_POLICIES:
            raise ValueError(f'VideoOrFramesDecode: on_damaged must be one of '
                             f'{DAMAGED_FRAME_POLICIES}, got {on_damaged!r}')
        self.on_damaged = on_damaged
        self.damage_log: Optional[str] = None

    def _damaged(self, path: str, problem: str, decoded: bool) -> None:
        """Report a damaged frame; raise when told to stop (a frame that does not decode at all
        raises in the caller)."""
        if self.damage_log:
            with open(self.damage_log, 'a', encoding='utf-8') as f:  # one line, one write
                f.write(json.dumps([path, problem, decoded]) + '\n')
        if not decoded:
            return
        if self.on_damaged == 'error':
            raise DamagedFrameError(f'damaged frame {path}: {problem} (strict_frames=True)')
        if not self.damage_log and path not in _WARNED:
            _WARNED.add(path)
            from mmengine.logging import print_log
            print_log(printable(f'damaged frame {path}: {problem}; loaded as far as it '
                                f'decodes'), logger='current', level=logging.WARNING)

    def _read_frames(self, paths: List[str]) -> List[np.ndarray]:
        decoded = []
        for path in paths:
            img, problem = decode_rgb(path)
            if problem:
                self._damaged(path, problem, img is not None)
            if img is None:
                raise RuntimeError(f'cannot read image {path}: {problem}')
            decoded.append(img)
        return decoded

    def transform(self, results: Dict) -> Dict:
        name = results.get('frame_dir') or results.get('filename') or '<unnamed sample>'
        inds = np.asarray(results['frame_inds'], dtype=np.int64).reshape(-1)
        total = int(results['total_frames'])
        if inds.size == 0:
            raise ValueError(f'VideoOrFramesDecode: {name}: frame_inds is empty')
        if inds.min() < 0 or inds.max() >= total:
            raise IndexError(f'VideoOrFramesDecode: {name}: frame_inds must lie in [0, {total}), '
                             f'got [{inds.min()}, {inds.max()}]')
        unique, inverse = np.unique(inds, return_inverse=True)
        if results.get('frame_paths') is not None:
            paths = results['frame_paths']
            decoded = self._read_frames([paths[i] for i in unique])
            h, w = decoded[0].shape[:2] if unique[0] == 0 else image_size(paths[0])
        elif results.get('video_reader') is not None:
            reader = results['video_reader']
            try:
                decoded = list(reader.get_batch(unique.tolist()).asnumpy())
            except Exception as err:
                raise RuntimeError(f'cannot decode frames of video {name}: '
                                   f'{first_line(err)}') from None
            finally:
                reader.seek(0)  # stops decord decoding ahead into memory (decord #157, #208)
            h, w = decoded[0].shape[:2]  # a decoded video's frames share one size
        else:
            raise KeyError(f"VideoOrFramesDecode: {name}: results has neither 'frame_paths' nor "
                           f"'video_reader' (run VideoOrFramesInit first)")
        decoded = [img if img.shape[:2] == (h, w) else
                   cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) for img in decoded]
        results['imgs'] = _expand(decoded, inverse)
        results['original_shape'] = (h, w)
        results['img_shape'] = (h, w)
        results.pop('video_reader', None)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(on_damaged={self.on_damaged!r})'
