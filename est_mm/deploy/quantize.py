"""int8 copies of an ONNX export, made with ONNX Runtime's own static quantization.

:func:`export_int8` reads a float32 export (``<stem>.onnx`` and its part graphs, written and
verified by :mod:`est_mm.deploy.onnx_export`) and writes ``<stem>.int8.onnx`` and its part
graphs: ``onnxruntime.quantization.quantize_static`` (QDQ, per-channel int8 weights, uint8
activations) of the backbone's ``Conv``, ``Relu``, ``Add`` and ``MaxPool`` nodes (quantizing the
residual adds and activations too keeps the backbone in int8 from one convolution to the next:
about 20 % faster than the convolutions alone, at the same feature cosine). AA-SFE and the
Transformer stay float32:
quantizing their MatMuls too moved the probabilities of the trained toy model by up to 0.23 and
flipped 7.5 % of its top-1 labels. The snippet and head part graphs are the float32 ones,
marked as part of the int8 export.

Calibration clips are face crops made as the demo makes them (a video: its main face detected,
followed and cropped by :func:`~est_mm.faces.crop_main_face`; a frame folder or a dataset's clip:
its frames as they are), sampled as at test time and turned into graph inputs by
:func:`~est_mm.deploy.onnx_backend.preprocess_clips`, the ONNX side's one preprocessing. A seeded
share of the sources is held out: the int8 files are compared with the float32 ones on their
clips only, and written only within the thresholds of :class:`Int8Settings`.
"""
import json
import logging
import os.path as osp
import shutil
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..utils.errors import first_line
from .onnx_backend import INPUT_NAME, PARTS, ONNXModel, ONNXParts, part_path, preprocess_clips

#: ``--calibrate CONFIG.py:SPLIT``: the clips of ``<split>_dataloader.dataset``
SPLITS = ('train', 'val', 'test')
METHODS = ('minmax', 'entropy', 'percentile')
BACKBONE_PREFIX = '/backbone/'  # node names of the backbone in the exported graphs
MIN_CALIBRATION_CLIPS = 8  # fewer: a note that the ranges may not hold for other footage


class QuantizeError(RuntimeError):
    """A problem that stops the int8 export with one clear message."""


@dataclass
class Int8Settings:
    """How :func:`export_int8` calibrates, verifies and where it writes
    (``tools/deployment/export_onnx.py --int8`` fills it)."""
    calibrate: Sequence[str] = ()  # videos, frame folders or CONFIG.py:SPLIT
    out: Optional[str] = None  # default: <float stem>.int8.onnx
    holdout: float = 0.25  # share of the sources kept out of calibration, to verify on
    max_clips: int = 64  # clips taken in all (seeded sample), calibration + held out
    clips_per_video: int = 4  # windows taken from one video, evenly spread
    seed: int = 0  # of the sample and the split
    min_agreement: float = 0.99  # least share of held-out clips with the float32 top-1 label
    max_dp: float = 0.05  # largest |probability int8 - float32| allowed
    method: str = 'minmax'  # calibration: minmax, entropy or percentile
    op_types: Tuple[str, ...] = ('Conv', 'Relu', 'Add', 'MaxPool')  # in the backbone only
    face_crop: bool = True  # videos: detect and crop the main face (False: already crops)
    detector: str = 'retinaface'
    overwrite: bool = False

    def __post_init__(self):
        if not 0 < self.holdout < 1:
            raise ValueError(f'holdout must be in (0, 1), got {self.holdout}')
        if self.max_clips < 2 or self.clips_per_video < 1:
            raise ValueError('max_clips must be >= 2 and clips_per_video >= 1, got '
                             f'{self.max_clips}, {self.clips_per_video}')
        if self.method not in METHODS:
            raise ValueError(f'method must be one of {METHODS}, got {self.method!r}')


def int8_path(path: str) -> str:
    """The int8 export next to the float32 ``path``: ``<stem>.int8.onnx``."""
    stem, ext = osp.splitext(path)
    return f'{stem}.int8{ext or ".onnx"}'


def int8_outputs(float_out: str, s: Int8Settings) -> List[str]:
    """The files :func:`export_int8` writes: the whole graph first, then its parts."""
    out = s.out or int8_path(float_out)
    return [out, *(part_path(out, p) for p in PARTS)]


