"""Run an EST model exported by ``tools/deployment/export_onnx.py`` with ONNX Runtime.

This module needs only numpy, OpenCV and onnxruntime: no PyTorch, no mmaction2 and no model code.
Everything it needs comes from the ``.onnx`` file's metadata, the model's
:class:`~est_mm.inference_spec.InferenceSpec` written by the exporter (each field of
``InferenceSpec.to_dict`` as JSON): class names, frame size, the normalisation (also built into
the graph) and the test-time snippet sampling. The file can be
copied to a machine that has no torch together with ``est_mm/snippet_geometry.py`` (placed next
to it), which computes the sampled frame indices.

Graph contract (``est_mm_format`` 1):

* input ``clips``: float32 ``[N, T, 3, H, W]``, RGB in the range 0-255, **not** normalised. The
  graph applies the model's data_preprocessor, ``(x - mean) / std``, itself. ``T`` = num_snippets ×
  frames_per_snippet (35). ``H, W`` are fixed at export time (``frame_size``). ``N`` is dynamic.
* outputs: ``scores`` (softmax probabilities ``[N, K]``), ``frame_weights`` (AA-SFE weights
  ``[N, n, J]``, rows sum to 1), ``snippet_attention`` (the last decoder layer's cross-attention,
  ``[N, n]``, sums to 1) and ``logits`` (``[N, K]``, before the softmax).

:func:`preprocess_clips` is the one numpy preprocessing of the ONNX side (this runner and the
exporter's verification): frames as decoders give them, ``[N, T, H, W, 3]`` RGB (uint8 or float
0-255), resized as the configs' test pipeline ``Resize`` does (``cv2.resize``, ``INTER_LINEAR``,
in the input's own dtype), then float32 ``[N, T, 3, H, W]``; ``tests/test_onnx.py`` checks it
equals the config's pipeline output.

Part graphs, for the streaming engine (:mod:`est_mm.streaming.engine`), written by the exporter
next to the main file ``<stem>.onnx`` (each with the same metadata plus ``est_mm_part``):

* ``<stem>.backbone.onnx``: ``frames`` float32 ``[B, 3, H, W]`` RGB 0-255 (normalised inside) ->
  ``features`` ``[B, C]``, the pooled backbone feature of each frame;
* ``<stem>.snippet.onnx``: ``frame_features`` ``[S, J, C]`` -> ``snippet_features`` ``[S, d]``
  and ``frame_weights`` ``[S, J]``, AA-SFE on each snippet by itself;
* ``<stem>.head.onnx``: ``snippet_features`` ``[N, n, d]`` -> ``scores`` ``[N, K]``,
  ``snippet_attention`` ``[N, n]`` and ``logits`` ``[N, K]``, the Transformer and classifier.

:meth:`ONNXModel.parts` loads them (:class:`ONNXParts`).
"""
import importlib.util
import json
import os.path as osp
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

try:
    from ..snippet_geometry import SnippetGeometry
