"""Bad inputs: list files in the wrong encoding, duplicate entries, samples that cannot be read.

- :func:`read_text` decodes a list/CSV file and turns a decoding error into one line naming the
  file, the line and the byte offset.
- :func:`find_duplicates` finds entries listed more than once in a split.
- :func:`probe_sample` opens a frame folder or video and decodes its first and last frame, the
  check behind ``deep_check=True`` of the datasets.
- :func:`check_every_frame` decodes every frame and notes odd sizes and files the loader
  passes over, the check behind ``tools/data/check_dataset.py --deep``.
- :func:`decode_image` decodes an image file strictly: truncation, bad PNG chunk CRCs and the
  warnings of libjpeg / libpng (which OpenCV prints to stderr unnamed) become one problem line.
- :class:`BadSampleError` is what a dataset raises when a sample cannot be loaded;
  :class:`DamagedFrameError` what the frame loader raises for a damaged frame when told to stop.
"""
import codecs
import os
import os.path as osp
import re
import tempfile
import threading
import zlib
from collections import Counter
from contextlib import contextmanager
from typing import Iterator, List, NamedTuple, Optional, Sequence

import numpy as np

from ..utils.errors import first_line

DUPLICATE_POLICIES = ('warn', 'error', 'drop')
BAD_SAMPLE_POLICIES = ('error', 'skip')


class BadSampleError(RuntimeError):
    """A sample (video file or frame folder) could not be loaded; the message is one line that
    names it and the problem."""