def check_outputs(float_out: str, s: Int8Settings) -> List[str]:
    """:func:`int8_outputs`, after checking that none is a float32 file of ``float_out`` and
    (unless ``s.overwrite``) none exists (:class:`~est_mm.utils.files.OutputExistsError`)."""
    from ..utils.files import refuse_existing
    outs = int8_outputs(float_out, s)
    float_files = {osp.abspath(p) for p in [float_out, *(part_path(float_out, p) for p in PARTS)]}
    clash = [p for p in outs if osp.abspath(p) in float_files]
    if clash:
        raise QuantizeError(f'{clash[0]}: the int8 export would replace the float32 file it is '
                            'made from; choose another --int8-out')
    refuse_existing(outs, s.overwrite, flag=None)
    return outs


# ---------------------------------------------------------------------------- calibration clips
def parse_source(src: str) -> Tuple[str, str, Optional[str]]:
    """``(kind, path, split)``: kind ``'split'`` for ``CONFIG.py:SPLIT``, ``'folder'`` for a
    frame folder, ``'video'`` for a file. QuantizeError (one line) for anything else."""
    head, sep, tail = src.rpartition(':')
    if sep and head.endswith('.py'):
        if tail not in SPLITS:
            raise QuantizeError(f'{src}: split {tail!r} is not one of {", ".join(SPLITS)} '
                                '(CONFIG.py:SPLIT)')
        if not osp.isfile(head):
            raise QuantizeError(f'{head}: no such config file ({src})')
        return 'split', head, tail
    if osp.isdir(src):
        return 'folder', src, None
    if osp.isfile(src):
        if src.endswith('.py'):
            raise QuantizeError(f'{src}: a config needs its split, e.g. {src}:val')
        return 'video', src, None
    raise QuantizeError(f'{src}: no such video, frame folder or CONFIG.py:SPLIT')


def check_sources(sources: Sequence[str]) -> None:
    """Raises QuantizeError (one line) for the first source that cannot be one."""
    if not sources:
        raise QuantizeError('no calibration sources given (--calibrate)')
    for src in sources:
        parse_source(src)


def split_clips(config: str, split: str) -> List[str]:
    """The frame folders or videos of the ``split`` dataset of ``config``."""
    from mmaction.registry import DATASETS
    from mmaction.utils import register_all_modules

    import est_mm  # noqa: F401  (registers the EST datasets)
    from ..utils.config import load_config
    register_all_modules()
    cfg = load_config(config, None, classes_files=False)
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise QuantizeError(f'{config}: no {split}_dataloader')
    dataset = DATASETS.build(loader['dataset'])
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return [info.get('frame_dir') or info['filename'] for info in infos]


def window_indices(num_frames: int, geometry, count: int) -> List[np.ndarray]:
    """Test-time frame indices of up to ``count`` windows of ``geometry.unified_len`` frames
    (the demo's window) spread evenly over a ``num_frames``-frame video; one window of the
    whole video when it is shorter."""
    window = geometry.unified_len
    if num_frames <= window:
        return [geometry.test_indices(num_frames)]
    starts = np.unique(np.linspace(0, num_frames - window, count).round().astype(int))
    return [s + geometry.test_indices(window) for s in starts]


def video_clips(path: str, geometry, s: Int8Settings) -> List[np.ndarray]:
    """Clips ``[T, h, w, 3]`` uint8 RGB of a video: its main face's crops (as the demo makes
    them) or, without ``s.face_crop``, its frames."""
    from ..video.reader import open_frames
    video = open_frames(path)
    windows = window_indices(video.num_frames, geometry, s.clips_per_video)
    wanted = np.unique(np.concatenate(windows))
    if s.face_crop:
        from ..faces import crop_main_face
        track = crop_main_face(video, s.detector, crop_indices=wanted)
        frames = dict(zip(track.crop_indices.tolist(), track.crops))
    else:
        frames = dict(zip(wanted.tolist(), video.get(wanted)))
    return [np.stack([frames[int(i)] for i in idx]) for idx in windows]


