"""Reading and writing checkpoints safely, with one clear line when a checkpoint is bad.

* :func:`safe_load_checkpoint` is the only way est_mm reads a checkpoint file: ``torch.load`` with
  ``weights_only=True`` passed explicitly (so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it
  off) and exactly the extra types of :func:`est_mm.compat.safe_checkpoint_globals`.
  ``est_mm.compat`` registers it as mmengine's loader for local files, so the Runner (``load_from``, ``resume``),
  ``mmengine.runner.load_checkpoint`` (ESTInferencer, analysis tools) and backbone ``pretrained``
  files all go through it.
* Every failure becomes a :class:`CheckpointError` whose message is one line naming the file;
  the tools turn it into ``SystemExit(message)``.
* :func:`atomic_torch_save` writes to a temporary name and renames, so a checkpoint that exists
  under its final name is complete.
"""
import os
import os.path as osp
import pickle
import re
import zipfile

import torch


class CheckpointError(RuntimeError):
    """A checkpoint could not be read; ``str(err)`` is one line that names the file."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f'{self.path}: {message}')


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The checkpoint's pickle asks for a global (a function or class) that safe loading forbids."""


_GLOBAL = re.compile(r'GLOBAL\s+([\w.<>]+)')


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else type(err).__name__


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
        reason = _first_line(err).split('. ')[0].rstrip('.')
        return CheckpointError(
            path, f'truncated or corrupt checkpoint ({size} bytes; {reason}): was it cut short '
            'while being saved or copied?')
    if isinstance(err, (pickle.UnpicklingError, KeyError, ValueError, UnicodeDecodeError)):
        return CheckpointError(path, f'not a torch checkpoint ({type(err).__name__}: '
                               f'{_first_line(err)})')
    return CheckpointError(path, f'cannot load: {type(err).__name__}: {_first_line(err)}')


def safe_load_checkpoint(path, map_location='cpu', mmap: bool = False):
    """``torch.load(path, map_location, weights_only=True)``: only tensors, containers, numbers,
    strings and the types of :func:`est_mm.compat.safe_checkpoint_globals` come back; anything
    else raises :class:`UnsafeCheckpointError` before it runs. Other failures (missing, empty,
    truncated, not a checkpoint) raise :class:`CheckpointError`. Messages are one line naming
    ``path``. ``mmap=True`` maps the tensor data instead of reading it (:func:`check_checkpoint`).
    """
    from .. import compat
    compat.apply()  # the allowed extra types (idempotent; done by ``import est_mm`` anyway)
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise CheckpointError(path, 'is a folder, not a checkpoint file' if osp.isdir(path)
                              else 'no such checkpoint file')
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # noqa: BLE001 - every load failure becomes one clear line
        raise describe_load_error(path, err) from err


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


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save`` to ``<path>.tmp`` (flushed to disk), then rename over ``path``: a reader (or
    an auto-resume after SIGKILL) never sees a half-written file under the final name."""
    tmp = f'{path}.tmp'
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    try:
        with open(tmp, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
