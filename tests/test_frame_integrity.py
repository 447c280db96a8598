"""Damaged frame images: ``check_dataset.py --deep`` names each (file and problem, exit 1, no
decoder message on the terminal without its file); the loader names one once per run and
counts them after each epoch (with and without DataLoader workers); ``strict_frames`` stops."""
import glob
import io
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import uuid
import zlib

import cv2
import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import est_mm  # noqa: F401  (registers the datasets, transforms and hooks)
from est_mm.datasets import toy
from est_mm.datasets.integrity import BadSampleError, DamagedFrameError, decode_image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DECODER_WORDS = ('Corrupt JPEG', 'Premature end', 'libpng', 'extraneous bytes')


def textured_jpeg(size=32) -> bytes:
    """A seeded blurred-noise JPEG (OpenCV's encoder, quality 95): its entropy data is long
    enough to damage at chosen points."""
    rng = np.random.RandomState(0)
    img = cv2.GaussianBlur(rng.randint(0, 256, (size, size, 3)).astype(np.uint8), (5, 5), 2)
    return cv2.imencode('.jpg', img)[1].tobytes()


def entropy_span(data: bytes):
    """(first, end) byte offsets of a baseline JPEG's entropy-coded data (after the SOS
    header, before EOI)."""
    sos = data.find(b'\xff\xda')
    return sos + 2 + int.from_bytes(data[sos + 2:sos + 4], 'big'), len(data) - 2


def flipped(data: bytes, fraction: float, mask: int) -> bytes:
    first, end = entropy_span(data)
    out = bytearray(data)
    out[first + int((end - first) * fraction)] ^= mask
    return bytes(out)


def cut(data: bytes, fraction: float) -> bytes:
    """``data`` cut ``fraction`` of the way through its entropy-coded data."""
    first, end = entropy_span(data)
    return data[:first + int((end - first) * fraction)]


