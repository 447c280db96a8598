"""No silent data loss: refuse to replace results unless asked, check an output folder can be
written before the work, find what a work dir holds, and resolve ``--resume`` without trusting a
stale ``last_checkpoint`` pointer."""
import contextlib
import glob
import os
import os.path as osp
import re
import tempfile
from typing import Iterable, Iterator, List, Optional

# The names mmengine's CheckpointHook (and SafeCheckpointHook) writes into a work dir.
_CHECKPOINT = re.compile(r'^(epoch|iter)_(\d+)\.pth$|^best_.*\.pth$')


def check_writable_dir(path: str, create: bool = True) -> None:
    """Creates folder ``path`` if needed and checks a file can be written in it; raises
    OSError with one line naming the folder otherwise (call it before any work).
    ``create=False`` creates nothing: the nearest existing folder of ``path`` is tried instead."""
    path = path or '.'
    try:
        if create:
            os.makedirs(path, exist_ok=True)
            where = path
        else:
            where = osp.abspath(path)
            while not osp.lexists(where) and osp.dirname(where) != where:
                where = osp.dirname(where)
            if not osp.isdir(where):
                raise NotADirectoryError(20, 'Not a directory')
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as err:
        raise OSError(f'{path}: cannot write to this folder ({err.strerror or err})') from None


@contextlib.contextmanager
def atomic_write(path: str, suffix: str = '', fsync: bool = False) -> Iterator[str]:
    """Yields a new temporary file name in the folder of ``path`` (created if needed) to write;
    when the block ends without an exception the file is renamed over ``path`` (``os.replace``),
    otherwise it is removed and an earlier file at ``path`` stays as it was. A reader never sees
    a half-written file under the final name.

    ``suffix`` ends the temporary name, for writers that choose the format from it (``'.png'``);
    ``fsync`` flushes the file to disk before the rename (checkpoints)."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp' + suffix,
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 → what open() would have given
        os.replace(tmp, path)
    finally:
        if osp.lexists(tmp):
            os.remove(tmp)


def _umask() -> int:
    try:  # Linux: read without setting it (os.umask is process-wide, a race with other threads)
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class OutputExistsError(FileExistsError):
    """An output file exists and ``--overwrite`` was not given; ``str(err)`` is one line."""


def refuse_existing(paths: Iterable[Optional[str]], overwrite: bool = False,
                    flag: Optional[str] = '--overwrite') -> None:
    """Raise :class:`OutputExistsError` naming the first of ``paths`` that exists, unless
    ``overwrite``; its message names ``flag`` as the way to replace it (``None``: the caller
    says what to do)."""
    if overwrite:
        return
    for path in paths:
        if path and osp.lexists(path):
            raise OutputExistsError(f'{path} exists' +
                                    (f': pass {flag} to replace it' if flag else ''))


def work_dir_checkpoints(work_dir: str) -> List[str]:
    """The checkpoint files (epoch_N.pth, iter_N.pth, best_*.pth) and the ``last_checkpoint``
    pointer in ``work_dir`` (not its sub-folders); other .pth files are not counted."""
    if not osp.isdir(work_dir):
        return []
    found = [osp.join(work_dir, name) for name in sorted(os.listdir(work_dir))
             if _CHECKPOINT.match(name) or name == 'last_checkpoint']
    return [p for p in found if osp.isfile(p)]


def remove_checkpoints(work_dir: str) -> List[str]:
    """Delete what :func:`work_dir_checkpoints` lists (``--overwrite``: start over); returns it."""
    removed = []
    for path in work_dir_checkpoints(work_dir):
        try:
            os.remove(path)
            removed.append(path)
        except FileNotFoundError:  # another rank was faster
            pass
    return removed


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to auto-resume from: the one ``last_checkpoint`` names if that file exists,
    else the newest complete ``epoch_N.pth`` (else ``iter_N.pth``; highest N; the ``.tmp``
    files of an interrupted save are ignored), else None."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        for path in (named, osp.join(work_dir, osp.basename(named))):
            if named and osp.isfile(path):
                return path
    numbered = {'epoch': [], 'iter': []}
    for path in glob.glob(osp.join(work_dir, '*_*.pth')):
        match = _CHECKPOINT.match(osp.basename(path))
        if match and match.group(2):
            numbered[match.group(1)].append((int(match.group(2)), path))
    found = numbered['epoch'] or numbered['iter']
    return max(found)[1] if found else None
