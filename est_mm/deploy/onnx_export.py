"""Export a trained EST (config + checkpoint) to ONNX and verify it against PyTorch.

The exported graph includes the model's input normalisation, so it takes raw RGB frames
(float32, 0-255) and needs no est_mm, mmaction2 or torch at run time; see
:mod:`est_mm.deploy.onnx_backend` for the contract and the runner. Next to it go three part graphs
(backbone on frames, AA-SFE on one snippet, Transformer + classifier on a window) that the
streaming engine runs on ONNX Runtime, each frame through the backbone once.
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

from ..utils.errors import first_line
from .onnx_backend import (FORMAT_VERSION, INPUT_NAME, OUTPUT_NAMES, PARTS, ONNXModel, ONNXParts,
                           part_path, preprocess_clips)

DEFAULT_OPSET = 17
DEFAULT_ATOL = 1e-4
# test-pipeline steps that the ONNX graph + ONNXModel reproduce (sampling, decode, resize, layout)
_SUPPORTED_TEST_STEPS = {'VideoOrFramesInit', 'SnippetSampling', 'VideoOrFramesDecode', 'Resize',
                         'FormatShape', 'PackActionInputs', 'DecordInit', 'DecordDecode',
                         'RawFrameDecode', 'OpenCVInit', 'OpenCVDecode'}


class ExportError(RuntimeError):
    """A problem that stops the export with one clear message."""


# ---------------------------------------------------------------------------- model and spec
def load_model(config: str, checkpoint: str, cfg_options: Optional[dict] = None,
               frame_size: Optional[Sequence[int]] = None):
    """The model of ``config`` with ``checkpoint`` and their
    :class:`~est_mm.inference_spec.InferenceSpec`, resolved as ``ESTInferencer`` resolves it
    (:func:`est_mm.engine.prepare.prepare_model`; ``frame_size`` (H, W) overrides the spec's).
    Returns ``(model in eval mode on CPU, Config with the spec applied, spec)``."""
    from ..engine.prepare import prepare_model
    from ..utils.config import load_config
    cfg = load_config(config, cfg_options)
    model, spec, cfg = prepare_model(
        cfg, checkpoint, config=config,
        overrides=dict(frame_size=tuple(frame_size)) if frame_size else None)
    if not hasattr(model, 'forward_explain'):
        raise ExportError(f'{config}: model {type(model).__name__} has no forward_explain '
                          f'(only ESTRecognizer models can be exported)')
    if spec.layout != 'NCHW':
        raise ExportError(f'{config}: data_preprocessor format_shape {spec.layout!r} is not '
                          'NCHW')
    return model, cfg, spec


def unsupported_test_steps(cfg) -> List[str]:
    return [s['type'] for s in cfg.test_dataloader.dataset.pipeline
            if s['type'] not in _SUPPORTED_TEST_STEPS]


class ExportWrapper(nn.Module):
    """Raw clips [N, T, 3, H, W] (RGB, 0-255) → (softmax scores, frame weights, snippet attention,
    logits): the spec's normalisation followed by ``forward_explain``."""

    def __init__(self, model: nn.Module, spec):
        super().__init__()
        self.model = model
        self.to_rgb = spec.to_rgb
        self.register_buffer('mean', torch.tensor(spec.mean).view(1, 1, -1, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(spec.std).view(1, 1, -1, 1, 1),
                             persistent=False)

    def forward(self, clips: torch.Tensor):
        x = clips.float()
        if self.to_rgb:  # the data_preprocessor's channel swap, kept for fidelity
            x = x[:, :, [2, 1, 0]]
        x = (x - self.mean) / self.std
        logits, frame_weights, snippet_attention = self.model.forward_explain(x)
        return logits.softmax(-1), frame_weights, snippet_attention, logits


class BackbonePart(nn.Module):
    """Raw frames [B, 3, H, W] (RGB, 0-255) → pooled backbone features [B, C]: the spec's
    normalisation followed by ``frame_features``."""

    def __init__(self, model: nn.Module, spec):
        super().__init__()
        self.model = model
        self.to_rgb = spec.to_rgb
        self.register_buffer('mean', torch.tensor(spec.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(spec.std).view(1, -1, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor):
        x = frames.float()
        if self.to_rgb:
            x = x[:, [2, 1, 0]]
        return self.model.frame_features((x - self.mean) / self.std)


class SnippetPart(nn.Module):
    """Frame features [S, J, C] → (snippet features [S, d], AA-SFE weights [S, J]), each
    snippet by itself (:func:`~est_mm.streaming.engine.snippet_neck`)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        from ..streaming.engine import snippet_neck
        self.neck = snippet_neck(model.neck)

    def forward(self, feats: torch.Tensor):
        R, weights = self.neck(feats, return_weights=True)
        return R[:, 0], weights[:, 0]


class HeadPart(nn.Module):
    """Snippet features [N, n, d] → (softmax scores [N, K], snippet attention [N, n], logits
    [N, K]): the EST head's Transformer and classifier."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.head = model.cls_head

    def forward(self, R: torch.Tensor):
        T, attention = self.head.encode(R)
        logits = self.head.classifier(T)
        return logits.softmax(-1), attention, logits


@contextlib.contextmanager
def _mha_fastpath_disabled():
    """``aten::_native_multi_head_attention`` (MHA's eval fast path) has no ONNX symbolic."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


def _dummy_clips(spec, batch: int) -> torch.Tensor:
    h, w = spec.frame_size
    generator = torch.Generator().manual_seed(0)
    return torch.rand(batch, spec.clip_len, 3, h, w, generator=generator) * 255


def _trace(module: nn.Module, dummy: torch.Tensor, path: str, input_name: str,
           output_names: Sequence[str], opset: int) -> None:
    """Writes the bare graph (no metadata) of ``module`` on ``dummy`` to ``path``, axis 0 of the
    input and every output dynamic."""
    names = [input_name, *output_names]
    with _mha_fastpath_disabled(), torch.no_grad(), warnings.catch_warnings():
        # shape checks in the model become constants: right for a fixed T and H, W
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', message='.*TorchScript-based ONNX export')
        torch.onnx.export(module.eval(), (dummy, ), path, dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=list(output_names),
                          dynamic_axes={n: {0: 'N'} for n in names}, do_constant_folding=True)


def trace_to_onnx(model: nn.Module, path: str, spec, batch: int = 2,
                  opset: int = DEFAULT_OPSET) -> None:
    """Writes the bare graph (no metadata) of ``ExportWrapper(model, spec)`` to ``path``."""
    _trace(ExportWrapper(model, spec), _dummy_clips(spec, batch), path, INPUT_NAME,
           OUTPUT_NAMES, opset)


def trace_parts(model: nn.Module, paths: Dict[str, str], spec, batch: int = 2,
                opset: int = DEFAULT_OPSET) -> None:
    """Writes the bare part graphs (:data:`~est_mm.deploy.onnx_backend.PARTS`: backbone,
    snippet, head) of ``model`` to ``paths`` (part name -> file), traced on the intermediate
    results of ``batch`` dummy clips."""
    n, J = spec.sampling.num_snippets, spec.sampling.frames_per_snippet
    backbone = BackbonePart(model, spec).eval()
    snippet, head = SnippetPart(model).eval(), HeadPart(model).eval()
    frames = _dummy_clips(spec, batch).flatten(0, 1)  # [batch·T, 3, H, W]
    with torch.no_grad():
        feats = backbone(frames).view(batch * n, J, -1)
        R = snippet(feats)[0].view(batch, n, -1)
    for part, module, dummy in (('backbone', backbone, frames), ('snippet', snippet, feats),
                                ('head', head, R)):
        _trace(module, dummy, paths[part], PARTS[part][0], PARTS[part][1], opset)


_PART_INPUTS = {'backbone': 'N,C,H,W float32 RGB 0-255, unnormalised (the graph computes '
                            '(x - mean) / std)',
                'snippet': 'S,J,C float32: backbone features of the J frames of S snippets',
                'head': 'N,n,d float32: snippet features of N windows'}


def build_metadata(cfg, config: str, checkpoint: str, spec, opset: int,
                   part: Optional[str] = None) -> Dict[str, str]:
    """The file's metadata: the spec (:meth:`InferenceSpec.to_onnx_metadata`) plus provenance;
    for a part graph (``part``: a key of ``PARTS``) also ``est_mm_part`` and that part's
    input and outputs."""
    import est_mm
    if part is None:
        io = {'input': json.dumps({'name': INPUT_NAME, 'layout': 'N,T,C,H,W', 'dtype': 'float32',
                                   'channels': 'RGB', 'range': '0-255, unnormalised (the graph '
                                   'computes (x - mean) / std)',
                                   'resize': 'cv2.resize INTER_LINEAR to frame_size'}),
              'outputs': json.dumps(list(OUTPUT_NAMES))}
    else:
        io = {'est_mm_part': part,
              'input': json.dumps({'name': PARTS[part][0], 'layout': _PART_INPUTS[part]}),
              'outputs': json.dumps(list(PARTS[part][1]))}
    return {
        'est_mm_format': FORMAT_VERSION,
        **spec.to_onnx_metadata(),
        **io,
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
    part = metadata.get('est_mm_part')
    proto.doc_string = (
        'EST (Expression Snippet Transformer) exported by est_mm: ' +
        (f'the {part} part graph of the streaming engine: {PARTS[part][0]} → '
         f'{", ".join(PARTS[part][1])}' if part else
         'clips [N, T, 3, H, W] float32 RGB 0-255 → scores, frame_weights, snippet_attention, '
         'logits') + '. See metadata_props.')
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


# ---------------------------------------------------------------------------- verification
def read_clip(path: str, geometry) -> List[np.ndarray]:
    """The ``T`` test-time frames (RGB, their own size) of a frame folder or video."""
    from ..datasets.transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
    key = 'frame_dir' if osp.isdir(path) else 'filename'
    results = VideoOrFramesInit().transform({key: path})
    results['frame_inds'] = geometry.test_indices(results['total_frames'])
    return VideoOrFramesDecode().transform(results)['imgs']


def random_clips(num: int, num_frames: int, size: Tuple[int, int], seed: int = 0,
                 smooth: bool = False) -> np.ndarray:
    """``num`` seeded clips ``[num, T, H, W, 3]`` uint8: uniform noise, or with ``smooth``
    image-like frames (coarse noise upsampled bilinearly, plus fine noise)."""
    import cv2
    rng = np.random.default_rng(seed)
    h, w = size
    if not smooth:
        return rng.integers(0, 256, (num, num_frames, h, w, 3), dtype=np.uint8)
    coarse = rng.uniform(0, 255, (num * num_frames, 6, 6, 3)).astype(np.float32)
    frames = np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in coarse])
    frames = frames + rng.normal(0, 12, frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8).reshape(num, num_frames, h, w, 3)


@torch.no_grad()
def pytorch_outputs(model: nn.Module, inputs: np.ndarray) -> Dict[str, np.ndarray]:
    """The reference: graph inputs ``[N, T, 3, H, W]`` (RGB 0-255) → the model's
    data_preprocessor → forward_explain, as ESTInferencer runs it (fused MHA fast path
    included)."""
    x = model.data_preprocessor(dict(inputs=list(torch.from_numpy(inputs)), data_samples=None),
                                False)['inputs']
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


def verify(onnx_model, model: nn.Module, clip_sets: Dict[str, Sequence], log=print,
           label: str = '') -> Dict[str, float]:
    """Runs every clip set (clips of frames, any size) at batch 1 (its first clip) and at its
    full size through ONNX Runtime (an :class:`ONNXModel`, or the chained :class:`ONNXParts`)
    and PyTorch, both fed by :func:`preprocess_clips`; logs the max abs difference per output
    and case (``label`` after the case). Returns the worst per output."""
    worst = {name: 0.0 for name in OUTPUT_NAMES}
    for kind, clips in clip_sets.items():
        for n in sorted({1, len(clips)}):
            inputs = preprocess_clips(clips[:n], onnx_model.frame_size, onnx_model.num_frames)
            reference = pytorch_outputs(model, inputs)
            diffs = max_abs_diffs(reference, onnx_model.run_preprocessed(inputs))
            worst = {k: max(worst[k], v) for k, v in diffs.items()}
            log(f'  {kind:>8} clips, batch {n}{label}: ' +
                '  '.join(f'{k} {v:.2e}' for k, v in diffs.items()))
    return worst


def check_metadata(onnx_model: ONNXModel, spec, frame_size: bool = True) -> List[str]:
    """Differences between the file's stored spec and ``spec`` (empty when none); the frame
    size is not compared with ``frame_size=False``."""
    stored, expected = onnx_model.spec, spec.to_dict()
    keys = ('classes', 'sampling', 'mean', 'std', 'to_rgb') + (('frame_size', ) if frame_size
                                                               else ())
    return [f'{k} {stored.get(k)} in the file vs {expected[k]} from config + checkpoint'
            for k in keys if stored.get(k) != expected[k]]


# ---------------------------------------------------------------------------- the whole job
def export_and_verify(config: str, checkpoint: str, out: Optional[str] = None,
                      opset: int = DEFAULT_OPSET, frame_size: Optional[Sequence[int]] = None,
                      batch: int = 2, verify_clips: int = 2,
                      verify_frames: Optional[Sequence[str]] = None,
                      atol: float = DEFAULT_ATOL, overwrite: bool = False,
                      verify_only: bool = False, cfg_options: Optional[dict] = None,
                      seed: int = 0, parts: bool = True, log=print) -> int:
    """Export ``config`` + ``checkpoint`` to ``out`` (default: the checkpoint's path with
    ``.onnx``) and, with ``parts``, its part graphs for the streaming engine next to it
    (:func:`~est_mm.deploy.onnx_backend.part_path`: ``<stem>.backbone.onnx``,
    ``<stem>.snippet.onnx``, ``<stem>.head.onnx``), and verify them; or, with ``verify_only``,
    verify an existing ``out`` (and its parts where present).

    Each file is written atomically: its graph goes to a temporary file next to it, gets its
    metadata, passes ``onnx.checker`` and the verification (the parts chained, clip for clip
    as the whole graph), and only then replaces the file. Existing files are refused unless
    ``overwrite``; overwriting without ``parts`` removes the old part files (they would not
    match). Returns the exit status: 0 when every output of every verification case is within
    ``atol`` of PyTorch, 1 otherwise."""
    out = out or osp.splitext(checkpoint)[0] + '.onnx'
    part_paths = {p: part_path(out, p) for p in PARTS}
    if verify_only:
        if not osp.isfile(out):
            log(f'{out}: no such file to verify')
            return 1
    elif not overwrite:
        existing = [p for p in (out, *part_paths.values()) if osp.exists(p)]
        if existing:
            log(f'{existing[0]} exists; pass --overwrite to replace it')
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
        model, cfg, spec = load_model(config, checkpoint, cfg_options,
                                      None if verify_only else frame_size)
    except Exception as err:  # noqa: BLE001 - the errors name the config or checkpoint
        log(first_line(err))
        return 1
    ignored = unsupported_test_steps(cfg)
    if ignored:
        log(f'warning: the ONNX model reproduces sampling, resize and normalisation only; the '
            f'test pipeline\'s {ignored} are not part of it')
    if spec.notes:
        log(f'{checkpoint}: using the checkpoint\'s ' + '; '.join(spec.notes))

    tmps: Dict[str, str] = {}  # final path -> temporary file
    try:
        onnx_parts = None
        if verify_only:
            target = out
            onnx_model = ONNXModel(out, providers=['CPUExecutionProvider'])
            problems = check_metadata(onnx_model, spec, frame_size=False)
            missing = [p for p in part_paths.values() if not osp.isfile(p)]
            if missing:
                log(f'note: no part graphs next to {out} ({", ".join(map(osp.basename, missing))}'
                    '); streaming on ONNX Runtime needs them: export again with --overwrite')
            else:
                try:
                    onnx_parts = ONNXParts(onnx_model, providers=['CPUExecutionProvider'])
                except ValueError as err:
                    problems.append(first_line(err))
            for problem in problems:
                log(f'metadata mismatch: {problem}')
        else:
            if spec.frame_size is None:
                log('the test pipeline has no fixed-size Resize: pass --frame-size H W')
                return 1
            folder = osp.dirname(osp.abspath(out))
            os.makedirs(folder, exist_ok=True)
            for path in [out, *(part_paths.values() if parts else ())]:
                fd, tmps[path] = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp',
                                                  dir=folder)
                os.close(fd)
            h, w = spec.frame_size
            log(f'exporting {config} + {checkpoint}: clips [N, {spec.clip_len}, 3, {h}, {w}] → '
                f'{", ".join(OUTPUT_NAMES)} (opset {opset})' +
                (f', and the part graphs {", ".join(PARTS)}' if parts else ''))
            trace_to_onnx(model, tmps[out], spec, batch=batch, opset=opset)
            add_metadata(tmps[out], build_metadata(cfg, config, checkpoint, spec, opset))
            target = tmps[out]
            onnx_model = ONNXModel(target, providers=['CPUExecutionProvider'])
            problems = check_metadata(onnx_model, spec)
            if parts:
                tmp_parts = {p: tmps[part_paths[p]] for p in PARTS}
                trace_parts(model, tmp_parts, spec, batch=batch, opset=opset)
                for p, path in tmp_parts.items():
                    add_metadata(path, build_metadata(cfg, config, checkpoint, spec, opset, p))
                onnx_parts = ONNXParts(onnx_model, tmp_parts, providers=['CPUExecutionProvider'])

        passed = not problems
        if verify_clips > 0:
            size, frames = onnx_model.frame_size, onnx_model.num_frames
            other = (size[0] * 3 // 2 + 1, size[1] * 3 // 2 + 1)  # exercises the resize
            clip_sets = {
                'random': random_clips(verify_clips, frames, size, seed),
                'resized': random_clips(verify_clips, frames, other, seed + 1, smooth=True)}
            if verify_frames:
                try:
                    clip_sets['real'] = [read_clip(p, onnx_model.geometry)
                                         for p in verify_frames]
                except Exception as err:  # noqa: BLE001 - an unreadable video or folder
                    log(f'--verify-frames: {first_line(err)}')
                    return 1
            log(f'verifying {target if verify_only else out} against PyTorch '
                f'(ONNX Runtime {_ort_version()}, CPU; tolerance {atol:g}):')
            worst = verify(onnx_model, model, clip_sets, log)
            worst_parts = None if onnx_parts is None else verify(
                onnx_parts, model, clip_sets, log, label=' (parts)')
            for prefix, diffs in (('', worst), ('parts chained, ', worst_parts)):
                if diffs is not None:
                    within = all(v <= atol for v in diffs.values())
                    log(f'{prefix}max abs diff: ' +
                        '  '.join(f'{k} {v:.2e}' for k, v in diffs.items()) +
                        f'  → {"OK" if within else "FAILED"} (tolerance {atol:g})')
                    passed = passed and within
        else:
            log('warning: verification skipped (--verify-clips 0)')
        if verify_only:
            log(f'{out}{" and its parts" if onnx_parts else ""}: '
                f'{"verified" if passed else "FAILED verification"}')
            return 0 if passed else 1
        if not passed:
            log(f'{out} not written: the exported model does not match PyTorch')
            return 1
        existing = [p for p in tmps if osp.exists(p)]
        if existing and not overwrite:  # appeared while exporting
            log(f'{existing[0]} exists; pass --overwrite to replace it')
            return 1
        mode = 0o666 & ~_umask()  # mkstemp's 0600 → the usual permissions
        for path in sorted(tmps, key=lambda p: p == out):  # the main file last
            os.chmod(tmps[path], mode)
            os.replace(tmps.pop(path), path)
        stale = [p for p in part_paths.values() if not parts and osp.exists(p)]
        for path in stale:
            os.remove(path)
        log(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB): {spec.num_classes} classes '
            f'{list(spec.classes)}, frame size {h}x{w}, dynamic batch')
        if parts:
            log('wrote the part graphs for streaming: ' + ', '.join(
                f'{osp.basename(p)} ({osp.getsize(p) / 2**20:.1f} MiB)'
                for p in part_paths.values()))
        if stale:
            log(f'removed the old part graphs {", ".join(map(osp.basename, stale))} (not '
                'exported with --no-parts)')
        return 0
    finally:
        for tmp in tmps.values():
            if osp.exists(tmp):
                os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _ort_version() -> str:
    import onnxruntime
    return onnxruntime.__version__
