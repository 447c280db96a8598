"""Export a trained EST (config + checkpoint) to ONNX and verify it against PyTorch.

The exported graph includes the model's input normalisation, so it takes raw RGB frames
(float32, 0-255) and needs no est_mm, mmaction2 or torch at run time; see
:mod:`est_mm.deploy.onnx_backend` for the contract and the runner.
``tools/deployment/export_onnx.py`` is the command-line front end of :func:`export_and_verify`.

Export uses PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): the
default dynamo exporter of torch >= 2.9 needs ``onnxscript``, which est_mm does not depend on.
``nn.MultiheadAttention``'s fused inference fast path (``aten::_native_multi_head_attention``)
has no ONNX symbolic, so it is switched off while tracing only; the PyTorch reference in the
verification runs with it on, exactly as ``ESTInferencer`` does.
"""
import contextlib
import hashlib
import json
import os
import os.path as osp
import tempfile
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .onnx_backend import FORMAT_VERSION, INPUT_NAME, OUTPUT_NAMES, ONNXModel

DEFAULT_OPSET = 17
DEFAULT_ATOL = 1e-4
# test-pipeline steps that the ONNX graph + ONNXModel reproduce (sampling, decode, resize, layout)
_SUPPORTED_TEST_STEPS = {'VideoOrFramesInit', 'SnippetSampling', 'VideoOrFramesDecode', 'Resize',
                         'FormatShape', 'PackActionInputs', 'DecordInit', 'DecordDecode',
                         'RawFrameDecode', 'OpenCVInit', 'OpenCVDecode'}


class ExportError(RuntimeError):
    """A problem that stops the export with one clear message."""


# ---------------------------------------------------------------------------- model and config
def _test_step(pipeline, type_name) -> Optional[dict]:
    for step in pipeline:
        if step['type'] == type_name:
            return dict(step)
    return None


def load_model(config: str, checkpoint: str, cfg_options: Optional[dict] = None):
    """Builds the model of ``config`` and loads ``checkpoint`` with mmengine's ``load_checkpoint``
    (torch's ``weights_only`` loading; every parameter must be present, ``strict=True``).
    Returns ``(model in eval mode on CPU, Config, class names)``."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    import est_mm  # noqa: F401  (registers the est_mm components)
    register_all_modules()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'forward_explain'):
        raise ExportError(f'{config}: model {type(model).__name__} has no forward_explain '
                          f'(only ESTRecognizer models can be exported)')
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    return model, cfg, class_names(meta or {}, cfg, model.cls_head.num_classes)


def class_names(meta: dict, cfg, num_classes: int) -> List[str]:
    """Class names as ESTInferencer finds them: the checkpoint's ``meta.dataset_meta.classes``,
    else the test dataset class's METAINFO, else ``'0'..'K-1'``."""
    from mmaction.registry import DATASETS
    classes = (meta.get('dataset_meta') or {}).get('classes')
    if not classes:
        try:
            dataset_cls = DATASETS.get(cfg.test_dataloader.dataset.type)
        except Exception:  # noqa: BLE001 - no usable test dataset in the config
            dataset_cls = None
        classes = getattr(dataset_cls, 'METAINFO', {}).get('classes') if dataset_cls else None
    if not classes or len(classes) != num_classes:
        classes = [str(i) for i in range(num_classes)]
    return [str(c) for c in classes]


def sampling_settings(cfg):
    """(the built test-mode SnippetSampling transform, its settings as a JSON-able dict)."""
    from mmaction.registry import TRANSFORMS
    step = _test_step(cfg.test_dataloader.dataset.pipeline, 'SnippetSampling')
    if step is None:
        raise ExportError("the config's test pipeline has no SnippetSampling step")
    step['test_mode'] = True
    sampler = TRANSFORMS.build(step)
    return sampler, sampler.geometry.to_dict()


def config_frame_size(cfg) -> Optional[Tuple[int, int]]:
    """(H, W) of the test pipeline's fixed-size Resize, or None when it has none."""
    resize = _test_step(cfg.test_dataloader.dataset.pipeline, 'Resize')
    if not resize or resize.get('keep_ratio', True):
        return None
    scale = resize.get('scale')
    if not isinstance(scale, (tuple, list)) or len(scale) != 2 or min(scale) <= 0:
        return None
    return int(scale[1]), int(scale[0])  # mmcv scale is (w, h)


def unsupported_test_steps(cfg) -> List[str]:
    return [s['type'] for s in cfg.test_dataloader.dataset.pipeline
            if s['type'] not in _SUPPORTED_TEST_STEPS]


