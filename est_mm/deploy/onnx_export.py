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
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..utils.errors import first_line
from ..utils.files import atomic_write, refuse_existing
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
    # a classes_file absent here: prepare_model takes the classes from the checkpoint
    cfg = load_config(config, cfg_options, classes_files=False)
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
class NoFrameSizeError(ExportError):
    """Neither the checkpoint nor the test pipeline fixes the frame size, and none was given."""


class VerificationFailed(ExportError):
    """The exported graphs do not match PyTorch; nothing was written."""


@dataclass
class ExportSettings:
    """How :func:`export_and_verify` exports and verifies (``tools/deployment/export_onnx.py``
    fills it from its options of the same names)."""
    out: Optional[str] = None  # default: the checkpoint's path with .onnx
    opset: int = DEFAULT_OPSET
    frame_size: Optional[Tuple[int, int]] = None  # (H, W); default: the spec's
    batch: int = 2  # of the dummy input that is traced; the batch axis is dynamic
    verify_clips: int = 2  # clips of each kind compared with PyTorch; 0 skips verification
    verify_frames: Sequence[str] = ()  # frame folders or videos to verify on as well
    atol: float = DEFAULT_ATOL
    overwrite: bool = False
    verify_only: bool = False  # export nothing: verify the existing ``out``
    cfg_options: Optional[dict] = None
    seed: int = 0  # of the random verification clips
    parts: bool = True  # the part graphs of the streaming engine next to ``out``

    def __post_init__(self):
        if self.batch < 1 or self.verify_clips < 0:
            raise ValueError('batch must be >= 1 and verify_clips >= 0, got '
                             f'{self.batch}, {self.verify_clips}')


@dataclass
class ExportResult:
    """What :func:`export_and_verify` found and did."""
    out: str
    passed: bool  # metadata as expected and every verified output within ``atol``
    written: List[str] = field(default_factory=list)  # the main file last
    removed: List[str] = field(default_factory=list)  # part graphs of an older export
    missing_parts: List[str] = field(default_factory=list)  # verify_only: parts not next to out
    worst: Optional[Dict[str, float]] = None  # max abs diff per output (None: not verified)
    worst_parts: Optional[Dict[str, float]] = None  # the same for the parts chained


def export_and_verify(config: str, checkpoint: str,
                      settings: Optional[ExportSettings] = None, log=print) -> ExportResult:
    """Export ``config`` + ``checkpoint`` to ``settings.out`` and, with ``settings.parts``, its
    part graphs for the streaming engine next to it
    (:func:`~est_mm.deploy.onnx_backend.part_path`: ``<stem>.backbone.onnx``,
    ``<stem>.snippet.onnx``, ``<stem>.head.onnx``), and verify them; or, with ``verify_only``, verify an existing ``out`` (and its parts where
    present). Progress goes to ``log``.

    Each file is written atomically: its graph goes to a temporary file next to it, gets its
    metadata, passes ``onnx.checker`` and the verification (the parts chained, clip for clip
    as the whole graph), and only then replaces the file. Existing files raise
    :class:`~est_mm.utils.files.OutputExistsError` unless ``overwrite``; overwriting without
    ``parts`` removes the old part files (they would not match). A failed verification of an
    export raises :class:`VerificationFailed`; other problems raise :class:`ExportError` (one
    line). With ``verify_only`` the result's ``passed`` is the verdict."""
    s = settings or ExportSettings()
    out = s.out or osp.splitext(checkpoint)[0] + '.onnx'
    part_paths = {p: part_path(out, p) for p in PARTS}
    _check_inputs(config, checkpoint, s, [out, *part_paths.values()])
    model, cfg, spec = _load(config, checkpoint, s, log)
    result = ExportResult(out=out, passed=False)
    if s.verify_only:
        onnx_model, onnx_parts, problems = _open_existing(out, spec, part_paths, result)
        result.passed = _verify(onnx_model, onnx_parts, model, s, problems, result, log)
        log(f'{out}{" and its parts" if onnx_parts else ""}: '
            f'{"verified" if result.passed else "FAILED verification"}')
        return result
    if spec.frame_size is None:
        raise NoFrameSizeError('the test pipeline has no fixed-size Resize and no frame size '
                               'was given')
    paths = [out, *(part_paths.values() if s.parts else ())]
    with contextlib.ExitStack() as stack:  # the main file is renamed last
        tmps = {path: stack.enter_context(atomic_write(path)) for path in paths}
        onnx_model, onnx_parts, problems = _export(model, cfg, spec, config, checkpoint, s, out,
                                                   tmps, log)
        result.passed = _verify(onnx_model, onnx_parts, model, s, problems, result, log)
        if not result.passed:
            raise VerificationFailed(f'{out} not written: the exported model does not match '
                                     'PyTorch')
        if not s.overwrite:  # appeared while exporting
            refuse_existing(paths, flag=None)
    result.written = sorted(paths, key=lambda p: p == out)
    result.removed = [p for p in part_paths.values() if not s.parts and osp.exists(p)]
    for path in result.removed:
        os.remove(path)
    _log_written(result, spec, log)
    return result


def _check_inputs(config: str, checkpoint: str, s: ExportSettings, outputs: List[str]) -> None:
    """Raises for a missing input or (unless ``s.overwrite``) an existing output."""
    if s.verify_only:
        if not osp.isfile(outputs[0]):
            raise ExportError(f'{outputs[0]}: no such file to verify')
    elif not s.overwrite:
        refuse_existing(outputs, flag=None)
    for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise ExportError(f'{path}: no such {what} file')
    for path in s.verify_frames or ():
        if not osp.exists(path):
            raise ExportError(f'{path}: no such frame folder or video')


