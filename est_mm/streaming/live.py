"""The demo's one loop, for files and live sources (camera, URL, stdin) alike: frames as
they arrive → detection every ``detect_every`` frames → :class:`~est_mm.faces.LiveFaceBoxes`
(past frames only) → crops of the frames a window samples → :class:`TrackStreams` → JSON Lines,
one record per track per window, flushed as it goes."""
import os
import os.path as osp
import sys
import time
from typing import IO, Callable, Dict, Optional
from urllib.parse import urlparse

import numpy as np

from ..video.sources import FrameStream, open_stream, source_kind
from .engine import WindowRecord
from .jsonl import JsonLinesWriter
from .options import LiveOptions
from .tracks import TrackStreams

__all__ = ['live_name', 'run_live', 'display_available']


def live_name(source) -> str:
    """A file stem for a source's outputs: ``camera0``, ``stdin``, a URL's last path part (or
    host), a file's stem."""
    kind = source_kind(source)
    text = str(source)
    if kind == 'camera':
        return f'camera{int(source)}'
    if kind == 'stdin':
        return 'stdin'
    if kind == 'url':
        url = urlparse(text)
        stem = osp.splitext(osp.basename(url.path.rstrip('/')))[0]
        return stem or (url.hostname or 'stream').replace('.', '_')
    return osp.splitext(osp.basename(text))[0] or 'video'


def display_available() -> Optional[str]:
    """None when OpenCV can open a window here, else why not (one line)."""
    import cv2
    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY') or
                                                  os.environ.get('WAYLAND_DISPLAY')):
        return 'no display (DISPLAY is not set)'
    try:
        cv2.namedWindow('est_mm')
        cv2.destroyWindow('est_mm')
    except cv2.error:
        return 'this OpenCV has no GUI (opencv-python-headless)'
    return None