def collect_clips(sources: Sequence[str], geometry, s: Int8Settings
                  ) -> List[Tuple[str, np.ndarray]]:
    """``(name, clip [T, h, w, 3])`` of every source, at most ``s.max_clips`` (a seeded
    sample of the dataset clips and frame folders when there are more). QuantizeError (one
    line, naming the source) for one that cannot be read."""
    from .onnx_export import read_clip
    items: List[Tuple[str, str]] = []  # (kind, path)
    for src in sources:
        kind, path, split = parse_source(src)
        if kind == 'split':
            try:
                items += [('folder', p) for p in split_clips(path, split)]
            except QuantizeError:
                raise
            except Exception as err:  # noqa: BLE001 - a config whose dataset cannot be built
                raise QuantizeError(f'{src}: {first_line(err)}') from err
        else:
            items.append((kind, path))
    if len(items) > s.max_clips:
        keep = np.random.default_rng(s.seed).choice(len(items), s.max_clips, replace=False)
        items = [items[i] for i in sorted(keep)]
    clips = []
    for kind, path in items:
        try:
            if kind == 'video':
                clips += [(path, c) for c in video_clips(path, geometry, s)]
            else:
                clips.append((path, np.stack(read_clip(path, geometry))))
        except Exception as err:  # noqa: BLE001 - an unreadable video or folder, no face
            message = first_line(err)
            raise QuantizeError(message if path in message else f'{path}: {message}') from err
    return clips[:s.max_clips]


def split_holdout(clips: Sequence[Tuple[str, np.ndarray]], holdout: float, seed: int
                  ) -> Tuple[list, list]:
    """``(calibration clips, held-out clips)`` of ``(source, clip)`` pairs: a seeded shuffle of
    the sources, ``holdout`` of them (at least one) held out, so that no held-out clip comes
    from a video calibrated on; the clips of a single source are split themselves.
    QuantizeError for fewer than 2 clips."""
    if len(clips) < 2:
        raise QuantizeError(f'{len(clips)} calibration clip(s): at least 2 are needed, one to '
                            'calibrate and one to verify on; give more --calibrate sources')
    sources = list(dict.fromkeys(name for name, _ in clips))
    groups = ([[c for n, c in clips if n == name] for name in sources] if len(sources) > 1
              else [[c] for _, c in clips])
    order = np.random.default_rng(seed).permutation(len(groups))
    n_hold = min(max(1, round(len(groups) * holdout)), len(groups) - 1)
    return ([c for i in order[n_hold:] for c in groups[i]],
            [c for i in order[:n_hold] for c in groups[i]])


def _reader(clips: Sequence[np.ndarray], frame_size, num_frames: Optional[int], name: str):
    """An onnxruntime CalibrationDataReader feeding one clip at a time: whole-graph inputs
    ``[1, T, 3, H, W]`` (``num_frames`` given) or backbone inputs ``[T, 3, H, W]`` (None), both
    made by :func:`preprocess_clips` as ONNXModel and ONNXParts make them."""
    from onnxruntime.quantization import CalibrationDataReader

    class ClipReader(CalibrationDataReader):
        def __init__(self):
            self.clips = iter(clips)

        def get_next(self):
            clip = next(self.clips, None)
            if clip is None:
                return None
            x = preprocess_clips([clip], frame_size, num_frames)
            return {name: x if num_frames else x[0]}

    return ClipReader()


# ---------------------------------------------------------------------------- quantization
def quantize_file(src: str, dst: str, reader, s: Int8Settings) -> None:
    """``quantize_static`` of ``src`` into ``dst``: QDQ, per-channel int8 weights, uint8
    activations calibrated on ``reader``, only the backbone's ``s.op_types`` nodes."""
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    method = {'minmax': CalibrationMethod.MinMax, 'entropy': CalibrationMethod.Entropy,
              'percentile': CalibrationMethod.Percentile}[s.method]
    root = logging.getLogger()
    root.addFilter(_no_preprocess_advice)
    try:
        quantize_static(src, dst, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=list(s.op_types),
                        nodes_to_quantize=backbone_nodes(src, s.op_types),
                        calibrate_method=method)
    finally:
        root.removeFilter(_no_preprocess_advice)


def backbone_nodes(path: str, op_types: Sequence[str]) -> List[str]:
    """Names of the ``op_types`` nodes of the backbone in the ONNX file ``path`` (the exporter
    names them after the module path, ``/backbone/...``, in the whole graph and the part)."""
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    return [n.name for n in graph.node
            if n.name.startswith(BACKBONE_PREFIX) and n.op_type in op_types]


