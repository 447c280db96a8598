"""Reading and writing checkpoints safely, with one clear line when a checkpoint is bad.

* :func:`safe_load_checkpoint` is the only way est_mm reads a checkpoint file: ``torch.load`` with
  ``weights_only=True`` passed explicitly (so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it
  off) and exactly the extra types of :func:`safe_checkpoint_globals`.
  ``est_mm.compat`` registers it as mmengine's loader for local files, so the Runner (``load_from``, ``resume``),
  ``mmengine.runner.load_checkpoint`` (ESTInferencer, analysis tools) and backbone ``pretrained``
  files all go through it.
* Every failure becomes a :class:`CheckpointError` whose message is one line naming the file;
  the tools turn it into ``SystemExit(message)``.
* :func:`atomic_torch_save` writes to a temporary name and renames, so a checkpoint that exists
  under its final name is complete; a full disk is one :class:`CheckpointSaveError` line.
"""
import errno
import os.path as osp
import pickle
import re
import zipfile

import numpy as np
import torch

from .errors import first_line
from .files import atomic_write


class CheckpointError(RuntimeError):
    """A checkpoint could not be read; ``str(err)`` is one line that names the file."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f'{self.path}: {message}')


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The checkpoint's pickle asks for a global (a function or class) that safe loading forbids."""


class CheckpointSaveError(OSError):
    """A checkpoint could not be written (disk full, file too large, ...): ``errno`` is the
    operating system's, ``str(err)`` one line naming the file."""

    def __str__(self) -> str:
        return f'{self.filename}: {self.strerror}'


_GLOBAL = re.compile(r'GLOBAL\s+([\w.<>]+)')


def safe_checkpoint_globals() -> list:
    """The exact extra types an mmengine 0.10.7 checkpoint pickles (message hub history, numpy
    scalars/arrays/dtypes). Nothing that can run code: ``getattr`` is only reached through
    torch's restricted unpickler, which still refuses any callable not listed here."""
    from mmengine.logging import HistoryBuffer
    dtype_classes = [type(np.dtype(t)) for t in
                     (np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_)]
    multiarray = np._core.multiarray  # numpy 2 pickles numpy._core.* names
    return [HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
            getattr, *dtype_classes]


def describe_load_error(path, err: BaseException) -> CheckpointError:
    """The :class:`CheckpointError` (one line naming ``path``) for an exception of torch.load."""
    text = str(err)
    if isinstance(err, CheckpointError):
        return err
    if isinstance(err, FileNotFoundError):
        return CheckpointError(path, 'no such checkpoint file')
    if isinstance(err, IsADirectoryError):
        return CheckpointError(path, 'is a folder, not a checkpoint file')
    if isinstance(err, PermissionError):
        return CheckpointError(path, 'cannot be read (permission denied)')
    if isinstance(err, pickle.UnpicklingError) and 'Weights only load failed' in text:
        found = _GLOBAL.search(text)
        if found:
            return UnsafeCheckpointError(
                path, f"refused: the checkpoint's pickle wants to call {found.group(1)}, which "
                'is not an allowed type (torch safe loading); nothing from it was run')
        detail = re.search(r'WeightsUnpickler error:\s*(.+)', text, re.S)
        detail = detail.group(1).strip().splitlines()[0] if detail else 'unsupported content'
        return UnsafeCheckpointError(
            path, f'refused: not a torch checkpoint that safe loading can read ({detail}); '
            'nothing from it was run')
    if isinstance(err, EOFError) or (isinstance(err, RuntimeError) and (
            'PytorchStreamReader' in text or 'central directory' in text
            or 'archive is corrupted' in text)) or isinstance(err, zipfile.BadZipFile):
        size = osp.getsize(path) if osp.isfile(path) else 0
        if size == 0:
            return CheckpointError(path, 'empty file (0 bytes), not a checkpoint')
        reason = first_line(err).split('. ')[0].rstrip('.')
        return CheckpointError(
            path, f'truncated or corrupt checkpoint ({size} bytes; {reason}): was it cut short '
            'while being saved or copied?')
    if isinstance(err, (pickle.UnpicklingError, KeyError, ValueError, UnicodeDecodeError)):
        return CheckpointError(path, f'not a torch checkpoint ({type(err).__name__}: '
                               f'{first_line(err)})')
    return CheckpointError(path, f'cannot load: {type(err).__name__}: {first_line(err)}')


