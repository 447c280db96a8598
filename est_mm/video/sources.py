"""Frames as they arrive, from a video file, a camera, a network stream or stdin.

:func:`open_stream` takes a video file path, a camera index (``'0'``, read with OpenCV) or a
V4L2 device path (``/dev/video0``, read with PyAV), an ``rtsp://``, ``rtmp://``, ``http://``,
``https://``, ``udp://`` or ``tcp://`` URL, or ``'-'`` (an encoded stream piped on stdin, e.g.
``ffmpeg ... -f mpegts -``). Iterating the returned :class:`FrameStream` yields
:class:`StreamFrame` ``(index, time, image)``: the frame's number from 0, its presentation time in
seconds from the first frame (from the stream's timestamps, so right for variable frame rates), and
``[H, W, 3]`` uint8 RGB, turned upright when the container carries rotation metadata (phone
videos). Frames are decoded one at a time, so memory does not grow with the length of the source.

Faults: a source that cannot be opened, or that has no video stream, raises
:class:`StreamError` (a :class:`~est_mm.video.reader.VideoReadError`) with one line naming it. A
packet that cannot be decoded is skipped and counted in :attr:`FrameStream.corrupt_packets`. A
network or pipe source that delivers nothing for ``timeout`` seconds raises
:class:`StreamStalledError`, after the frames already yielded. The end of a file, a closed pipe
and a stream the server ends stop the iteration; :attr:`FrameStream.end_reason` says which.
"""
import math
import os
import os.path as osp
import select
import sys
import time
from typing import Dict, Iterator, NamedTuple, Optional

import numpy as np

from ..utils.errors import first_line
from .reader import VideoReadError

__all__ = ['StreamFrame', 'FrameStream', 'StreamError', 'StreamStalledError', 'open_stream',
           'source_kind', 'upright', 'decode_frames']

URL_SCHEMES = ('rtsp://', 'rtsps://', 'rtmp://', 'http://', 'https://', 'udp://', 'tcp://',
               'srt://')


class StreamError(VideoReadError):
    """A frame source cannot be opened, has no video stream, or fails while reading."""


class StreamStalledError(StreamError):
    """A live source delivered no data for longer than its timeout."""


class StreamFrame(NamedTuple):
    """One decoded frame: ``index`` (from 0), ``time`` (seconds from the first frame) and
    ``image`` ``[H, W, 3]`` uint8 RGB, upright."""
    index: int
    time: float
    image: np.ndarray


def source_kind(source) -> str:
    """``'stdin'``, ``'camera'`` (an index such as ``'0'``), ``'device'`` (``/dev/video*``),
    ``'url'`` or ``'file'``."""
    text = str(source)
    if text == '-':
        return 'stdin'
    if isinstance(source, int) or text.isdigit():
        return 'camera'
    if text.startswith('/dev/video'):
        return 'device'
    if text.lower().startswith(URL_SCHEMES):
        return 'url'
    return 'file'


def upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """``image [H, W, C]`` turned by the container's display rotation (degrees counterclockwise,
    as PyAV's ``VideoFrame.rotation``; multiples of 90), so it shows the way players show it."""
    k = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def decode_frames(container, stream, counter: Optional[Dict[str, int]] = None
                  ) -> Iterator['object']:
    """PyAV ``VideoFrame`` s of ``stream`` in presentation order, skipping packets the decoder
    rejects (counted in ``counter['corrupt']``). Demuxing errors propagate."""
    import av
    counter = counter if counter is not None else {}
    counter.setdefault('corrupt', 0)
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.error.InvalidDataError, av.error.ValueError, av.error.UndefinedError):
            counter['corrupt'] += 1
            continue
        except av.error.EOFError:
            return
        yield from frames


class _PipeReader:
    """File-like reader of a pipe that raises :class:`StreamStalledError` when no byte arrives
    for ``timeout`` seconds (PyAV's own timeout covers network protocols, not Python files)."""

    def __init__(self, fd: int, name: str, timeout: Optional[float]):
        self.fd, self.name, self.timeout = fd, name, timeout
        self.head = b''  # the first bytes, to tell an MP4 from a streamable container
        self.interrupted = False  # Ctrl-C while waiting (PyAV would swallow the exception)

    def read(self, size: int = -1) -> bytes:
        try:
            if self.timeout:
                ready, _, _ = select.select([self.fd], [], [], self.timeout)
                if not ready:
                    raise StreamStalledError(f'{self.name}: no data for {self.timeout:g} s '
                                             '(stream stalled)')
            data = os.read(self.fd, size if size > 0 else 1 << 20)
        except KeyboardInterrupt:
            self.interrupted = True
            return b''
        if len(self.head) < 12:
            self.head += data[:12 - len(self.head)]
        return data

    def failure(self) -> Optional[str]:
        """Why nothing could be read, when the bytes tell (None otherwise); raises
        KeyboardInterrupt if reading was interrupted."""
        if self.interrupted:
            raise KeyboardInterrupt
        if not self.head:
            return f'{self.name}: no data on stdin'
        if self.head[4:8] == b'ftyp':
            return (f'{self.name}: an MP4 cannot be read from a pipe (its index is at the end): '
                    'pass the path, or pipe ffmpeg -i VIDEO -c copy -f mpegts -')
        return None

    def seekable(self) -> bool:
        return False