def _no_preprocess_advice(record) -> bool:
    """Drops the quantizer's advice to run its shape-inference pre-processing: the traced graph
    has static shapes and constant-folded weights, and the advice would repeat on every export."""
    return 'pre-processing before quantization' not in record.getMessage()


def _set_props(path: str, extra: Dict[str, str]) -> None:
    """Adds ``extra`` to the metadata_props of ``path`` (the others kept) and checks it."""
    import onnx
    proto = onnx.load(path)
    props = {p.key: p.value for p in proto.metadata_props}
    props.pop('onnx.infer', None)  # the quantizer's own mark; 'precision' says more
    onnx.helper.set_model_props(proto, {**props, **extra})
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


# ---------------------------------------------------------------------------- verification
@dataclass
class Int8Report:
    """What :func:`export_int8` measured on the held-out clips and wrote."""
    out: str
    calibration_clips: int
    holdout_clips: int
    whole: Dict[str, float] = field(default_factory=dict)  # max_dp, agreement
    parts: Dict[str, float] = field(default_factory=dict)  # the same, parts chained
    cosine: Dict[str, float] = field(default_factory=dict)  # backbone features: min, mean
    passed: bool = False
    written: List[str] = field(default_factory=list)

    def summary(self) -> dict:
        return dict(calibration_clips=self.calibration_clips, holdout_clips=self.holdout_clips,
                    whole=self.whole, parts=self.parts, backbone_cosine=self.cosine)


def agreement(reference: np.ndarray, scores: np.ndarray) -> Dict[str, float]:
    """Max |Δp| and the share of rows with the same top-1 class of two ``[N, K]`` score
    arrays."""
    return dict(max_dp=float(np.abs(reference.astype(np.float64) - scores).max()),
                agreement=float(np.mean(reference.argmax(1) == scores.argmax(1))))


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the rows of two ``[B, C]`` arrays."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    norm = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(norm, 1e-12)


def compare(float_model: ONNXModel, float_parts: ONNXParts, int8_model: ONNXModel,
            int8_parts: ONNXParts, clips: Sequence[np.ndarray], batch: int = 2
            ) -> Tuple[Dict[str, float], Dict[str, float], Dict[str, float]]:
    """int8 vs float32 on ``clips``, ``batch`` clips at a time: the whole graph's and the
    chained parts' (max |Δp|, top-1 agreement) and the backbone features' cosine (min, mean)."""
    ref, whole, parts, cos = [], [], [], []
    for i in range(0, len(clips), batch):
        x = float_model.preprocess(clips[i:i + batch])
        ref.append(float_model.run_preprocessed(x)['scores'])
        whole.append(int8_model.run_preprocessed(x)['scores'])
        parts.append(int8_parts.run_preprocessed(x)['scores'])
        frames = x.reshape(-1, *x.shape[2:])
        cos.append(cosine(float_parts.backbone.run(frames)[0], int8_parts.backbone.run(frames)[0]))
    ref = np.concatenate(ref)
    cos = np.concatenate(cos)
    return (agreement(ref, np.concatenate(whole)), agreement(ref, np.concatenate(parts)),
            dict(min=float(cos.min()), mean=float(cos.mean())))


def _within(r: Dict[str, float], s: Int8Settings) -> bool:
    return r['agreement'] >= s.min_agreement and r['max_dp'] <= s.max_dp


def _log_report(report: Int8Report, s: Int8Settings, log) -> None:
    log(f'int8 vs float32 on {report.holdout_clips} held-out clips (not calibrated on):')
    for name, r in (('whole graph', report.whole), ('parts chained', report.parts)):
        log(f'  {name:<13}: max |Δp| {r["max_dp"]:.4f}  top-1 agreement {r["agreement"]:.3f}'
            f'  → {"OK" if _within(r, s) else "FAILED"}')
    log(f'  backbone features: cosine min {report.cosine["min"]:.5f} '
        f'mean {report.cosine["mean"]:.5f}')
    log(f'  thresholds: top-1 agreement >= {s.min_agreement:g}, max |Δp| <= {s.max_dp:g}')


class Int8VerificationFailed(QuantizeError):
    """The int8 graphs differ from the float32 ones beyond the thresholds; nothing written."""