def _load(config: str, checkpoint: str, s: ExportSettings, log):
    """:func:`load_model` with its errors as one-line :class:`ExportError`; logs what the
    graph leaves out and which of the checkpoint's settings win."""
    try:
        model, cfg, spec = load_model(config, checkpoint, s.cfg_options,
                                      None if s.verify_only else s.frame_size)
    except ExportError:
        raise
    except Exception as err:  # noqa: BLE001 - the errors name the config or checkpoint
        raise ExportError(first_line(err)) from err
    ignored = unsupported_test_steps(cfg)
    if ignored:
        log(f'warning: the ONNX model reproduces sampling, resize and normalisation only; the '
            f'test pipeline\'s {ignored} are not part of it')
    if spec.notes:
        log(f'{checkpoint}: using the checkpoint\'s ' + '; '.join(spec.notes))
    return model, cfg, spec


def _open_existing(out: str, spec, part_paths: Dict[str, str], result: ExportResult):
    """The existing ``out`` and its parts (None where any is missing: ``result.missing_parts``)
    and the differences of their metadata from ``spec``."""
    onnx_model = ONNXModel(out, providers=['CPUExecutionProvider'])
    problems = check_metadata(onnx_model, spec, frame_size=False)
    result.missing_parts = [p for p in part_paths.values() if not osp.isfile(p)]
    onnx_parts = None
    if not result.missing_parts:
        try:
            onnx_parts = ONNXParts(onnx_model, providers=['CPUExecutionProvider'])
        except ValueError as err:
            problems.append(first_line(err))
    return onnx_model, onnx_parts, problems


def _export(model, cfg, spec, config: str, checkpoint: str, s: ExportSettings, out: str,
            tmps: Dict[str, str], log):
    """Traces the whole graph ``out`` (and the parts, with ``s.parts``) into the temporary
    files ``tmps`` (final path → temporary) with their metadata; returns them opened for ONNX
    Runtime and the differences of the stored spec from ``spec``."""
    h, w = spec.frame_size
    log(f'exporting {config} + {checkpoint}: clips [N, {spec.clip_len}, 3, {h}, {w}] → '
        f'{", ".join(OUTPUT_NAMES)} (opset {s.opset})' +
        (f', and the part graphs {", ".join(PARTS)}' if s.parts else ''))
    trace_to_onnx(model, tmps[out], spec, batch=s.batch, opset=s.opset)
    add_metadata(tmps[out], build_metadata(cfg, config, checkpoint, spec, s.opset))
    onnx_model = ONNXModel(tmps[out], providers=['CPUExecutionProvider'])
    problems = check_metadata(onnx_model, spec)
    onnx_parts = None
    if s.parts:
        tmp_parts = {p: tmps[part_path(out, p)] for p in PARTS}
        trace_parts(model, tmp_parts, spec, batch=s.batch, opset=s.opset)
        for p, path in tmp_parts.items():
            add_metadata(path, build_metadata(cfg, config, checkpoint, spec, s.opset, p))
        onnx_parts = ONNXParts(onnx_model, tmp_parts, providers=['CPUExecutionProvider'])
    return onnx_model, onnx_parts, problems


def _verify(onnx_model, onnx_parts, model, s: ExportSettings, problems: List[str],
            result: ExportResult, log) -> bool:
    """Logs the metadata ``problems`` and compares the graph (and the chained parts) with
    PyTorch on the verification clips; True when there are no problems and every output is
    within ``s.atol``."""
    for problem in problems:
        log(f'metadata mismatch: {problem}')
    if s.verify_clips == 0:
        return not problems
    size, frames = onnx_model.frame_size, onnx_model.num_frames
    other = (size[0] * 3 // 2 + 1, size[1] * 3 // 2 + 1)  # exercises the resize
    clip_sets = {'random': random_clips(s.verify_clips, frames, size, s.seed),
                 'resized': random_clips(s.verify_clips, frames, other, s.seed + 1, smooth=True)}
    if s.verify_frames:
        clip_sets['real'] = [_read_verify_clip(p, onnx_model.geometry) for p in s.verify_frames]
    log(f'verifying {result.out} against PyTorch '
        f'(ONNX Runtime {_ort_version()}, CPU; tolerance {s.atol:g}):')
    result.worst = verify(onnx_model, model, clip_sets, log)
    result.worst_parts = None if onnx_parts is None else verify(
        onnx_parts, model, clip_sets, log, label=' (parts)')
    passed = not problems
    for prefix, diffs in (('', result.worst), ('parts chained, ', result.worst_parts)):
        if diffs is not None:
            within = all(v <= s.atol for v in diffs.values())
            log(f'{prefix}max abs diff: ' + '  '.join(f'{k} {v:.2e}' for k, v in diffs.items()) +
                f'  → {"OK" if within else "FAILED"} (tolerance {s.atol:g})')
            passed = passed and within
    return passed


def _read_verify_clip(path: str, geometry) -> List[np.ndarray]:
    try:
        return read_clip(path, geometry)
    except Exception as err:  # noqa: BLE001 - an unreadable video or folder
        message = first_line(err)
        raise ExportError(message if path in message else f'{path}: {message}') from err


def _log_written(result: ExportResult, spec, log) -> None:
    out = result.out
    h, w = spec.frame_size
    log(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB): {spec.num_classes} classes '
        f'{list(spec.classes)}, frame size {h}x{w}, dynamic batch')
    parts = [p for p in result.written if p != out]
    if parts:
        log('wrote the part graphs for streaming: ' + ', '.join(
            f'{osp.basename(p)} ({osp.getsize(p) / 2**20:.1f} MiB)' for p in parts))


def _ort_version() -> str:
    import onnxruntime
    return onnxruntime.__version__
