"""Bad inputs: list files in the wrong encoding, duplicate entries, samples that cannot be read.

- :func:`read_text` decodes a list/CSV file and turns a decoding error into one line naming the
  file, the line and the byte offset.
- :func:`find_duplicates` finds entries listed more than once in a split.
- :func:`probe_sample` opens a frame folder or video and decodes its first and last frame, the
  check behind ``deep_check=True`` of the datasets.
- :func:`check_every_frame` decodes every frame and notes odd sizes and files the loader
  passes over, the check behind ``tools/data/check_dataset.py --deep``.
- :class:`BadSampleError` is what a dataset raises when a sample cannot be loaded.
"""
import codecs
import os
import os.path as osp
from collections import Counter
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from ..utils.errors import first_line

DUPLICATE_POLICIES = ('warn', 'error', 'drop')
BAD_SAMPLE_POLICIES = ('error', 'skip')


class BadSampleError(RuntimeError):
    """A sample (video file or frame folder) could not be loaded; the message is one line that
    names it and the problem."""


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
    folder without images, an unreadable first or last image). Frames in between are not read.
    """
    from .transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
    is_frames = source == 'frames' or (source is None and osp.isdir(path))
    results = {'frame_dir': path} if is_frames else {'filename': path}
    try:
        results = VideoOrFramesInit()(results)
        total = int(results['total_frames'])
        results['frame_inds'] = np.array(sorted({0, total - 1}), dtype=np.int64)
        VideoOrFramesDecode()(results)
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


def _check_frame_folder(path: str) -> SampleCheck:
    from .transforms.loading import APPLEDOUBLE_PREFIX, list_frames, read_rgb
    frames = list_frames(path)  # raises for a missing folder or one without images
    listed = set(map(osp.basename, frames))
    ignored = sorted(n for n in os.listdir(path)
                     if n not in listed and osp.isfile(osp.join(path, n)))
    unreadable, shapes = [], {}
    for frame in frames:
        try:
            shapes[frame] = read_rgb(frame).shape[:2]
        except Exception as err:  # noqa: BLE001 - any decoding failure is the finding
            unreadable.append((frame, first_line(err)))
    problem = other = note = None
    if unreadable:
        more = (f' (and {len(unreadable) - 1} more unreadable of the {len(frames)} frames in '
                f'{path})' if len(unreadable) > 1 else '')
        problem = unreadable[0][1] + more
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

    ``source`` as in :func:`probe_sample`. A frame folder's problem is its unreadable images (a
    file with an image extension that is no image, e.g. a ``copy_12.png`` that is a text file);
    ``other_size`` names images of another size than most of the folder's (loading resizes
    them), ``ignored`` the files the loader passes over (macOS AppleDouble ``._*`` files, files
    without an image extension). A video's problem is the first frame that does not decode.
    """
    is_frames = source == 'frames' or (source is None and osp.isdir(path))
    try:
        return _check_frame_folder(path) if is_frames else _check_video(path)
    except Exception as err:  # noqa: BLE001 - whatever fails here would fail in training
        return SampleCheck(path, describe_failure(path, err))