def normalisation(model) -> Tuple[List[float], List[float], bool]:
    """(mean, std, to_rgb) that the model's ActionDataPreprocessor applies (mean 0 / std 1 when
    it does not normalise)."""
    dp = model.data_preprocessor
    if getattr(dp, 'format_shape', 'NCHW') != 'NCHW':
        raise ExportError(f'data_preprocessor format_shape {dp.format_shape!r} is not NCHW')
    if getattr(dp, '_enable_normalize', False):
        mean = [float(v) for v in dp.mean.flatten()]
        std = [float(v) for v in dp.std.flatten()]
    else:
        mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    return mean, std, bool(getattr(dp, 'to_rgb', False))


class ExportWrapper(nn.Module):
    """Raw clips [N, T, 3, H, W] (RGB, 0-255) → (softmax scores, frame weights, snippet attention,
    logits): the data_preprocessor's normalisation followed by ``forward_explain``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        mean, std, self.to_rgb = normalisation(model)
        self.register_buffer('mean', torch.tensor(mean).view(1, 1, -1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 1, -1, 1, 1), persistent=False)

    def forward(self, clips: torch.Tensor):
        x = clips.float()
        if self.to_rgb:  # the data_preprocessor's channel swap, kept for fidelity
            x = x[:, :, [2, 1, 0]]
        x = (x - self.mean) / self.std
        logits, frame_weights, snippet_attention = self.model.forward_explain(x)
        return logits.softmax(-1), frame_weights, snippet_attention, logits


@contextlib.contextmanager
def _mha_fastpath_disabled():
    """``aten::_native_multi_head_attention`` (MHA's eval fast path) has no ONNX symbolic."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


def trace_to_onnx(model: nn.Module, path: str, frame_size: Tuple[int, int], num_frames: int,
                  batch: int = 2, opset: int = DEFAULT_OPSET) -> None:
    """Writes the bare graph (no metadata) of ``ExportWrapper(model)`` to ``path``."""
    wrapper = ExportWrapper(model).eval()
    h, w = frame_size
    dummy = torch.rand(batch, num_frames, 3, h, w, generator=torch.Generator().manual_seed(0)) * 255
    names = [INPUT_NAME, *OUTPUT_NAMES]
    with _mha_fastpath_disabled(), torch.no_grad(), warnings.catch_warnings():
        # shape checks in the model become constants: right for a fixed T and H, W
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', message='.*TorchScript-based ONNX export')
        torch.onnx.export(wrapper, (dummy, ), path, dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                          dynamic_axes={n: {0: 'N'} for n in names}, do_constant_folding=True)


def build_metadata(cfg, config: str, checkpoint: str, classes: Sequence[str],
                   frame_size: Tuple[int, int], sampling: dict, mean, std, to_rgb: bool,
                   opset: int) -> Dict[str, str]:
    import est_mm
    return {
        'est_mm_format': FORMAT_VERSION,
        'classes': json.dumps(list(classes)),
        'frame_size': json.dumps(list(frame_size)),  # [H, W]
        'mean': json.dumps(mean),
        'std': json.dumps(std),
        'to_rgb': json.dumps(to_rgb),
        'sampling': json.dumps(sampling),
        'input': json.dumps({'name': INPUT_NAME, 'layout': 'N,T,C,H,W', 'dtype': 'float32',
                             'channels': 'RGB', 'range': '0-255, unnormalised (the graph '
                             'computes (x - mean) / std)',
                             'resize': 'cv2.resize INTER_LINEAR to frame_size'}),
        'outputs': json.dumps(list(OUTPUT_NAMES)),
        'config': osp.basename(config),
        'model': cfg.model.get('type', ''),
        'checkpoint': osp.basename(checkpoint),
        'checkpoint_sha256': _sha256(checkpoint),
        'opset': str(opset),
        'est_mm_version': getattr(est_mm, '__version__', ''),
        'torch_version': torch.__version__,
    }


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def add_metadata(path: str, metadata: Dict[str, str]) -> None:
    import onnx
    proto = onnx.load(path)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = ('EST (Expression Snippet Transformer) exported by est_mm: clips [N, T, 3, '
                        'H, W] float32 RGB 0-255 → scores, frame_weights, snippet_attention, '
                        'logits. See metadata_props.')
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


# ---------------------------------------------------------------------------- verification
def _read_clip(path: str, sampler, frame_size) -> np.ndarray:
    """One clip [T, H, W, 3] uint8 from a frame folder or video, sampled as at test time."""
    import cv2
    from ..datasets.transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
    key = 'frame_dir' if osp.isdir(path) else 'filename'
    results = VideoOrFramesInit().transform({key: path})
    results = sampler.transform(results)
    frames = VideoOrFramesDecode().transform(results)['imgs']
    h, w = frame_size
    return np.stack([f if f.shape[:2] == (h, w) else
                     cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in frames])


def synthetic_face_clips(num: int, sampler, frame_size, seed: int = 0) -> np.ndarray:
    """``num`` clips [T, H, W, 3] uint8 of the toy dataset's moving cartoon faces (random
    identity and expression, 20-80 frames, sampled as at test time)."""
    import cv2
    from ..datasets.toy import render_video, sample_identity
    rng = np.random.default_rng(seed)
    h, w = frame_size
    clips = []
    for i in range(num):
        identity = sample_identity(rng, max(h, w))
        frames, _ = render_video(identity, i % 7, int(rng.integers(20, 81)), rng)
        inds = sampler.geometry.test_indices(len(frames))
        clips.append(np.stack([cv2.resize(frames[j], (w, h), interpolation=cv2.INTER_LINEAR)
                               if (h, w) != frames[j].shape[:2] else frames[j] for j in inds]))
    return np.stack(clips)


@torch.no_grad()
def pytorch_outputs(model: nn.Module, clips: np.ndarray) -> Dict[str, np.ndarray]:
    """The reference: clips [N, T, H, W, 3] → the model's data_preprocessor → forward_explain,
    exactly as ESTInferencer runs it (fused MHA fast path included)."""
    inputs = [torch.from_numpy(np.ascontiguousarray(c)).permute(0, 3, 1, 2) for c in clips]
    x = model.data_preprocessor(dict(inputs=inputs, data_samples=None), False)['inputs']
    logits, frame_weights, snippet_attention = model.forward_explain(x)
    return dict(scores=logits.softmax(-1).numpy(), frame_weights=frame_weights.numpy(),
                snippet_attention=snippet_attention.numpy(), logits=logits.numpy())


def max_abs_diffs(reference: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray]
                  ) -> Dict[str, float]:
    """Max |difference| per output; inf for a shape mismatch or any non-finite value."""
    diffs = {}
    for name in OUTPUT_NAMES:
        a, b = reference[name], outputs[name]
        if a.shape != b.shape:
            diffs[name] = float('inf')
            continue
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        diffs[name] = float(d.max()) if np.isfinite(d).all() else float('inf')
    return diffs


