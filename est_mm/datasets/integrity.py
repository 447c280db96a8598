"""Bad inputs: list files in the wrong encoding, duplicate entries, samples that cannot be read.

- :func:`read_text` decodes a list/CSV file and turns a decoding error into one line naming the
  file, the line and the byte offset.
- :func:`find_duplicates` finds entries listed more than once in a split.
- :func:`probe_sample` opens a frame folder or video and decodes its first and last frame, the
  check behind ``tools/data/check_dataset.py --deep`` and ``deep_check=True`` of the datasets.
- :class:`BadSampleError` is what a dataset raises when a sample cannot be loaded.
"""
import codecs
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

DUPLICATE_POLICIES = ('warn', 'error', 'drop')
BAD_SAMPLE_POLICIES = ('error', 'skip')


class BadSampleError(RuntimeError):
    """A sample (video file or frame folder) could not be loaded; the message is one line that
    names it and the problem."""


def one_line(err: BaseException) -> str:
    """The first non-empty line of an error's message (its type name if it has none)."""
    for line in str(err).splitlines():
        if line.strip():
            return line.strip()
    return type(err).__name__


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of non-UTF-8 file names (lone surrogates) spelled
    ``\\udcXX``, so a log handler or UTF-8 stream can write it."""
    return text.encode('utf-8', 'backslashreplace').decode('utf-8')


def describe_failure(path: str, err: BaseException) -> str:
    """``<problem>`` if the error's first line names ``path`` already, else ``<path>: <problem>``;
    errors without a message keep their type name."""
    text = one_line(err)
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


def one_line(err: BaseException) -> str:
    """A :class:`BadSampleError`'s message as one line, also when a DataLoader worker re-raised
    it with the worker's traceback in front."""
    lines = [ln for ln in str(err).splitlines() if ln.strip()]
    return lines[-1].split('BadSampleError: ', 1)[-1] if lines else repr(err)