class _Status:
    """A status line on ``stream`` (frames, fps, windows): rewritten in place once a second on a
    terminal, a new line every 10 s otherwise."""

    def __init__(self, name: str, stream: Optional[IO[str]]):
        self.name, self.stream = name, stream
        self.start = self.shown = time.monotonic()

    def line(self, frames: int, windows: int) -> str:
        fps = frames / max(time.monotonic() - self.start, 1e-9)
        return f'{self.name}: {frames} frames, {fps:.1f} fps, {windows} windows emitted'

    def update(self, frames: int, windows: int, final: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        tty = self.stream.isatty()
        if final or now - self.shown >= (1.0 if tty else 10.0):
            self.shown = now
            self.stream.write(('\r' if tty else '') + self.line(frames, windows) +
                              ('\n' if final or not tty else ''))
            self.stream.flush()


def run_live(source, inferencer, jsonl='-', options: Optional[LiveOptions] = None,
             status=sys.stderr, timer=None, on_frame: Optional[Callable] = None,
             on_window: Optional[Callable[[WindowRecord], None]] = None) -> Dict:
    """Runs EST on ``source`` (anything :func:`~est_mm.video.open_stream` opens, or an opened
    :class:`~est_mm.video.FrameStream`) frame by frame: the one loop of the demo, for files,
    cameras, URLs and stdin alike. Each window's record goes to ``jsonl`` (a path, ``'-'`` for
    stdout, an open stream, or None; a path is created with the first record) and
    ``on_window`` as soon as the window's last frame is in.

    ``options``: a :class:`~est_mm.streaming.options.LiveOptions` (default: its defaults).
    Tracks are :class:`~est_mm.faces.LiveFaceBoxes`' (ids 1, 2, …; boxes from past frames only);
    a track lost for more than ``max_gap`` frames ends (with ``keep_tail`` it then gets its tail
    window). With ``crop_faces=False`` the frames are the face crops (one track, id 1). Window
    and stride default to the inferencer's window and one snippet step (10 frames).
    ``status``: where the status line goes (None: nowhere), or an object with
    ``update(frames, windows, final=False)`` (the file demo's progress bar). ``timer``: a
    :class:`~est_mm.utils.StageTimer` that accumulates the seconds of decode, detect, track,
    crop and est (and, within est, backbone, aa_sfe and transformer).
    ``on_frame(idx, timestamp, rows, detected)``: called for every frame with ``{track: row
    [15]}`` (the box, score and landmarks used for the crop) and the set of tracks a detection
    continued in that frame.

    Returns a summary: name, frames, windows, tracks seen, frames embedded, window (frames),
    short_tracks (track id -> frame count of the ended tracks that got no window), seconds, end
    (why reading stopped: ``'end of file'``, ``'end of stream'``, ``'interrupted'``,
    ``'broken pipe'`` or ``'closed'``) and corrupt packets. Raises
    :class:`~est_mm.video.StreamError` (one line) when the source cannot be opened or stalls
    (after writing the windows already complete).
    """
    options = options or LiveOptions()
    loop = _LiveLoop(inferencer, options, timer, jsonl, on_window)
    frames = source if isinstance(source, FrameStream) else open_stream(
        source, timeout=options.timeout)
    bar = status if hasattr(status, 'update') else _Status(frames.name, status)
    return loop.run(frames, bar, on_frame)


class _LiveLoop:
    """One run of :func:`run_live`: the face tracker, the track streams, where the records go,
    and the counts for the summary."""

    def __init__(self, inferencer, options: LiveOptions, timer, jsonl, on_window):
        from ..faces import build_face_detector
        from ..faces.tracking import LiveFaceBoxes
        from ..utils.stage_timer import StageTimer
        self.options, self.jsonl, self.on_window = options, jsonl, on_window
        self.timer = timer or StageTimer()
        self.window = options.window or inferencer.window
        self.streams = TrackStreams.from_inferencer(
            inferencer, window=self.window, stride=options.stride, keep_tail=options.keep_tail,
            timer=self.timer, shared_batch=options.shared_batch)
        crop = options.crop_faces
        self.faces = LiveFaceBoxes(options.max_gap, max_faces=options.max_faces,
                                   smooth=options.smooth) if crop else None
        self.detector = build_face_detector(options.detector) if crop else None
        self.writer: Optional[JsonLinesWriter] = None
        self.seen, self.labels, self.detected = set(), {}, set()
        self.count = self.windows = 0

    def emit(self, records) -> None:
        """Writes each record (opening the JSON Lines output with the first), hands it to
        ``on_window`` and keeps its track's label for the display."""
        for r in records:
            if self.jsonl is not None:
                self._writer().write(r)
            if self.on_window is not None:
                self.on_window(r)
            self.windows += 1
            self.labels[r.track] = f'#{r.track} {r.label_name} {100 * max(r.scores):.0f}%'

    def _writer(self) -> JsonLinesWriter:
        if self.writer is None:
            if isinstance(self.jsonl, str) and self.jsonl != '-':
                os.makedirs(osp.dirname(osp.abspath(self.jsonl)), exist_ok=True)
            self.writer = JsonLinesWriter(self.jsonl)
        return self.writer

    def faces_in(self, idx: int, image: np.ndarray):
        """``({track: row [15]}, {track: crop or None})`` of frame ``idx``: detection every
        ``detect_every`` frames, the tracker's boxes, crops of the frames the streams need
        (ended tracks get their last windows first)."""
        o, timer, streams = self.options, self.timer, self.streams
        if not o.crop_faces:
            rows = {1: np.array([0, 0, image.shape[1], image.shape[0]] + [0] * 11, np.float32)}
            return rows, {1: image if streams.needs(1, idx) else None}
        from ..faces import crop_face
        from ..faces.multi_face import describe_faces
        self.detected = set()
        if idx % o.detect_every == 0:
            with timer('detect'):
                det = self.detector.detect(image[None])[0]
            with timer('track'):
                self.faces.update(idx, det, describe_faces(image, det))
                self.detected = self.faces.detected(idx)
        with timer('est'):
            for track in self.faces.ended(idx):
                self.emit(streams.end(track))
        with timer('track'):
            rows = self.faces.boxes()
        with timer('crop'):
            crops = {t: crop_face(image, row[:4], o.face_size, o.margin,
                                  row[5:15].reshape(5, 2), o.align)
                     if streams.needs(t, idx) else None for t, row in rows.items()}
        return rows, crops

    def step(self, idx: int, stamp, image: np.ndarray, on_frame) -> Dict:
        """One frame through faces, ``on_frame`` and the streams; returns its face rows."""
        rows, crops = self.faces_in(idx, image)
        self.seen.update(crops)
        if on_frame is not None:
            on_frame(idx, stamp, rows, self.detected)
        with self.timer('est'):
            self.emit(self.streams.push(idx, stamp, crops))
        return rows

    def run(self, frames: FrameStream, bar, on_frame) -> Dict:
        """Every frame of ``frames``, then the last windows; the summary of :func:`run_live`."""
        start, end, show = time.monotonic(), None, self.options.show
        try:
            items = iter(frames)
            while True:
                with self.timer('decode'):
                    item = next(items, None)
                if item is None:
                    break
                self.count += 1
                rows = self.step(*item, on_frame)
                bar.update(self.count, self.windows)
                if show and _show(item[2], rows, self.labels, frames.name):
                    end = 'closed'
                    break
            with self.timer('est'):
                self.emit(self.streams.finish())
            end = end or frames.end_reason
        except KeyboardInterrupt:
            end = 'interrupted'
            self.emit(self.streams.finish())
        except BrokenPipeError:
            end = 'broken pipe'
        finally:
            self._close(frames, end, bar)
        return dict(name=frames.name, frames=self.count, windows=self.windows,
                    tracks=sorted(self.seen), frames_embedded=self.streams.frames_embedded,
                    window=self.window, short_tracks=dict(self.streams.short),
                    seconds=round(time.monotonic() - start, 3), end=end,
                    corrupt_packets=frames.corrupt_packets)

    def _close(self, frames: FrameStream, end: Optional[str], bar) -> None:
        frames.close()
        if self.writer is not None and end != 'broken pipe':
            self.writer.close()
        bar.update(self.count, self.windows, final=True)
        if self.options.show:
            import cv2
            cv2.destroyAllWindows()


def _show(image, rows, labels, name) -> bool:
    """Draws the boxes and each track's latest label; True when the user pressed q or Esc."""
    import cv2
    canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    for track, row in rows.items():
        x1, y1, x2, y2 = [int(round(float(v))) for v in row[:4]]
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), 2)
        cv2.putText(canvas, labels.get(track, f'#{track} ...'), (x1, max(12, y1 - 6)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2)
    cv2.imshow(f'est_mm: {name}', canvas)
    return (cv2.waitKey(1) & 0xFF) in (ord('q'), 27)