def verify(onnx_model: ONNXModel, model: nn.Module, clip_sets: Dict[str, np.ndarray],
           log=print) -> Dict[str, float]:
    """Runs every clip set at batch 1 (its first clip) and at its full size through ONNX Runtime
    and PyTorch; logs the max abs difference per output and case. Returns the worst per output."""
    worst = {name: 0.0 for name in OUTPUT_NAMES}
    for kind, clips in clip_sets.items():
        for n in sorted({1, len(clips)}):
            batch = clips[:n]
            reference = pytorch_outputs(model, batch)
            diffs = max_abs_diffs(reference, onnx_model.run_preprocessed(
                onnx_model.preprocess(batch)))
            worst = {k: max(worst[k], v) for k, v in diffs.items()}
            log(f'  {kind:>8} clips, batch {n}: ' +
                '  '.join(f'{k} {v:.2e}' for k, v in diffs.items()))
    return worst


def check_metadata(onnx_model: ONNXModel, classes, sampling, frame_size=None) -> List[str]:
    """Differences between the file's metadata and the config/checkpoint (empty when none)."""
    problems = []
    if onnx_model.classes != list(classes):
        problems.append(f'classes {onnx_model.classes} != checkpoint/config {list(classes)}')
    if onnx_model.sampling != sampling:
        problems.append(f'sampling {onnx_model.sampling} != config {sampling}')
    if frame_size is not None and tuple(onnx_model.frame_size) != tuple(frame_size):
        problems.append(f'frame_size {onnx_model.frame_size} != {tuple(frame_size)}')
    return problems