except ImportError:  # loaded on its own: est_mm/snippet_geometry.py by path (torch-free)

    def _load_geometry():
        if '_est_snippet_geometry' in sys.modules:
            return sys.modules['_est_snippet_geometry'].SnippetGeometry
        here = osp.dirname(osp.abspath(__file__))
        for path in (osp.join(here, 'snippet_geometry.py'),
                     osp.join(here, '..', 'snippet_geometry.py')):
            if osp.isfile(path):
                spec = importlib.util.spec_from_file_location('_est_snippet_geometry', path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                return module.SnippetGeometry
        raise ImportError(f'onnx_backend.py needs snippet_geometry.py (est_mm/snippet_geometry.py)'
                          f' next to it or in its parent folder; looked in {here}')

    SnippetGeometry = _load_geometry()

FORMAT_VERSION = '1'
INPUT_NAME = 'clips'
OUTPUT_NAMES = ('scores', 'frame_weights', 'snippet_attention', 'logits')
#: InferenceSpec fields in the metadata; older exports lack the optional ones
SPEC_FIELDS = ('classes', 'frame_size', 'sampling', 'mean', 'std')
OPTIONAL_SPEC_FIELDS = {'to_rgb': False, 'layout': 'NCHW', 'sources': {}}

#: part graph -> (input name, output names), see the module docstring
PARTS = {'backbone': ('frames', ('features', )),
         'snippet': ('frame_features', ('snippet_features', 'frame_weights')),
         'head': ('snippet_features', ('scores', 'snippet_attention', 'logits'))}
EXPORT_COMMAND = 'python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out {} --overwrite'

Clips = Union[np.ndarray, Sequence[Sequence[np.ndarray]]]


def part_path(path: str, part: str) -> str:
    """Where the exporter writes part ``part`` of the export ``path``: ``<stem>.<part>.onnx``."""
    stem, ext = osp.splitext(path)
    return f'{stem}.{part}{ext or ".onnx"}'


def as_rgb(img) -> np.ndarray:
    """One frame as ``HxWx3``: grey ``HxW`` repeated, a 4th (alpha) channel dropped."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f'expected HxWx3 RGB frames, got shape {img.shape}')
    return img[..., :3]


def preprocess_clips(clips: Clips, frame_size: Optional[Tuple[int, int]] = None,
                     num_frames: Optional[int] = None) -> np.ndarray:
    """Frames -> float32 ``[N, T, 3, H, W]``, RGB 0-255 (the graph input).

    ``clips``: an array ``[N, T, H, W, 3]`` (or ``[N, T, H, W]`` grey), or ``N`` clips, each a
    list/array of ``T`` frames (``HxWx3``, ``HxW`` or ``HxWx4``; see :func:`as_rgb`), uint8 or
    float in 0-255, any size: each frame not of ``frame_size`` ``(H, W)`` is resized with
    ``cv2.INTER_LINEAR`` in its own dtype. ``num_frames``: the ``T`` every clip must have."""
    if isinstance(clips, np.ndarray) and clips.ndim not in (4, 5):
        raise ValueError(f'expected clips [N, T, H, W, 3], got shape {clips.shape}')
    batch = []
    for clip in clips:
        frames = []
        for img in clip:
            img = as_rgb(img)
            if frame_size is not None and img.shape[:2] != tuple(frame_size):
                img = cv2.resize(img, (frame_size[1], frame_size[0]),
                                 interpolation=cv2.INTER_LINEAR)
            frames.append(img.astype(np.float32, copy=False))
        if not frames:
            raise ValueError('a clip has no frames')
        batch.append(np.stack(frames))
    if not batch:
        raise ValueError('no clips given')
    if len({b.shape for b in batch}) > 1:
        raise ValueError(f'clips differ in shape: {sorted({b.shape for b in batch})}')
    batch = np.stack(batch)
    if num_frames is not None and batch.shape[1] != num_frames:
        raise ValueError(f'each clip needs {num_frames} frames (see frame_indices), '
                         f'got {batch.shape[1]}')
    return np.ascontiguousarray(batch.transpose(0, 1, 4, 2, 3), dtype=np.float32)


def read_spec(meta: Dict[str, str], path: str) -> dict:
    """The InferenceSpec fields (``InferenceSpec.to_dict`` form) in an export's metadata."""
    spec = dict(OPTIONAL_SPEC_FIELDS)
    for key in SPEC_FIELDS + tuple(OPTIONAL_SPEC_FIELDS):
        if key in meta:
            spec[key] = json.loads(meta[key])
        elif key in SPEC_FIELDS:
            raise ValueError(f'{path}: no {key!r} in the ONNX metadata; export it with '
                             f'tools/deployment/export_onnx.py')
    return spec


def _session(path: str, providers: Optional[Sequence[str]], sess_options):
    """An onnxruntime session of ``path`` and its metadata; ValueError unless it is an est_mm
    export. ``providers`` default: CUDA when this build has it, then CPU; ``sess_options``
    default: idle threads do not spin."""
    import onnxruntime as ort
    if providers is None:
        available = ort.get_available_providers()
        providers = [p for p in ('CUDAExecutionProvider', 'CPUExecutionProvider')
                     if p in available] or available
    if sess_options is None:
        sess_options = ort.SessionOptions()
        # idle threads that spin between calls slow down everything else in the process
        # (measured: the PyTorch EST stage 25x slower after an ONNX run in the same process)
        sess_options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    session = ort.InferenceSession(path, sess_options, providers=list(providers))
    meta = dict(session.get_modelmeta().custom_metadata_map)
    version = meta.get('est_mm_format')
    if version != FORMAT_VERSION:
        raise ValueError(f'{path}: not an est_mm ONNX export (est_mm_format={version!r}, '
                         f'expected {FORMAT_VERSION!r})')
    return session, meta


class ONNXModel:
    """An exported EST model on ONNX Runtime.

    Args:
        path: the ``.onnx`` file written by ``tools/deployment/export_onnx.py``.
        providers: ONNX Runtime execution providers, e.g. ``['CPUExecutionProvider']``. Default:
            CUDA when this onnxruntime build has it, then CPU.
        sess_options: an ``onnxruntime.SessionOptions`` (threads, optimisation level, ...).

    Attributes:
        spec (dict): the model's InferenceSpec as stored (``InferenceSpec.to_dict`` form).
        classes (list[str]): class names, index = output column.
        frame_size (tuple[int, int]): ``(H, W)`` that frames are resized to.
        sampling (dict): the test-time SnippetSampling settings (``num_snippets``,
            ``frames_per_snippet``, ``snippet_len``, ``snippet_stride``, ``unified_len``,
            ``test_start``, ``test_offsets``, ...).
        geometry (SnippetGeometry): the same settings, validated; gives the frame indices.
        num_frames (int): frames per clip, ``T``.
        mean, std (list[float]): the normalisation the graph applies (per RGB channel).
        metadata (dict[str, str]): all metadata_props of the file.
    """

    def __init__(self, path: str, providers: Optional[Sequence[str]] = None,
                 sess_options=None):
        self.path = path
        self.session, meta = _session(path, providers, sess_options)
        self._providers, self._sess_options = providers, sess_options
        self._parts: Optional['ONNXParts'] = None
        self.metadata = meta
        if 'est_mm_part' in meta:
            raise ValueError(f"{path}: the {meta['est_mm_part']} part graph of an export, not a "
                             f"whole model; load the file without '.{meta['est_mm_part']}'")
        self.spec = read_spec(meta, path)
        self.classes: List[str] = [str(c) for c in self.spec['classes']]
        self.frame_size: Tuple[int, int] = tuple(int(v) for v in self.spec['frame_size'])
        self.sampling: dict = self.spec['sampling']
        self.mean: List[float] = list(self.spec['mean'])
        self.std: List[float] = list(self.spec['std'])
        self.geometry = SnippetGeometry.from_dict(self.sampling)
        self.num_frames = self.geometry.clip_len
        self.output_names = [o.name for o in self.session.get_outputs()]
        missing = set(OUTPUT_NAMES) - set(self.output_names)
        if missing:
            raise ValueError(f'{path}: graph lacks the outputs {sorted(missing)}')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.path!r}, classes={self.classes}, '
                f'frame_size={self.frame_size}, providers={self.session.get_providers()})')

    def parts(self) -> 'ONNXParts':
        """The part graphs next to this file (:func:`part_path`), loaded on the first call with
        this model's providers and options. ValueError (one line) when one is missing or its
        metadata is not this file's."""
        if self._parts is None:
            self._parts = ONNXParts(self, providers=self._providers,
                                    sess_options=self._sess_options)
        return self._parts

    def frame_indices(self, num_frames: int) -> np.ndarray:
        """The ``T`` frame indices (0-based, snippet after snippet) that the test-time
        snippet sampling takes from a window of ``num_frames`` frames."""
        return self.geometry.test_indices(num_frames)

    def preprocess(self, clips: Clips) -> np.ndarray:
        """Frames -> the graph input float32 ``[N, T, 3, H, W]`` (:func:`preprocess_clips` at
        this model's frame size and clip length)."""
        return preprocess_clips(clips, self.frame_size, self.num_frames)

    def run_preprocessed(self, inputs: np.ndarray) -> Dict[str, np.ndarray]:
        """Graph input ``[N, T, 3, H, W]`` float32 RGB 0-255 -> dict of all outputs."""
        outs = self.session.run(self.output_names, {INPUT_NAME: inputs})
        return dict(zip(self.output_names, outs))

    def run(self, clips: Clips, return_logits: bool = False):
        """Clips of ``T`` RGB frames (see :func:`preprocess_clips`) -> numpy ``(scores [N, K]
        softmax probabilities, frame_weights [N, n, J], snippet_attention [N, n])``, plus
        ``logits [N, K]`` with ``return_logits``."""
        out = self.run_preprocessed(self.preprocess(clips))
        result = (out['scores'], out['frame_weights'], out['snippet_attention'])
        return result + (out['logits'], ) if return_logits else result

    def forward_explain(self, clips: Clips, return_logits: bool = False):
        """Deprecated alias of :meth:`run`."""
        warnings.warn('ONNXModel.forward_explain is deprecated; use ONNXModel.run',
                      DeprecationWarning, stacklevel=2)
        return self.run(clips, return_logits)


