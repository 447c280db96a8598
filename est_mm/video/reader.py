"""Frame sources with one shape: :class:`VideoFrames` reads a video file in chunks (PyAV in
order, decord for random access), :class:`ArrayFrames` wraps frames already in memory. Both give
``num_frames``, ``fps``, ``height``, ``width``, :meth:`chunks` (in order, bounded memory),
:meth:`get` (random access) and :meth:`frame_times` (seconds from the container's timestamps,
right for variable frame rates).
"""
import math
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..utils.errors import first_line

__all__ = ['VideoReadError', 'VideoFrames', 'ArrayFrames', 'FrameSource', 'open_frames']


class VideoReadError(RuntimeError):
    """A video file cannot be opened or decoded, or holds no frames."""


def _open_reason(err: BaseException, path: str) -> str:
    """decord's message for a file it cannot open, as a short reason."""
    reason = first_line(err)
    if reason.startswith(f'[{path}] '):
        reason = reason[len(path) + 3:]
    if reason.startswith('Error reading') or 'broken metadata' in reason:
        return 'not a video, corrupt, or an unsupported format'
    if 'cannot find video stream' in reason:
        return 'no video stream'
    return reason.rstrip('.')


class VideoFrames:
    """Chunked RGB reader of a video file, memory bounded.

    ``num_frames``, ``fps``, ``height`` and ``width`` (upright) are known after opening.
    :meth:`chunks` yields ``(start, frames [n, H, W, 3] uint8 RGB)``, decoded in order one frame
    at a time with PyAV (the frames :class:`~est_mm.video.sources.FrameStream` gives); a video
    whose container claims more frames than can be decoded, or with a packet that cannot be
    decoded, is cut there (``truncated`` becomes True; FrameStream skips such packets instead).
    :meth:`get` decodes the frames asked for with decord, and stops decord's decoding thread
    afterwards (left running, it decodes ahead into memory until
    the whole video is there). Frames are turned upright by the container's rotation
    (``rotation``, degrees counterclockwise; :meth:`get` then decodes with PyAV, from the start).
    Videos up to ``cache_mb`` megabytes of decoded frames are kept after the first full pass, so
    a second pass (detect, then crop) does not decode again.

    Args:
        path (str): Video file.
        chunk_size (int): Frames per chunk. Defaults to 32.
        num_threads (int): decord decoding threads (0 = automatic). Defaults to 1.
        cache_mb (float): Keep all decoded frames if they fit in this many MB. Defaults to 256.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        VideoReadError: a folder, an unreadable or corrupt file, no video stream, or no frames.
    """

    def __init__(self, path: str, chunk_size: int = 32, num_threads: int = 1,
                 cache_mb: float = 256):
        self.path = str(path)
        self.chunk_size = max(1, int(chunk_size))
        if osp.isdir(self.path):
            raise VideoReadError(f'{self.path}: is a directory, not a video file')
        if not osp.isfile(self.path):
            raise FileNotFoundError(f'video not found: {self.path}')
        if osp.getsize(self.path) == 0:
            raise VideoReadError(f'{self.path}: empty file (0 bytes)')
        import av
        from ..compat import quiet_pyav
        quiet_pyav()
        try:  # PyAV first: decord logs its own line on stderr for a file that is not a video
            av.open(self.path).close()
        except Exception:  # noqa: BLE001 - PyAV's FFmpegError family and OSError
            raise VideoReadError(f'{self.path}: cannot open video (not a video, corrupt, or an '
                                 'unsupported format)') from None
        import decord
        decord.logging.set_level(decord.logging.QUIET)
        try:
            self._reader = decord.VideoReader(self.path, num_threads=num_threads)
            self.num_frames = len(self._reader)
        except Exception as err:  # decord raises RuntimeError or DECORDError
            raise VideoReadError(f'{self.path}: cannot open video '
                                 f'({_open_reason(err, self.path)})') from None
        if self.num_frames <= 0:
            raise VideoReadError(f'{self.path}: video has no frames')
        try:
            first = self._reader[0].asnumpy()
            self._reader.seek(0)
        except Exception as err:
            raise VideoReadError(
                f'{self.path}: cannot decode the first frame ({first_line(err)})') from None
        self.height, self.width = first.shape[:2]
        self.rotation, upright_size = self._display_rotation()
        if self.rotation:
            self.height, self.width = upright_size
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
        """Length in seconds: from the first frame's start to the last frame's end."""
        times = self.frame_times()
        return float(times[-1]) if times is not None else None

    def frame_times(self) -> Optional[np.ndarray]:
        """``[num_frames + 1]`` seconds: when each frame starts (from its presentation
        timestamp, relative to frame 0), then when the last one ends. Falls back to
        ``index / fps`` where the container has no usable timestamps; None without either."""
        n = self.num_frames
        try:
            stamps = np.asarray(self._reader.get_frame_timestamp(list(range(n))), np.float64)
        except Exception:  # noqa: BLE001 - no timestamps: use the average rate below
            stamps = None
        if stamps is not None and stamps.shape == (n, 2) and np.isfinite(stamps).all() and \
                np.all(np.diff(stamps[:, 0]) > 0):
            return np.append(stamps[:, 0], stamps[-1, 1]) - stamps[0, 0]
        return np.arange(n + 1) / self.fps if self.fps else None

    def _display_rotation(self) -> Tuple[float, Tuple[int, int]]:
        """Degrees counterclockwise the frames are to be turned (0 where PyAV cannot tell),
        and the upright ``(height, width)``."""
        import av
        from .sources import decode_frames
        try:
            with av.open(self.path) as container:
                frame = next(decode_frames(container, container.streams.video[0]), None)
        except Exception:  # noqa: BLE001 - decord opened it: read it unrotated
            frame = None
        if frame is None or not frame.rotation:
            return 0.0, (self.height, self.width)
        turned = int(round(frame.rotation / 90.0)) % 2
        return float(frame.rotation), ((frame.width, frame.height) if turned else
                                       (frame.height, frame.width))

    def _iter_av(self) -> Iterator[np.ndarray]:
        """Upright ``[H, W, 3]`` uint8 RGB frames in order, at most ``num_frames``."""
        import av
        from .sources import decode_frames, upright
        with av.open(self.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = 'AUTO'
            count, counter = 0, {}
            frames = decode_frames(container, stream, counter)
            while count < self.num_frames:
                try:
                    frame = next(frames, None)
                except Exception:  # noqa: BLE001 - unreadable rest of the file: cut there
                    frame = None
                if frame is None or counter['corrupt']:   # cut at a corrupt packet, as get()
                    break
                yield upright(frame.to_ndarray(format='rgb24'), frame.rotation or 0)
                count += 1

    def _decode(self, indices: List[int]) -> np.ndarray:
        if self.rotation:
            return self._decode_av(indices)
        try:
            return self._reader.get_batch(indices).asnumpy()
        except Exception:  # noqa: BLE001 - retried frame by frame below
            pass
        finally:
            self._reader.seek(0)   # stops decord decoding ahead into memory (decord #208)
        frames = []
        for i in indices:   # find the first undecodable frame and cut the video there
            try:
                frames.append(self._reader[i].asnumpy())
            except Exception as err:
                if i == 0:
                    raise VideoReadError(
                        f'{self.path}: cannot decode frames ({first_line(err)})') from None
                self.num_frames, self.truncated = i, True
                break
        self._reader.seek(0)
        return np.stack(frames) if frames else np.zeros((0, self.height, self.width, 3),
                                                        np.uint8)

    def _decode_av(self, indices: List[int]) -> np.ndarray:
        """Frames at ``indices`` decoded with PyAV from the start (rotated videos, which decord
        decodes wrongly)."""
        wanted = set(indices)
        found = {}
        for i, frame in enumerate(self._iter_av()):
            if i in wanted:
                found[i] = frame
            if len(found) == len(wanted):
                break
        frames = []
        for i in indices:   # up to the first missing one; get() names it
            if i not in found:
                break
            frames.append(found[i])
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
        start, part = 0, []
        for frame in self._iter_av():
            part.append(frame)
            if len(part) == self.chunk_size:
                chunk, part = np.stack(part), []
                if cache is not None:
                    cache.append(chunk)
                yield start, chunk
                start += len(chunk)
        if part:
            chunk = np.stack(part)
            if cache is not None:
                cache.append(chunk)
            yield start, chunk
            start += len(chunk)
        if start == 0:
            raise VideoReadError(f'{self.path}: cannot decode frames')
        if start < self.num_frames:
            self.num_frames, self.truncated = start, True
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

    def frame_times(self) -> Optional[np.ndarray]:
        """``[num_frames + 1]`` seconds at ``index / fps`` (None without an fps)."""
        return np.arange(self.num_frames + 1) / self.fps if self.fps else None

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
