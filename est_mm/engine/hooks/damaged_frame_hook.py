"""Names each damaged frame image once in the run's log and counts them per epoch, for every
loop (train, val, test) and any number of DataLoader workers; or stops the run at the first.

The frame loader (:class:`~est_mm.datasets.transforms.loading.VideoOrFramesDecode`) decodes
strictly. Its DataLoader workers are other processes, so each report travels as one line
appended to ``damaged_frames.jsonl`` in the run's log folder (``damage_log`` of every such
transform, set before the loop's workers start; ``damaged_frames.rank<N>.jsonl`` on the other
ranks of a distributed run); the hook reads the new lines after every iteration, in the main
process, so a frame is named once per run however many workers and epochs load it. The file
stays as the record: one ``[path, problem, decoded]`` line per load of a damaged frame
(``decoded``: false for a frame with no pixels at all, whose sample fails to load).
"""
import json
import logging
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, Iterator, Optional, Set

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmaction.registry import HOOKS
from ...datasets.integrity import DamagedFrameError, printable
from ...datasets.transforms.loading import VideoOrFramesDecode

STOP_KEY = 'strict_frames'  # the config's top-level switch (configs/_base_/default_runtime.py)


def frame_decoders(dataset) -> Iterator[VideoOrFramesDecode]:
    """Every :class:`VideoOrFramesDecode` in the pipelines of ``dataset``, looking inside
    dataset wrappers (``dataset`` / ``datasets``) and nested transform lists."""
    seen = set()

    def walk(node, depth=0):
        if node is None or id(node) in seen or depth > 8:
            return
        seen.add(id(node))
        if isinstance(node, VideoOrFramesDecode):
            yield node
            return
        if isinstance(node, (list, tuple)):
            for item in node:
                yield from walk(item, depth + 1)
            return
        for attr in ('pipeline', 'transforms', 'dataset', 'datasets'):
            yield from walk(getattr(node, attr, None), depth + 1)

    yield from walk(dataset)


def _say(message: str) -> None:
    """A warning line in the log on rank 0; on stderr with the rank on the others (whose
    loggers show errors only)."""
    message = printable(message)
    if get_rank() == 0:
        print_log(message, logger='current', level=logging.WARNING)
    else:
        print(f'WARNING rank {get_rank()}: {message}', file=sys.stderr, flush=True)


@HOOKS.register_module()
class DamagedFrameHook(Hook):
    """Name every damaged frame image once (file and problem) in the log and print, after each
    epoch that loaded any, one line counting them; with ``stop`` end the run at the first.

    Works with ``num_workers=0`` and with workers (persistent or not): reports reach this hook
    through ``damaged_frames.jsonl`` in the run's log folder (written only when a frame is
    damaged; it stays as the record). Each process of a distributed run counts the frames its
    own loader read.

    Args:
        stop (bool, optional): Stop at the first damaged frame (the loader raises
            :class:`~est_mm.datasets.integrity.DamagedFrameError` naming it). None reads the
            config's top-level ``strict_frames`` (``--cfg-options strict_frames=True``).
            Defaults to None.
    """

    priority = 'NORMAL'

    def __init__(self, stop: Optional[bool] = None):
        self.stop = stop
        self.log_path: Optional[str] = None
        self._offset = 0
        self._own_file = False
        self.named: Dict[str, str] = {}  # path -> problem, over the whole run
        self._loaded: Dict[str, Set[str]] = {}  # loop -> frames reported in its current epoch
        self._loop = 'train'

    def before_run(self, runner) -> None:
        if self.stop is None:
            self.stop = bool((getattr(runner, 'cfg', None) or {}).get(STOP_KEY, False))
        log_dir = getattr(runner, 'log_dir', None)
        if log_dir and osp.isdir(log_dir):
            rank = get_rank()
            self.log_path = osp.join(log_dir, 'damaged_frames' + (f'.rank{rank}' if rank else '')
                                     + '.jsonl')
            self._own_file = False
        else:  # no run folder (a bare loop): a temporary file, removed after the run
            fd, self.log_path = tempfile.mkstemp(prefix='est_mm_damaged_frames_',
                                                 suffix='.jsonl')
            os.close(fd)
            self._own_file = True
        # train() then test() on one runner share the file: read only what comes next
        self._offset = osp.getsize(self.log_path) if osp.exists(self.log_path) else 0

    def after_run(self, runner) -> None:
        if self.log_path and self._own_file and osp.exists(self.log_path):
            os.remove(self.log_path)
        self.log_path = None

    def _attach(self, loader, loop: str) -> None:
        if self.log_path is None:  # used without a runner's before_run (e.g. a bare loop)
            self.before_run(None)
        self._collect()  # what an earlier loop left belongs to that loop
        self._loop = loop
        self._loaded[loop] = set()
        for decoder in frame_decoders(getattr(loader, 'dataset', None)):
            decoder.damage_log = self.log_path
            if self.stop:
                decoder.on_damaged = 'error'

    def before_train_epoch(self, runner) -> None:
        self._attach(runner.train_dataloader, 'train')

    def before_val_epoch(self, runner) -> None:
        self._attach(runner.val_dataloader, 'val')

    def before_test_epoch(self, runner) -> None:
        self._attach(runner.test_dataloader, 'test')

    def _collect(self) -> None:
        """Read the reports appended since the last call; name the frames not named before."""
        if not self.log_path or not osp.exists(self.log_path) or \
                osp.getsize(self.log_path) <= self._offset:
            return
        with open(self.log_path, 'rb') as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b'\n') + 1  # a line still being written waits for the next call
        self._offset += end
        for line in data[:end].decode('utf-8').splitlines():
            path, problem, decoded = json.loads(line)
            if self.stop:  # the loader stopped already, unless on_bad_sample='skip' skipped it
                raise DamagedFrameError(f'damaged frame {path}: {problem} ({STOP_KEY}=True)')
            self._loaded.setdefault(self._loop, set()).add(path)
            if path not in self.named:
                self.named[path] = problem
                _say(f'damaged frame {path}: {problem}; '
                     + ('loaded as far as it decodes' if decoded else
                        'does not decode: its sample fails to load (on_bad_sample)')
                     + f' ({STOP_KEY}=True stops at a damaged frame)')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._collect()

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._collect()

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._collect()

    def _count(self, loop: str, what: str) -> None:
        self._collect()
        count = len(self._loaded.pop(loop, ()))
        if count:
            _say(f'damaged frames loaded in {what}: {count} (each named above when first seen; '
                 f'{len(self.named)} in this run; {STOP_KEY}=True stops at the first)')

    def after_train_epoch(self, runner) -> None:
        self._count('train', f'training epoch {runner.epoch + 1}')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._count('val', 'validation')
        self._loop = 'train'  # validation runs inside training

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._count('test', 'the test')