# ---------------------------------------------------------------------------- the whole job
def export_and_verify(config: str, checkpoint: str, out: Optional[str] = None,
                      opset: int = DEFAULT_OPSET, frame_size: Optional[Sequence[int]] = None,
                      batch: int = 2, verify_clips: int = 2,
                      verify_frames: Optional[Sequence[str]] = None,
                      atol: float = DEFAULT_ATOL, overwrite: bool = False,
                      verify_only: bool = False, cfg_options: Optional[dict] = None,
                      seed: int = 0, log=print) -> int:
    """Export ``config`` + ``checkpoint`` to ``out`` (default: the checkpoint's path with
    ``.onnx``) and verify it; or, with ``verify_only``, verify an existing ``out``.

    The file is written atomically: the graph goes to a temporary file next to ``out``, gets its
    metadata, passes ``onnx.checker`` and the verification, and only then replaces ``out``. An
    existing ``out`` is refused unless ``overwrite``. Returns the exit status: 0 when every
    output of every verification case is within ``atol`` of PyTorch, 1 otherwise."""
    out = out or osp.splitext(checkpoint)[0] + '.onnx'
    if verify_only:
        if not osp.isfile(out):
            log(f'{out}: no such file to verify')
            return 1
    elif osp.exists(out) and not overwrite:
        log(f'{out} exists; pass --overwrite to replace it')
        return 1
    for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            log(f'{path}: no such {what} file')
            return 1
    for path in verify_frames or ():
        if not osp.exists(path):
            log(f'{path}: no such frame folder or video')
            return 1
    if batch < 1 or verify_clips < 0:
        log(f'--batch must be >= 1 and --verify-clips >= 0, got {batch}, {verify_clips}')
        return 1

    try:
        model, cfg, classes = load_model(config, checkpoint, cfg_options)
        sampler, sampling = sampling_settings(cfg)
    except Exception as err:  # noqa: BLE001 - one clear line for a bad config or checkpoint
        log(f'{checkpoint}: cannot load with {config}: {str(err).splitlines()[0]}')
        return 1
    if sampler.clip_len != model.neck.num_frames:
        log(f'test sampling gives {sampler.clip_len} frames, the model expects '
            f'{model.neck.num_frames}')
        return 1
    ignored = unsupported_test_steps(cfg)
    if ignored:
        log(f'warning: the ONNX model reproduces sampling, resize and normalisation only; the '
            f'test pipeline\'s {ignored} are not part of it')

    tmp = None
    try:
        if verify_only:
            target = out
            onnx_model = ONNXModel(out, providers=['CPUExecutionProvider'])
            size = onnx_model.frame_size
            problems = check_metadata(onnx_model, classes, sampling)
            for problem in problems:
                log(f'metadata mismatch: {problem}')
        else:
            size = tuple(frame_size) if frame_size else config_frame_size(cfg)
            if size is None:
                log('the test pipeline has no fixed-size Resize: pass --frame-size H W')
                return 1
            mean, std, to_rgb = normalisation(model)
            folder = osp.dirname(osp.abspath(out))
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(out)}.', suffix='.tmp',
                                       dir=folder)
            os.close(fd)
            log(f'exporting {config} + {checkpoint}: clips [N, {sampler.clip_len}, 3, {size[0]}, '
                f'{size[1]}] → {", ".join(OUTPUT_NAMES)} (opset {opset})')
            trace_to_onnx(model, tmp, size, sampler.clip_len, batch=batch, opset=opset)
            add_metadata(tmp, build_metadata(cfg, config, checkpoint, classes, size, sampling,
                                             mean, std, to_rgb, opset))
            target = tmp
            onnx_model = ONNXModel(tmp, providers=['CPUExecutionProvider'])
            problems = check_metadata(onnx_model, classes, sampling, size)

        passed = not problems
        if verify_clips > 0:
            clip_sets = {'random': np.random.default_rng(seed).uniform(
                0, 255, (verify_clips, sampler.clip_len, size[0], size[1], 3)).astype(np.float32)}
            if verify_frames:
                try:
                    clip_sets['real'] = np.stack([_read_clip(p, sampler, size)
                                                  for p in verify_frames])
                except Exception as err:  # noqa: BLE001 - an unreadable video or folder
                    log(f'--verify-frames: {str(err).splitlines()[0]}')
                    return 1
            else:
                clip_sets['face'] = synthetic_face_clips(verify_clips, sampler, size, seed)
            log(f'verifying {target if verify_only else out} against PyTorch '
                f'(ONNX Runtime {_ort_version()}, CPU; tolerance {atol:g}):')
            worst = verify(onnx_model, model, clip_sets, log)
            within = all(v <= atol for v in worst.values())
            log('max abs diff: ' + '  '.join(f'{k} {v:.2e}' for k, v in worst.items()) +
                f'  → {"OK" if within else "FAILED"} (tolerance {atol:g})')
            passed = passed and within
        else:
            log('warning: verification skipped (--verify-clips 0)')
        if verify_only:
            log(f'{out}: {"verified" if passed else "FAILED verification"}')
            return 0 if passed else 1
        if not passed:
            log(f'{out} not written: the exported model does not match PyTorch')
            return 1
        if osp.exists(out) and not overwrite:  # appeared while exporting
            log(f'{out} exists; pass --overwrite to replace it')
            return 1
        os.replace(tmp, out)
        tmp = None
        log(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB): {len(classes)} classes '
            f'{classes}, frame size {size[0]}x{size[1]}, dynamic batch')
        return 0
    finally:
        if tmp is not None and osp.exists(tmp):
            os.remove(tmp)


def _ort_version() -> str:
    import onnxruntime
    return onnxruntime.__version__