def safe_load_checkpoint(path, map_location='cpu', mmap: bool = False):
    """``torch.load(path, map_location, weights_only=True)``: only tensors, containers, numbers,
    strings and the types of :func:`safe_checkpoint_globals` come back; anything
    else raises :class:`UnsafeCheckpointError` before it runs. Other failures (missing, empty,
    truncated, not a checkpoint) raise :class:`CheckpointError`. Messages are one line naming
    ``path``. ``mmap=True`` maps the tensor data instead of reading it (:func:`check_checkpoint`).
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise CheckpointError(path, 'is a folder, not a checkpoint file' if osp.isdir(path)
                              else 'no such checkpoint file')
    # leaving the context removes what it added: add only what is not allowed already
    allowed = torch.serialization.get_safe_globals()
    try:
        with torch.serialization.safe_globals(
                [g for g in safe_checkpoint_globals() if g not in allowed]):
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # noqa: BLE001 - every load failure becomes one clear line
        if is_onnx_file(path):
            raise CheckpointError(path, ONNX_GIVEN) from err
        raise describe_load_error(path, err) from err


ONNX_GIVEN = ('an ONNX model, not a PyTorch checkpoint: tools/demo.py and tools/demo_batch.py '
              "run it with --backend onnxruntime (ESTInferencer(..., backend='onnxruntime')); "
              'tools/test.py, training and the analysis tools need the .pth checkpoint it was '
              'exported from')


def is_onnx_file(path) -> bool:
    """Whether ``path`` is an ONNX model: named ``.onnx``, or starting as an ONNX ModelProto does
    (field 1, ir_version, then producer/graph fields), which no torch checkpoint does (those
    start with ``PK`` or a pickle's ``0x80``)."""
    if str(path).lower().endswith('.onnx'):
        return True
    try:
        with open(path, 'rb') as f:
            head = f.read(3)
    except OSError:
        return False
    return len(head) == 3 and head[0] == 0x08 and 1 <= head[1] <= 30 and head[2] in (
        0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42)


def check_checkpoint(path) -> None:
    """Fail early and cheaply: parse the checkpoint's pickle under the safe rules with the tensor
    data memory-mapped, not read (so a 500 MB checkpoint costs milliseconds). Raises
    :class:`CheckpointError` (one line naming ``path``) for an unsafe, truncated or missing
    file. The tools call it before building a Runner; the Runner's own (safe) load follows."""
    try:
        with open(osp.expanduser(str(path)), 'rb') as f:
            is_zip = f.read(4) == b'PK\x03\x04'  # torch's (zip) format can be memory-mapped
    except OSError:
        is_zip = False
    safe_load_checkpoint(path, map_location='cpu', mmap=is_zip)


_SAVE_ERRORS = {errno.ENOSPC: 'no space left on device', errno.EDQUOT: 'disk quota exceeded',
                errno.EFBIG: 'file too large (a file-size limit, e.g. ulimit -f, or the '
                             "filesystem's largest file)"}


def _os_error(err: BaseException):
    """The first :class:`OSError` with an errno in ``err``'s chain (torch.save reports a failed
    write as a RuntimeError of its zip writer, with the OSError as its context)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno is not None:
            return err
        err = err.__cause__ or err.__context__
    return None


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save`` to a temporary file next to ``path`` (flushed to disk), then rename over
    ``path`` (:func:`~est_mm.utils.files.atomic_write`): a reader (or an auto-resume after
    SIGKILL) never sees a half-written file under the final name.

    A write that fails for lack of space (ENOSPC, EDQUOT, EFBIG) raises one
    :class:`CheckpointSaveError` naming ``path`` with the same errno; the temporary file is
    removed and an earlier file at ``path`` is left as it was.
    """
    try:
        with atomic_write(path, fsync=True) as tmp, open(tmp, 'wb') as f:
            torch.save(obj, f)
    except BaseException as err:
        cause = _os_error(err) if isinstance(err, Exception) else None
        if cause is not None and cause.errno in _SAVE_ERRORS:
            raise CheckpointSaveError(cause.errno, 'cannot save the checkpoint: '
                                      f'{_SAVE_ERRORS[cause.errno]}', path) from None
        raise