class DamagedFrameError(BadSampleError):
    """A frame image is damaged (truncated, corrupt data, bad CRC) and the loader was told to
    stop (``strict_frames=True``); the message names the file and the problem."""


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of non-UTF-8 file names (lone surrogates) spelled
    ``\\udcXX``, so a log handler or UTF-8 stream can write it."""
    return text.encode('utf-8', 'backslashreplace').decode('utf-8')


def describe_failure(path: str, err: BaseException) -> str:
    """``<problem>`` if the error's first line names ``path`` already, else ``<path>: <problem>``;
    errors without a message keep their type name."""
    text = first_line(err)
    if not str(err).strip() or isinstance(err, (KeyError, AssertionError)):
        text = f'{type(err).__name__}: {text}'
    return text if path in text else f'{path}: {text}'


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ('utf-8', 'utf-8-sig')
    except LookupError:
        return False


def read_text(path: str, encoding: str = 'utf-8', errors: str = 'strict') -> str:
    """The text of ``path``; a UTF-8 byte-order mark is dropped.

    Bytes that are not valid ``encoding`` raise a one-line ``ValueError``:
    ``<path>:<line>: not valid <encoding> text: byte 0xe9 at byte offset 57 ...``.
    ``errors`` is Python's decoding error handler: ``'surrogateescape'`` keeps undecodable bytes
    the way Python spells undecodable file names, so a list that names a non-UTF-8 file with the
    same bytes as on disk still finds it.
    """
    try:
        codecs.lookup(encoding)
        codecs.lookup_error(errors)
    except LookupError as err:
        raise ValueError(f'{path}: {err}') from None
    with open(path, 'rb') as f:
        raw = f.read()
    start = 0
    if _is_utf8(encoding):
        encoding = 'utf-8'
        if raw.startswith(codecs.BOM_UTF8):
            start = len(codecs.BOM_UTF8)
    try:
        return raw[start:].decode(encoding, errors)
    except UnicodeDecodeError as err:
        offset = start + err.start
        line = raw.count(b'\n', 0, offset) + 1
        raise ValueError(
            f'{path}:{line}: not valid {encoding} text: byte 0x{raw[offset]:02x} at byte offset '
            f"{offset}; save the file as UTF-8, or pass encoding='latin-1' (or another codec) or "
            f"encoding_errors='surrogateescape' (keeps the bytes of non-UTF-8 file names) to the "
            f'dataset') from None


class Duplicate(NamedTuple):
    """An entry whose path an earlier entry of the same list already names."""
    where: str  # 'file:line' of the repeat
    first: str  # 'file:line' of the first listing
    path: str
    same_label: bool


def find_duplicates(entries: Sequence) -> List[Duplicate]:
    """Every entry (with ``where``, ``path`` and ``label``) that repeats the normalised path of an
    earlier one, in list order."""
    seen = {}
    out = []
    for e in entries:
        key = osp.normpath(e.path)
        if key in seen:
            first = seen[key]
            out.append(Duplicate(e.where, first.where, e.path, first.label == e.label))
        else:
            seen[key] = e
    return out


def probe_sample(path: str, source: Optional[str] = None) -> Optional[str]:
    """Open a sample as training would and decode its first and last frame.

    ``source``: ``'frames'`` (a folder of images), ``'videos'`` (a video file) or None (a folder
    is frames, anything else a video). Returns None if both frames decode, else the problem in
    one line naming the sample (a missing, empty, corrupt, truncated or zero-frame video, a
    folder without images, an unreadable or damaged first or last image). Frames in between are
    not read.
    """
    from .transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
    is_frames = source == 'frames' or (source is None and osp.isdir(path))
    results = {'frame_dir': path} if is_frames else {'filename': path}
    try:
        results = VideoOrFramesInit()(results)
        total = int(results['total_frames'])
        results['frame_inds'] = np.array(sorted({0, total - 1}), dtype=np.int64)
        VideoOrFramesDecode(on_damaged='error')(results)
    except Exception as err:  # whatever fails here would fail in training
        return describe_failure(path, err)
    return None


class SampleCheck(NamedTuple):
    """What :func:`check_every_frame` found in one sample."""
    path: str
    problem: Optional[str] = None  # one line: the sample cannot be loaded as it is
    other_size: Optional[str] = None  # one line: frames whose size differs from the others'
    ignored: Optional[str] = None  # one line: files in a frame folder the loader passes over


def _size(shape) -> str:
    return f'{shape[1]}x{shape[0]}'


def _names(names: List[str], show: int = 3) -> str:
    more = f' and {len(names) - show} more' if len(names) > show else ''
    return ', '.join(names[:show]) + more


def _decode_all(frames: List[str]):
    """``(problems, shapes)``: one line per unreadable or damaged frame, (h, w) per decoded
    one."""
    problems, shapes = [], {}
    for frame in frames:
        try:
            img, problem = decode_image(frame)
        except OSError as err:
            img, problem = None, first_line(err)
        if img is not None:
            shapes[frame] = img.shape[:2]
        if problem:
            problems.append(f'{"damaged frame" if img is not None else "cannot read image"} '
                            f'{frame}: {problem}')
    return problems, shapes


def _check_frame_folder(path: str) -> SampleCheck:
    from .transforms.loading import APPLEDOUBLE_PREFIX, list_frames
    frames = list_frames(path)  # raises for a missing folder or one without images
    listed = set(map(osp.basename, frames))
    ignored = sorted(n for n in os.listdir(path)
                     if n not in listed and osp.isfile(osp.join(path, n)))
    unreadable, shapes = _decode_all(frames)
    problem = other = note = None
    if unreadable:
        more = (f' (and {len(unreadable) - 1} more unreadable or damaged of the {len(frames)} '
                f'frames in {path})' if len(unreadable) > 1 else '')
        problem = unreadable[0] + more
    sizes = Counter(shapes.values())
    if len(sizes) > 1:
        common = sizes.most_common(1)[0][0]
        odd = [f for f, s in shapes.items() if s != common]
        first = shapes.get(frames[0])
        other = (f'{odd[0]} is {_size(shapes[odd[0]])} where {sizes[common]} of the '
                 f'{len(shapes)} frames are {_size(common)}'
                 + (f' ({len(odd)} frames of another size)' if len(odd) > 1 else '')
                 + (f'; loading resizes every frame to the first frame\'s {_size(first)}'
                    if first else ''))
    if ignored:
        apple = [n for n in ignored if n.startswith(APPLEDOUBLE_PREFIX)]
        rest = [n for n in ignored if not n.startswith(APPLEDOUBLE_PREFIX)]
        note = f'{path}: ignored by the loader: ' + '; '.join(
            ([f'AppleDouble (macOS ._*) {_names(apple)}'] if apple else [])
            + ([f'not an image {_names(rest)}'] if rest else []))
    return SampleCheck(path, problem, other, note)


def _first_bad_frame(path: str) -> Optional[int]:
    """Index of the first frame OpenCV cannot decode, reading in order (None: all decode).
    decord, once a frame failed, keeps failing at random frames, so it cannot point at one."""
    import cv2
    capture = cv2.VideoCapture(path)
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        for i in range(total):
            if not capture.read()[0]:
                return i
    finally:
        capture.release()
    return None


def _check_video(path: str, chunk: int = 32) -> SampleCheck:
    from .transforms.loading import VideoOrFramesInit, is_utf8_path
    reader = VideoOrFramesInit()({'filename': path})['video_reader']  # raises if unreadable
    total = len(reader)
    for start in range(0, total, chunk):
        end = min(total, start + chunk)
        try:
            reader.get_batch(list(range(start, end)))
        except Exception:  # noqa: BLE001 - the finding (decord's message names its C++ source)
            bad = _first_bad_frame(path) if is_utf8_path(path) else None
            where = (f'frame {bad + 1}' if bad is not None and start <= bad < end
                     else f'frames {start + 1}-{end}')
            return SampleCheck(path, f'cannot decode {where} of {total} of video {path} '
                                     '(corrupt or truncated data)')
    return SampleCheck(path)


def check_every_frame(path: str, source: Optional[str] = None) -> SampleCheck:
    """Open a sample as training would and decode every frame (``tools/data/check_dataset.py
    --deep``).

    ``source`` as in :func:`probe_sample`. A frame folder's problem is its unreadable or damaged
    images (:func:`decode_image`: a file with an image extension that is no image, e.g. a
    ``copy_12.png`` that is a text file; a truncated JPEG or PNG, corrupt JPEG data, a bad PNG
    CRC);
    ``other_size`` names images of another size than most of the folder's (loading resizes
    them), ``ignored`` the files the loader passes over (macOS AppleDouble ``._*`` files, files
    without an image extension). A video's problem is the first frame that does not decode.
    """
    is_frames = source == 'frames' or (source is None and osp.isdir(path))
    try:
        return _check_frame_folder(path) if is_frames else _check_video(path)
    except Exception as err:  # noqa: BLE001 - whatever fails here would fail in training
        return SampleCheck(path, describe_failure(path, err))


JPEG_SOI, JPEG_EOI, JPEG_SOS = b'\xff\xd8', b'\xff\xd9', b'\xff\xda'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_OPENCV_LOG_PREFIX = re.compile(r'^\[\s*[A-Z]+:[^\]]*\]\s*(global\s+)?\S+:\d+\s+\S+\s+')


class DecodedImage(NamedTuple):
    """What :func:`decode_image` found in one file."""
    img: Optional[np.ndarray]  # HxWx3 uint8 BGR as OpenCV decodes it; None: no pixels at all
    problem: Optional[str]  # one line without the file name; None: the file is intact


def _after_scan(data: bytes, pos: int) -> int:
    """Offset of the first marker after entropy-coded data starting at ``pos`` (stuffed
    ``FF 00``, restart markers and fill bytes are part of the data); -1 if the data ends first."""
    while True:
        pos = data.find(b'\xff', pos)
        if pos < 0 or pos + 1 >= len(data):
            return -1
        code = data[pos + 1]
        if code == 0xFF:
            pos += 1
        elif code == 0x00 or 0xD0 <= code <= 0xD7:
            pos += 2
        else:
            return pos


def jpeg_end(data: bytes) -> int:
    """Offset just past the end-of-image marker that ends the image, walking the marker
    segments (their lengths skip EXIF thumbnails) and scans; -1 if the data ends first."""
    pos = 2
    while pos + 1 < len(data):
        if data[pos] != 0xFF:  # stray bytes between segments: the decoder skips to a marker
            pos = data.find(b'\xff', pos)
            if pos < 0:
                return -1
            continue
        code = data[pos + 1]
        if code == 0xFF or code == 0x01 or 0xD0 <= code <= 0xD7:  # fill byte, no length
            pos += 1 if code == 0xFF else 2
            continue
        if code == 0xD9:
            return pos + 2
        if pos + 4 > len(data):
            return -1
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
        if code == 0xDA:
            pos = _after_scan(data, pos)
            if pos < 0:
                return -1
    return -1


def jpeg_problem(data: bytes) -> Optional[str]:
    """Truncation of a JPEG: the data ends before the end-of-image marker that closes the image
    (bytes after it, as some writers append, are allowed). None when the structure ends
    properly."""
    if data.endswith(JPEG_EOI) or jpeg_end(data) > 0:
        return None
    if data.find(JPEG_SOS) < 0:
        return f'truncated JPEG: no image data (no start-of-scan marker; {len(data)} bytes)'
    return (f'truncated JPEG: no end-of-image marker after the image data '
            f'({len(data)} bytes)')


def png_problem(data: bytes) -> Optional[str]:
    """Walks the chunks of a PNG: a chunk cut short, a CRC that does not match its chunk, or no
    IEND chunk is the problem. None for an intact chunk structure."""
    view = memoryview(data)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length = int.from_bytes(view[pos:pos + 4], 'big')
        name = bytes(view[pos + 4:pos + 8]).decode('latin-1')
        end = pos + 12 + length
        if end > len(data):
            return (f'truncated PNG: ends inside its {name!r} chunk at byte {pos} '
                    f'({len(data)} bytes)')
        if zlib.crc32(view[pos + 4:end - 4]) != int.from_bytes(view[end - 4:end], 'big'):
            return f'damaged PNG: bad CRC of its {name!r} chunk at byte {pos}'
        if name == 'IEND':
            return None
        pos = end
    return f'truncated PNG: no IEND chunk ({len(data)} bytes)'


def structure_problem(data: bytes) -> Optional[str]:
    """:func:`jpeg_problem` or :func:`png_problem` by the file's signature; None for other
    formats (BMP) and intact files."""
    if data.startswith(JPEG_SOI):
        return jpeg_problem(data)
    if data.startswith(PNG_SIGNATURE):
        return png_problem(data)
    return None


class _Said:
    text = ''


_capture_lock = threading.RLock()
_sinks = {}  # pid -> file descriptor of this process's capture file


def _sink() -> int:
    pid = os.getpid()  # a forked child must not share its parent's file offset
    if pid not in _sinks:
        fd, name = tempfile.mkstemp(prefix='est_mm_decoder_messages_')
        os.unlink(name)  # the open descriptor keeps it; nothing is left behind
        _sinks[pid] = fd
    return _sinks[pid]


def _clean(raw: bytes) -> str:
    lines = [_OPENCV_LOG_PREFIX.sub('', ln.strip())
             for ln in raw.decode('utf-8', 'replace').splitlines()]
    return '; '.join(ln for ln in lines if ln)


@contextmanager
def native_stderr() -> Iterator[_Said]:
    """Whatever C libraries write to file descriptor 2 inside the block (libjpeg's "Corrupt JPEG
    data: ..." warnings, libpng's errors, OpenCV's log) goes to ``.text`` of the yielded object,
    one line, instead of the terminal. Decoding warnings have no other way out of OpenCV. The
    redirection is process-wide for the few microseconds of a decode: what another thread of
    the process writes to stderr in that moment lands in ``.text`` too."""
    said = _Said()
    try:
        sink, saved = _sink(), os.dup(2)
    except OSError:  # no stderr to redirect: nothing to capture
        yield said
        return
    with _capture_lock:  # one redirection at a time within the process
        os.dup2(sink, 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            size = os.lseek(sink, 0, os.SEEK_CUR)
            if size:
                os.lseek(sink, 0, os.SEEK_SET)
                said.text = _clean(os.read(sink, size))
                os.ftruncate(sink, 0)
                os.lseek(sink, 0, os.SEEK_SET)


def _not_an_image(data: np.ndarray) -> str:
    head = ' '.join(f'{b:02x}' for b in data[:4].tolist())
    return f'not a JPEG, PNG or BMP image, or damaged beyond decoding (starts with {head})'


def decode_image(path: str) -> DecodedImage:
    """Decode ``path`` with OpenCV (EXIF orientation applied) and check it strictly.

    The problem names truncation (a JPEG without its end-of-image marker, a PNG cut inside a
    chunk or without IEND), a PNG chunk whose CRC does not match, and what libjpeg / libpng
    said while decoding (``Corrupt JPEG data: 83 extraneous bytes before marker 0xd9``,
    ``premature end of data segment``, ``bad Huffman code``, ...). A truncated JPEG still gives
    its decodable part (the rest grey, as a file reader pads it), so a loader may go on with
    it. JPEG has no checksum: a damaged byte in the entropy data that still decodes to a
    consistent stream leaves no trace any decoder can see. One read, one decode; raises
    ``OSError`` for a file that cannot be read.
    """
    import cv2
    data = np.fromfile(path, np.uint8)  # takes names with non-UTF-8 bytes, unlike cv2.imread
    if data.size == 0:
        return DecodedImage(None, 'empty file (0 bytes)')
    with native_stderr() as said:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    raw = data.tobytes() if data[0] in (0xFF, 0x89) else b''
    structure = structure_problem(raw) if raw else None
    if img is None and structure and structure.startswith('truncated JPEG'):
        with native_stderr():  # what a file reader does at the end of a cut file
            img = cv2.imdecode(np.concatenate([data, np.frombuffer(JPEG_EOI, np.uint8)]),
                               cv2.IMREAD_COLOR)
    problems = [p for p in (structure, said.text and f'decoder: {said.text}') if p]
    if img is None and not problems:
        problems.append(_not_an_image(data))
    return DecodedImage(img, '; '.join(problems) or None)
