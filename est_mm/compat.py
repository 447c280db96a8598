"""Every version workaround est_mm needs, in one place. Applied once by ``import est_mm``.

Each entry says which package/version it works around and why (measured 2026-11 with the versions
est_mm pins). Nothing here weakens checkpoint security.
"""
import contextlib
import os
import sys
import types
import warnings

import torch

from .utils.safe_checkpoint import atomic_torch_save, safe_checkpoint_globals, safe_load_checkpoint

# mmcv-lite on purpose (full mmcv has no wheel here; EST uses none of its compiled ops); set before
# mmaction imports mmcv.cnn.bricks.transformer
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``',
                        category=UserWarning, module=r'mmcv\.cnn\.bricks\.transformer')
# mmengine 0.10.7's is_installed (config loading) imports pkg_resources (deprecated, setuptools 81)
warnings.filterwarnings('ignore', message='pkg_resources is deprecated as an API',
                        category=UserWarning)

_APPLIED = False


def _placeholder_drn() -> None:
    """mmaction2 1.2.0's wheel lacks ``mmaction/models/localizers/drn``, so ``import mmaction.models``
    fails; register empty modules (with a ``DRN`` name) so the import succeeds."""
    if 'mmaction.models.localizers.drn' in sys.modules:
        return
    pkg = types.ModuleType('mmaction.models.localizers.drn')
    pkg.__path__ = []  # mark as a package
    mod = types.ModuleType('mmaction.models.localizers.drn.drn')

    class DRN:  # noqa: D401 - placeholder, never registered or built
        """Placeholder: DRN is missing from the mmaction2 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError('DRN is not shipped in the mmaction2 1.2.0 wheel')

    mod.DRN = DRN
    pkg.drn = mod
    pkg.DRN = DRN
    sys.modules['mmaction.models.localizers.drn'] = pkg
    sys.modules['mmaction.models.localizers.drn.drn'] = mod


def _allow_mmengine_checkpoints() -> None:
    """torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7 checkpoints contain the
    types of :func:`~est_mm.utils.safe_checkpoint.safe_checkpoint_globals`, so test/resume fail
    without allowing exactly those (never ``weights_only=False``)."""
    torch.serialization.add_safe_globals(safe_checkpoint_globals())


def _mmengine_checkpoint_files() -> None:
    """mmengine 0.10.7 reads local checkpoints with a bare ``torch.load`` (safe by default since
    torch 2.6, but ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` silently makes it unsafe, and its errors
    are multi-paragraph) and writes them in place (a SIGKILL mid-write leaves a truncated file under
    the final name). Route both through :mod:`est_mm.utils.safe_checkpoint`: explicit
    ``weights_only=True`` with one-line errors naming the file, and write-to-temp-then-rename."""
    from mmengine.runner import checkpoint as mm_ckpt
    from mmengine.runner import runner as mm_runner

    mm_ckpt.CheckpointLoader.register_scheme(prefixes='', loader=safe_load_checkpoint, force=True)

    original_save = mm_ckpt.save_checkpoint

    def save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None):
        if '://' in str(filename) or file_client_args is not None or backend_args:
            return original_save(checkpoint, filename, file_client_args, backend_args)
        atomic_torch_save(checkpoint, str(filename))

    save_checkpoint.__wrapped__ = original_save
    mm_ckpt.save_checkpoint = save_checkpoint
    mm_runner.save_checkpoint = save_checkpoint  # Runner.save_checkpoint uses its own import


def cpu_distributed_setup(cfg, launcher: str) -> None:
    """mmengine's pytorch launcher calls ``torch.cuda.set_device`` even without a GPU; on a CPU-only
    machine start the gloo process group ourselves (the Runner then skips its own init) and wrap
    the model in DDP with ``device_ids=None``."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    os.environ.setdefault('LOCAL_RANK', '0')


def quiet_pyav() -> None:
    """PyAV 15: no FFmpeg log callback (level None, which also keeps FFmpeg's lines off stderr).
    With a level set, PyAV's callback takes the GIL from FFmpeg's decoder threads, so closing a
    frame-threaded decoder before the end of a video deadlocks (PyAV #909; seen here in a test)."""
    import av
    av.logging.set_level(None)


@contextlib.contextmanager
def opencv_threads_for_fork(threads: int = 1):
    """OpenCV 4.x: ``cv2.setNumThreads`` in a forked child hangs when the parent had started
    OpenCV's thread pool (it joins threads the child does not have). Set the count in the parent
    around the fork instead: the workers inherit it and never reconfigure."""
    import cv2
    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def apply() -> None:
    """Apply every workaround once (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    _placeholder_drn()
    _allow_mmengine_checkpoints()
    _mmengine_checkpoint_files()
    _APPLIED = True
