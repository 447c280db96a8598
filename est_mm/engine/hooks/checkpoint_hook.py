"""mmengine's CheckpointHook, but a checkpoint is deleted only after its successor is written.

mmengine 0.10.7's ``CheckpointHook`` removes the outdated checkpoint (``max_keep_ckpts``) and the
previous ``best_*.pth`` *before* saving the new one: a run killed while saving (SIGKILL, OOM
killer, full disk) is left with no checkpoint at all, and ``last_checkpoint`` names a deleted
file. Here the removals are deferred until the new checkpoint and ``last_checkpoint`` exist
(checkpoint files themselves are written atomically by ``est_mm.compat``).
"""
import os.path as osp
from contextlib import contextmanager

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmaction.registry import HOOKS
from ...utils.files import atomic_write


class _DeferRemovals:
    """Proxy of a file backend that records ``remove``/``rmtree`` instead of doing them."""

    def __init__(self, backend):
        self._backend = backend
        self.pending = []

    def remove(self, path):
        self.pending.append(('remove', path))

    def rmtree(self, path):
        self.pending.append(('rmtree', path))

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """Same arguments and behaviour as mmengine's ``CheckpointHook``, except that removing an
    outdated (``max_keep_ckpts``) or superseded best checkpoint waits until the new checkpoint is
    completely saved and ``last_checkpoint`` points to it; ``last_checkpoint`` is written
    atomically."""

    @contextmanager
    def _deferred_removals(self):
        backend = self.file_backend
        proxy = _DeferRemovals(backend)
        self.file_backend = proxy
        try:
            yield
        finally:
            self.file_backend = backend
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for action, path in proxy.pending:  # only reached when saving succeeded
            if path in keep:
                continue
            if action == 'remove' and backend.isfile(path):
                backend.remove(path)
            elif action == 'rmtree' and backend.isdir(path):
                backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._deferred_removals():
            super()._save_checkpoint_with_step(runner, step, meta)
            if is_main_process():  # rewrite mmengine's in-place pointer atomically
                pointer = osp.join(runner.work_dir, 'last_checkpoint')
                with atomic_write(pointer) as tmp, open(tmp, 'w') as f:
                    f.write(self.last_ckpt)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._deferred_removals():
            super()._save_best_checkpoint(runner, metrics)