# ---------------------------------------------------------------------------- the whole job
def export_int8(float_out: str, s: Int8Settings, log=print) -> Int8Report:
    """Write the int8 export of the float32 export ``float_out`` (and its part graphs) to
    ``s.out`` (default ``<stem>.int8.onnx``) and its parts, calibrated on ``s.calibrate`` and
    verified on the held-out clips. Each file is written atomically, and only when both the
    whole graph and the chained parts are within the thresholds (else
    :class:`Int8VerificationFailed`); existing files raise
    :class:`~est_mm.utils.files.OutputExistsError` unless ``s.overwrite``."""
    import contextlib

    from ..utils.files import atomic_write
    outs = check_outputs(float_out, s)
    check_sources(s.calibrate)
    cpu = ['CPUExecutionProvider']
    try:
        float_model = ONNXModel(float_out, providers=cpu)
        float_parts = float_model.parts()
    except ValueError as err:
        raise QuantizeError(first_line(err)) from err
    clips = collect_clips(s.calibrate, float_model.geometry, s)
    calib, held = split_holdout(clips, s.holdout, s.seed)
    report = Int8Report(out=outs[0], calibration_clips=len(calib), holdout_clips=len(held))
    log(f'int8: calibrating on {len(calib)} clips ({sum(map(len, calib))} frames) of '
        f'{len({n for n, _ in clips})} sources; {len(held)} held out (seed {s.seed})')
    if len(calib) < MIN_CALIBRATION_CLIPS:
        log(f'note: only {len(calib)} calibration clip(s): the activation ranges may not hold for '
            f'other footage; give {MIN_CALIBRATION_CLIPS} or more clips of varied faces')
    with contextlib.ExitStack() as stack:  # the whole graph is renamed last
        tmps = {p: stack.enter_context(atomic_write(p)) for p in outs}
        tmp_parts = {p: tmps[part_path(outs[0], p)] for p in PARTS}
        size, T = float_model.frame_size, float_model.num_frames
        quantize_file(float_out, tmps[outs[0]], _reader(calib, size, T, INPUT_NAME), s)
        quantize_file(float_parts.backbone.path, tmp_parts['backbone'],
                      _reader(calib, size, None, PARTS['backbone'][0]), s)
        for part in ('snippet', 'head'):  # float32: int8 MatMuls moved the scores too much
            shutil.copyfile(getattr(float_parts, part).path, tmp_parts[part])
        int8_model = ONNXModel(tmps[outs[0]], providers=cpu)
        int8_parts = ONNXParts(int8_model, tmp_parts, providers=cpu)
        report.whole, report.parts, report.cosine = compare(float_model, float_parts,
                                                            int8_model, int8_parts, held)
        _log_report(report, s, log)
        report.passed = _within(report.whole, s) and _within(report.parts, s)
        if not report.passed:
            raise Int8VerificationFailed(
                f'{outs[0]} not written: int8 differs from float32 beyond the thresholds on '
                f'{len(held)} held-out clips (whole graph: {_short(report.whole)}; parts: '
                f'{_short(report.parts)})')
        del int8_model, int8_parts  # sessions closed before the files change
        summary = _metadata(s, report, [n for n, _ in clips])
        for path, tmp in tmps.items():
            quantized = path == outs[0] or tmp == tmp_parts['backbone']
            _set_props(tmp, dict(summary, precision='int8' if quantized else 'float32'))
    report.written = outs[1:] + outs[:1]
    return report


def _short(r: Dict[str, float]) -> str:
    return f'max |Δp| {r["max_dp"]:.4f}, top-1 agreement {r["agreement"]:.3f}'


def _metadata(s: Int8Settings, report: Int8Report, names: Sequence[str]) -> Dict[str, str]:
    """The int8 export's metadata, on top of the float32 file's."""
    sources = sorted({osp.basename(osp.normpath(n)) for n in names})
    return {'int8_export': json.dumps(dict(
        quantizer='onnxruntime.quantization.quantize_static', format='QDQ', per_channel=True,
        weights='int8', activations='uint8', op_types=list(s.op_types),
        float32_parts=['snippet', 'head'], calibration=dict(
            method=s.method, clips=report.calibration_clips,
            sources=len(sources), source_names=sources[:20], seed=s.seed,
            face_crop=s.face_crop, detector=s.detector if s.face_crop else None),
        verification=dict(report.summary(), min_agreement=s.min_agreement, max_dp=s.max_dp)))}