class FrameStream:
    """Iterator of :class:`StreamFrame` over one source (see the module docstring).

    Attributes known after opening: ``name``, ``kind`` (see :func:`source_kind`), ``fps``
    (nominal rate, None if unknown), ``width`` and ``height`` (upright), ``rotation``
    (degrees counterclockwise, as stored), ``num_frames`` (the container's count for files,
    else None). Opening decodes the first frame.
    While and after iterating: ``frames_read``, ``corrupt_packets`` and ``end_reason``
    (None while running; ``'end of file'``, ``'end of stream'``, ``'stopped'`` or the error).

    Args:
        source: path, camera index (``0`` / ``'0'``), ``/dev/video*``, URL, or ``'-'``.
        timeout (float, optional): Seconds without data before a network, device or pipe
            source counts as stalled (also the connection timeout). None waits forever.
            Defaults to 10.
        options (dict, optional): FFmpeg demuxer/protocol options for PyAV sources, e.g.
            ``{'rtsp_transport': 'tcp'}``.
        format (str, optional): Container format for PyAV (e.g. ``'mpegts'``), normally probed.
        threads (str): PyAV decoder threading, ``'AUTO'`` (default for files; frame threads add
            a few frames of latency) or ``'SLICE'`` (default for live sources).
    """

    def __init__(self, source, timeout: Optional[float] = 10.0,
                 options: Optional[Dict[str, str]] = None, format: Optional[str] = None,
                 threads: Optional[str] = None):
        self.source = source
        self.kind = source_kind(source)
        self.name = {'stdin': '<stdin>'}.get(self.kind, str(source))
        if self.kind == 'camera':
            self.name = f'camera {int(source)}'
        self.timeout = timeout
        self.frames_read = 0
        self.corrupt_packets = 0
        self.end_reason: Optional[str] = None
        self.rotation = 0.0
        self.num_frames: Optional[int] = None
        self._counter = {'corrupt': 0}
        self._container = self._capture = None
        self._pipe: Optional[_PipeReader] = None
        self._stream = None
        self._started = False
        if self.kind == 'camera':
            self._open_camera(int(source))
        else:
            live = self.kind != 'file'
            self._open_av(options, format, threads or ('SLICE' if live else 'AUTO'))
        self._frames = self._iter_camera() if self._capture is not None else self._iter_av()
        try:  # the first frame gives the upright size and rotation, and proves the source works
            self._first: Optional[StreamFrame] = next(self._frames, None)
        except BaseException:
            self.close()
            raise
        if self._first is None:
            self.close()
            raise StreamError(f'{self.name}: no frames could be decoded'
                              + (f' ({self._counter["corrupt"]} corrupt packet(s))'
                                 if self._counter['corrupt'] else ''))
        self.height, self.width = self._first.image.shape[:2]

    # --- opening ---------------------------------------------------------------------------

    def _open_camera(self, index: int) -> None:
        import cv2
        level = cv2.getLogLevel()
        cv2.setLogLevel(0)   # silent: OpenCV logs its own lines for a missing camera
        try:
            cap = cv2.VideoCapture(index)
        finally:
            cv2.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            raise StreamError(f'{self.name}: cannot be opened (no such camera, no permission, '
                              'or in use)')
        self._capture = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
        self.fps = fps if math.isfinite(fps) and fps > 0 else None
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def _open_av(self, options, format, threads) -> None:
        import av
        from ..compat import quiet_pyav
        quiet_pyav()
        kwargs = dict(options=dict(options or {}), format=format)
        if self.kind == 'file':
            if osp.isdir(self.name):
                raise StreamError(f'{self.name}: is a directory, not a video file')
            if not osp.isfile(self.name):
                raise StreamError(f'{self.name}: no such file')
            target = self.name
        elif self.kind == 'stdin':
            target = _PipeReader(sys.stdin.fileno(), self.name, self.timeout)
        else:
            target = self.name
            if self.kind == 'device' and format is None:
                kwargs['format'] = 'v4l2'
            if self.timeout:
                kwargs['timeout'] = (self.timeout, self.timeout)
        self._pipe = target if isinstance(target, _PipeReader) else None
        try:
            self._container = av.open(target, 'r', **kwargs)
        except StreamError:
            raise
        except Exception as err:  # noqa: BLE001 - PyAV's FFmpegError family and OSError
            why = self._pipe.failure() if self._pipe else None
            if why:
                raise StreamError(why) from None
            if isinstance(err, av.error.ExitError):
                raise StreamStalledError(f'{self.name}: no answer within {self.timeout:g} s '
                                         '(cannot open)') from None
            raise StreamError(f'{self.name}: cannot open ({_reason(err)})') from None
        if not self._container.streams.video:
            self._container.close()
            raise StreamError(f'{self.name}: no video stream')
        stream = self._container.streams.video[0]
        stream.thread_type = threads
        self._stream = stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else None
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        if self.kind == 'file' and stream.frames:
            self.num_frames = int(stream.frames)

    # --- iteration -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[StreamFrame]:
        if self._started:
            raise RuntimeError(f'{self.name}: a FrameStream can be iterated once')
        self._started = True
        first, self._first = self._first, None
        try:
            self.frames_read += 1
            yield first
            for frame in self._frames:
                self.frames_read += 1
                yield frame
            if self.end_reason is None:
                self.end_reason = 'end of file' if self.kind == 'file' else 'end of stream'
        except GeneratorExit:
            self.end_reason = self.end_reason or 'stopped'
            raise
        except StreamError as err:
            self.end_reason = first_line(err)
            raise
        finally:
            self.corrupt_packets = self._counter['corrupt']
            self.close()

    def _iter_av(self) -> Iterator[StreamFrame]:
        import av
        first_pts = None
        index = 0
        start = time.monotonic()
        frames = decode_frames(self._container, self._stream, self._counter)
        while True:
            try:
                frame = next(frames, None)
            except StreamError:
                raise
            except av.error.ExitError:
                raise StreamStalledError(f'{self.name}: no data for {self.timeout:g} s '
                                         '(stream stalled)') from None
            except Exception as err:  # noqa: BLE001 - a demuxing or I/O failure mid-stream
                why = self._pipe.failure() if self._pipe and not index else None
                if why:
                    raise StreamError(why) from None
                raise StreamError(f'{self.name}: reading stopped after {index} frame(s) '
                                  f'({_reason(err)})') from None
            finally:
                self.corrupt_packets = self._counter['corrupt']
            if frame is None:
                if self._pipe and self._pipe.interrupted:
                    raise KeyboardInterrupt
                return
            if frame.pts is not None and frame.time_base is not None:
                first_pts = frame.pts if first_pts is None else first_pts
                stamp = float((frame.pts - first_pts) * frame.time_base)
            elif self.fps and self.kind == 'file':
                stamp = index / self.fps
            else:
                stamp = time.monotonic() - start
            if index == 0:
                self.rotation = float(frame.rotation or 0)
            yield StreamFrame(index, stamp, upright(frame.to_ndarray(format='rgb24'),
                                                      frame.rotation or 0))
            index += 1

    def _iter_camera(self) -> Iterator[StreamFrame]:
        import cv2
        index, start, first_ms = 0, None, None
        while True:
            ok, bgr = self._capture.read()
            if not ok:
                if index == 0:
                    raise StreamError(f'{self.name}: opened but delivers no frames')
                return
            now = time.monotonic()
            start = now if start is None else start
            ms = float(self._capture.get(cv2.CAP_PROP_POS_MSEC) or 0)
            if ms > 0:
                first_ms = ms if first_ms is None else first_ms
                stamp = (ms - first_ms) / 1000.0
            else:
                stamp = now - start
            yield StreamFrame(index, stamp, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1

    def close(self) -> None:
        """Release the camera or close the container (also done when iteration ends)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> 'FrameStream':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f'FrameStream({self.name!r}, kind={self.kind}, fps={self.fps}, '
                f'size={self.width}x{self.height})')


_HTTP_STATUS = {  # PyAV's exception for each HTTP error FFmpeg tells apart
    'HTTPBadRequestError': 'HTTP 400 Bad Request', 'HTTPUnauthorizedError': 'HTTP 401 Unauthorized',
    'HTTPForbiddenError': 'HTTP 403 Forbidden', 'HTTPNotFoundError': 'HTTP 404 Not Found',
    'HTTPOtherClientError': 'HTTP 4xx client error (not 400, 401, 403 or 404)',
    'HTTPServerError': 'HTTP 5xx server error'}


def _reason(err: BaseException) -> str:
    """PyAV's message without the ``[Errno N]`` prefix and the repeated path; an HTTP error
    status as ``HTTP 404 Not Found`` (FFmpeg: ``Server returned 404 Not Found``)."""
    if type(err).__name__ in _HTTP_STATUS:
        return _HTTP_STATUS[type(err).__name__]
    reason = first_line(err)
    if reason.startswith('[Errno'):
        reason = reason.split('] ', 1)[-1]
    return reason.split(": '", 1)[0].rstrip('.')


def open_stream(source, **kwargs) -> FrameStream:
    """A :class:`FrameStream` over ``source`` (file path, camera index, ``/dev/video*``, URL or
    ``'-'`` for stdin); ``kwargs`` go to :class:`FrameStream` (``timeout``, ``options``,
    ``format``, ``threads``)."""
    return FrameStream(source, **kwargs)