class ONNXPart:
    """One part graph on ONNX Runtime: :meth:`run` maps its input array to its outputs."""

    def __init__(self, path: str, part: str, session, metadata: Dict[str, str]):
        self.path, self.part, self.session, self.metadata = path, part, session, metadata
        self.input_name, self.output_names = PARTS[part][0], list(PARTS[part][1])

    def run(self, x: np.ndarray) -> List[np.ndarray]:
        """Input float32 array -> the outputs, in :data:`PARTS` order."""
        return self.session.run(self.output_names,
                                {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})


class ONNXParts:
    """The part graphs of an export, the ONNX Runtime computation of the streaming engine
    (:class:`~est_mm.streaming.engine.StreamingEST`): :meth:`frames`, :meth:`snippets` and
    :meth:`window`, with :meth:`preprocess` (:func:`preprocess_clips` per frame).

    Args:
        main: the whole model (:class:`ONNXModel`) whose parts these are.
        paths: part name -> file (default: :func:`part_path` of ``main.path``).
        providers, sess_options: as :class:`ONNXModel`.

    Raises ValueError (one line) when a file is missing (naming it and the re-export command),
    is not an est_mm part graph, or its spec or checkpoint differs from ``main``'s.
    """

    def __init__(self, main: ONNXModel, paths: Optional[Dict[str, str]] = None,
                 providers: Optional[Sequence[str]] = None, sess_options=None):
        spec, meta, name = main.spec, main.metadata, main.path
        paths = dict(paths or {p: part_path(main.path, p) for p in PARTS})
        missing = [paths[p] for p in PARTS if not osp.isfile(paths[p])]
        if missing:
            raise ValueError(f'{missing[0]}: no such file' +
                             (f' (nor {", ".join(map(osp.basename, missing[1:]))})'
                              if missing[1:] else '') +
                             f'; streaming on ONNX Runtime needs the part graphs of {name}: '
                             f're-export with ' + EXPORT_COMMAND.format(name))
        self.spec = spec
        for part in PARTS:
            path = paths[part]
            session, part_meta = _session(path, providers, sess_options)
            if part_meta.get('est_mm_part') != part:
                raise ValueError(f'{path}: not the {part} part graph of an est_mm export '
                                 f"(est_mm_part={part_meta.get('est_mm_part')!r})")
            part_spec = read_spec(part_meta, path)
            differ = [k for k in sorted(set(spec) | set(part_spec))
                      if part_spec.get(k) != spec.get(k)]
            if 'checkpoint_sha256' in meta and \
                    part_meta.get('checkpoint_sha256') != meta['checkpoint_sha256']:
                differ.append('checkpoint')
            if differ:
                raise ValueError(f'{path}: does not match {name} ({", ".join(differ)} '
                                 f'differ); re-export with ' + EXPORT_COMMAND.format(name))
            setattr(self, part, ONNXPart(path, part, session, part_meta))
        self.classes: List[str] = [str(c) for c in spec['classes']]
        self.frame_size: Tuple[int, int] = tuple(int(v) for v in spec['frame_size'])
        self.geometry = SnippetGeometry.from_dict(spec['sampling'])
        self.num_frames = self.geometry.clip_len

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Frames (``HxWx3`` RGB, any size) -> float32 ``[B, 3, H, W]`` RGB 0-255."""
        return preprocess_clips([crops], self.frame_size)[0]

    def frames(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Frames (``HxWx3`` RGB, any size) -> backbone features ``[B, C]``."""
        return self.backbone.run(self.preprocess(crops))[0]

    def snippets(self, feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Frame features ``[S, J, C]`` -> (snippet features R ``[S, d]``, AA-SFE weights
        ``[S, J]``)."""
        R, weights = self.snippet.run(feats)
        return R, weights

    def window(self, R: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Snippet features ``[1, n, d]`` -> (probabilities ``[K]``, snippet attention ``[n]``)."""
        scores, attention = self.windows(R)
        return scores[0], attention[0]

    def windows(self, R: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Snippet features ``[B, n, d]`` of B windows -> (probabilities ``[B, K]``, snippet
        attention ``[B, n]``)."""
        scores, attention, _ = self.head.run(R)
        return scores, attention

    def run_preprocessed(self, inputs: np.ndarray) -> Dict[str, np.ndarray]:
        """Clips ``[N, T, 3, H, W]`` float32 RGB 0-255 through the three parts -> the whole
        graph's outputs (:meth:`ONNXModel.run_preprocessed`), for verification."""
        N, T = inputs.shape[:2]
        n, J = self.geometry.num_snippets, self.geometry.frames_per_snippet
        feats = self.backbone.run(inputs.reshape(N * T, *inputs.shape[2:]))[0]
        R, weights = self.snippet.run(feats.reshape(N * n, J, -1))
        scores, attention, logits = self.head.run(R.reshape(N, n, -1))
        return dict(scores=scores, frame_weights=weights.reshape(N, n, J),
                    snippet_attention=attention, logits=logits)