def stray_marker(data: bytes) -> bytes:
    """The middle entropy byte whose successor starts no stuffing or restart code turned into
    0xFF: a marker inside the scan, which every decoder sees."""
    first, end = entropy_span(data)
    pos = next(i for i in range((first + end) // 2, end - 1)
               if data[i + 1] not in (0x00, 0xFF, *range(0xD0, 0xD8)))
    return data[:pos] + b'\xff' + data[pos + 1:]


def png_bad_crc(data: bytes, chunk: bytes = b'IDAT') -> bytes:
    """The stored CRC of the first ``chunk`` with one bit flipped."""
    pos = data.find(chunk) - 4
    end = pos + 12 + int.from_bytes(data[pos:pos + 4], 'big')
    assert zlib.crc32(data[pos + 4:end - 4]) == int.from_bytes(data[end - 4:end], 'big')
    return data[:end - 1] + bytes([data[end - 1] ^ 1]) + data[end:]


JPEG = textured_jpeg()
PNG = cv2.imencode('.png', cv2.imdecode(np.frombuffer(JPEG, np.uint8), cv2.IMREAD_COLOR))[1]
PNG = PNG.tobytes()
# kind -> (file extension, damaged bytes, words of the problem); the XOR flip at 2/3 of this
# image's scan desynchronises its Huffman stream (many single flips do not, and no decoder can
# see those: JPEG has no checksum)
DAMAGE = {
    'cut at 1/3': ('jpg', cut(JPEG, 1 / 3), 'truncated JPEG: no end-of-image marker'),
    'cut at 2/3': ('jpg', cut(JPEG, 2 / 3), 'truncated JPEG: no end-of-image marker'),
    'cut before EOI': ('jpg', JPEG[:-2], 'truncated JPEG: no end-of-image marker'),
    'flipped entropy bit': ('jpg', flipped(JPEG, 2 / 3, 0x10),
                            'Corrupt JPEG data: 84 extraneous bytes before marker 0xd9'),
    'stray marker in the scan': ('jpg', stray_marker(JPEG), 'JPEG'),
    'PNG with a bad IDAT CRC': ('png', png_bad_crc(PNG), "bad CRC of its 'IDAT' chunk"),
    'PNG cut short': ('png', PNG[:len(PNG) // 2], "truncated PNG: ends inside its 'IDAT'"),
}


def progressive_jpeg() -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(cv2.imdecode(np.frombuffer(JPEG, np.uint8), cv2.IMREAD_COLOR)).save(
        out, 'JPEG', progressive=True, quality=90)
    return out.getvalue()


def test_intact_files_have_no_problem(tmp_path):
    """Intact JPEG (baseline, progressive, with bytes a writer appended after the end marker)
    and PNG: no problem, the pixels."""
    for name, data in (('ok.jpg', JPEG), ('ok.png', PNG), ('progressive.jpg', progressive_jpeg()),
                       ('trailer.jpg', JPEG + bytes(16) + b'\xff\xda trailer')):
        path = tmp_path / name
        path.write_bytes(data)
        img, problem = decode_image(str(path))
        assert problem is None and img.shape == (32, 32, 3), name


@pytest.mark.parametrize('kind', list(DAMAGE))
def test_decode_image_names_the_damage(kind, tmp_path, capfd):
    ext, data, words = DAMAGE[kind]
    path = tmp_path / f'frame.{ext}'
    path.write_bytes(data)
    img, problem = decode_image(str(path))
    assert problem and words in problem and '\n' not in problem
    if kind.startswith('cut') or kind == 'flipped entropy bit':  # still gives its pixels
        assert img.shape == (32, 32, 3)
    assert capfd.readouterr().err == ''  # what libjpeg / libpng said is in the problem only


# ------------------------------------------------------------------ check_dataset.py --deep

@pytest.fixture(scope='module')
def toy_tree(module_tmp):
    out = str(module_tmp.mktemp('frames') / 'toy')
    toy.generate_toy_dataset(out, train_per_class=1, test_per_class=1, frame_size=32,
                             min_frames=3, max_frames=3, progress=False)
    return out


def test_deep_check_names_every_damaged_frame(toy_tree, tmp_path):
    """One damaged frame of each kind in its own clip, the documented command in a fresh
    interpreter: each file is named with its problem, exit 1, and no decoder message reaches
    the terminal without its file."""
    root = str(tmp_path / 'toy')
    shutil.copytree(toy_tree, root)
    clips = sorted(glob.glob(osp.join(root, toy.FRAMES_DIR, '*')))
    damaged = {}
    for clip, (kind, (ext, data, words)) in zip(clips, DAMAGE.items()):
        os.remove(osp.join(clip, '2.jpg'))
        damaged[osp.join(clip, f'2.{ext}')] = words
        with open(osp.join(clip, f'2.{ext}'), 'wb') as f:
            f.write(data)
    cmd = [sys.executable, osp.join('tools', 'data', 'check_dataset.py'),
           osp.join('configs', 'est_r18_toy.py'), '--deep', '--splits', 'train', 'test',
           '--max-list', '100', '--cfg-options', f'train_dataloader.dataset.data_root={root}',
           f'test_dataloader.dataset.data_root={root}']
    done = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                          capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    lines = out.splitlines()
    for path, words in damaged.items():
        named = [ln for ln in lines if path in ln]
        assert named and all(words in ln for ln in named), (path, named)
    assert not [ln for ln in lines if any(w in ln for w in DECODER_WORDS)
                and not any(p in ln for p in damaged)]
    assert 'FAILED' in lines[-1] and 'every frame decodes' not in out


# ------------------------------------------------------------------ the training loader

class TinyModel(BaseModel):
    """One weight over the clips' mean brightness: enough for a Runner to train."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        level = torch.stack([clip.float().mean() for clip in inputs]) / 255
        if mode == 'loss':
            return {'loss': ((level * self.weight - 1) ** 2).mean()}
        return level * self.weight


@pytest.fixture
def clips_with_a_damaged_frame(tmp_path):
    """Four 3-frame clips listed for a FERVideoDataset; frame 2 of clip ``c1`` cut short."""
    root = tmp_path / 'clips'
    for c in range(4):
        (root / f'c{c}').mkdir(parents=True)
        for k in range(1, 4):
            (root / f'c{c}' / f'{k}.jpg').write_bytes(JPEG)
        (root / 'list.txt').open('a').write(f'c{c} {c % 2}\n')
    bad = root / 'c1' / '2.jpg'
    bad.write_bytes(cut(JPEG, 1 / 2))
    return str(root), str(bad)


def make_runner(root, work_dir, workers=0, on_bad_sample='error', **cfg) -> Runner:
    """Two epochs of :class:`TinyModel` on the clips, with the hook of the configs; ``cfg`` is
    the config the hook reads (``strict_frames``)."""
    pipeline = [dict(type='VideoOrFramesInit'),
                dict(type='UniformSample', clip_len=3, num_clips=1, test_mode=True),
                dict(type='VideoOrFramesDecode'),
                dict(type='FormatShape', input_format='NCHW'),
                dict(type='PackActionInputs')]
    dataset = dict(type='FERVideoDataset', ann_file=osp.join(root, 'list.txt'),
                   data_prefix=dict(video=root), num_classes=2, pipeline=pipeline,
                   on_bad_sample=on_bad_sample)
    return Runner(
        model=TinyModel(), work_dir=str(work_dir), default_scope='mmaction', cfg=cfg,
        # mmengine keeps one visualizer per experiment name (the start second by default), and
        # pytest reuses a removed tmp_path's name: a name of its own for every runner
        experiment_name=f'{osp.basename(work_dir)}_{uuid.uuid4().hex}',
        train_dataloader=dict(batch_size=2, num_workers=workers, persistent_workers=False,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              dataset=dataset),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        custom_hooks=[dict(type='DamagedFrameHook')])


def log_lines(work_dir, name='*.log'):
    (log, ) = glob.glob(osp.join(str(work_dir), '*', name))
    with open(log) as f:
        return f.read().splitlines()


@pytest.mark.parametrize('workers', [0, 2])
def test_loader_names_a_damaged_frame_once_and_counts_it_per_epoch(
        workers, clips_with_a_damaged_frame, tmp_path):
    root, bad = clips_with_a_damaged_frame
    make_runner(root, tmp_path / 'work', workers).train()
    lines = log_lines(tmp_path / 'work')
    named = [ln for ln in lines if f'damaged frame {bad}:' in ln]
    assert len(named) == 1, named  # two epochs, one line
    assert 'truncated JPEG: no end-of-image marker' in named[0]
    for epoch in (1, 2):
        counts = [ln for ln in lines if f'damaged frames loaded in training epoch {epoch}: 1 '
                  in ln]
        assert len(counts) == 1, lines[-20:]
    # the record in the run's log folder: one line per load (two epochs)
    assert log_lines(tmp_path / 'work', 'damaged_frames.jsonl') == [
        json.dumps([bad, named[0].split(f'{bad}: ')[1].split('; loaded')[0], True])] * 2


def test_strict_frames_stops_at_the_damaged_frame(clips_with_a_damaged_frame, tmp_path):
    root, bad = clips_with_a_damaged_frame
    runner = make_runner(root, tmp_path / 'error', strict_frames=True)
    with pytest.raises(BadSampleError, match=f'damaged frame {bad}: truncated JPEG'):
        runner.train()
    # a sample the dataset skips (on_bad_sample='skip') still stops the run, in the hook
    runner = make_runner(root, tmp_path / 'skip', on_bad_sample='skip', strict_frames=True)
    with pytest.raises(DamagedFrameError, match=f'damaged frame {bad}: .*strict_frames=True'):
        runner.train()


def test_every_config_runs_the_hook_and_has_the_switch():
    from est_mm.utils.config import load_config
    cfg = load_config(osp.join(REPO, 'configs', 'est_r18_toy.py'),
                      {'strict_frames': True})
    assert dict(type='DamagedFrameHook') in cfg.custom_hooks and cfg.strict_frames is True


def test_without_the_hook_the_loader_warns_once_per_file(clips_with_a_damaged_frame):
    """A pipeline outside a Runner (the inferencer, a script): one warning line per damaged
    file and process, the frame loaded as far as it decodes; ``on_damaged='error'`` raises."""
    import logging

    from mmengine.logging import MMLogger
    from est_mm.datasets.transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
    root, bad = clips_with_a_damaged_frame
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        for _ in range(2):
            results = VideoOrFramesInit()({'frame_dir': osp.dirname(bad)})
            results['frame_inds'] = np.arange(3)
            imgs = VideoOrFramesDecode()(results)['imgs']
            assert len(imgs) == 3 and imgs[1].shape == (32, 32, 3)
    finally:
        logger.removeHandler(handler)
    assert [ln for ln in lines if bad in ln] == [
        f'damaged frame {bad}: truncated JPEG: no end-of-image marker after the image data '
        f'({os.path.getsize(bad)} bytes); loaded as far as it decodes']
    results = VideoOrFramesInit()({'frame_dir': osp.dirname(bad)})
    results['frame_inds'] = np.arange(3)
    with pytest.raises(DamagedFrameError, match=f'damaged frame {bad}: truncated JPEG'):
        VideoOrFramesDecode(on_damaged='error')(results)
