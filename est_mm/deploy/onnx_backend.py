"""Run an EST model exported by ``tools/deployment/export_onnx.py`` with ONNX Runtime.

This module needs only numpy, OpenCV and onnxruntime: no PyTorch, no mmaction2 and no model code.
Everything it needs comes from the ``.onnx`` file's metadata: class names, frame size, the
normalisation (also built into the graph) and the test-time snippet sampling. The file can be
copied to a machine that has no torch together with ``est_mm/snippet_geometry.py`` (placed next
to it), which computes the sampled frame indices.

Graph contract (``est_mm_format`` 1):

* input ``clips``: float32 ``[N, T, 3, H, W]``, RGB in the range 0-255, **not** normalised. The
  graph applies the model's data_preprocessor, ``(x - mean) / std``, itself. ``T`` = num_snippets ×
  frames_per_snippet (35). ``H, W`` are fixed at export time (``frame_size``). ``N`` is dynamic.
* outputs: ``scores`` (softmax probabilities ``[N, K]``), ``frame_weights`` (AA-SFE weights
  ``[N, n, J]``, rows sum to 1), ``snippet_attention`` (the last decoder layer's cross-attention,
  ``[N, n]``, sums to 1) and ``logits`` (``[N, K]``, before the softmax).

:class:`ONNXModel` takes frames the way decoders give them, ``[N, T, H, W, 3]`` RGB (uint8 or float
0-255), and resizes them the way ``ESTInferencer`` does (``cv2.resize``, ``INTER_LINEAR``, in the
input's own dtype, then float32).
"""
import importlib.util
import json
import os.path as osp
import sys
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

Clips = Union[np.ndarray, Sequence[Sequence[np.ndarray]]]


def _json(meta: Dict[str, str], key: str, path: str):
    if key not in meta:
        raise ValueError(f'{path}: no {key!r} in the ONNX metadata; export it with '
                         f'tools/deployment/export_onnx.py')
    return json.loads(meta[key])


class ONNXModel:
    """An exported EST model on ONNX Runtime.

    Args:
        path: the ``.onnx`` file written by ``tools/deployment/export_onnx.py``.
        providers: ONNX Runtime execution providers, e.g. ``['CPUExecutionProvider']``. Default:
            CUDA when this onnxruntime build has it, then CPU.
        sess_options: an ``onnxruntime.SessionOptions`` (threads, optimisation level, ...).

    Attributes:
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
        import onnxruntime as ort
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ('CUDAExecutionProvider', 'CPUExecutionProvider')
                         if p in available] or available
        self.path = path
        self.session = ort.InferenceSession(path, sess_options, providers=list(providers))
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = meta
        version = meta.get('est_mm_format')
        if version != FORMAT_VERSION:
            raise ValueError(f'{path}: not an est_mm ONNX export (est_mm_format={version!r}, '
                             f'expected {FORMAT_VERSION!r})')
        self.classes: List[str] = list(_json(meta, 'classes', path))
        self.frame_size: Tuple[int, int] = tuple(int(v) for v in _json(meta, 'frame_size', path))
        self.sampling: dict = _json(meta, 'sampling', path)
        self.mean: List[float] = list(_json(meta, 'mean', path))
        self.std: List[float] = list(_json(meta, 'std', path))
        self.geometry = SnippetGeometry.from_dict(self.sampling)
        self.num_frames = self.geometry.clip_len
        self.output_names = [o.name for o in self.session.get_outputs()]
        missing = set(OUTPUT_NAMES) - set(self.output_names)
        if missing:
            raise ValueError(f'{path}: graph lacks the outputs {sorted(missing)}')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.path!r}, classes={self.classes}, '
                f'frame_size={self.frame_size}, providers={self.session.get_providers()})')

    # ------------------------------------------------------------------ sampling
    def frame_indices(self, num_frames: int) -> np.ndarray:
        """The ``T`` frame indices (0-based, snippet after snippet) that the test-time
        SnippetSampling takes from a window of ``num_frames`` frames: the video is unified to
        ``unified_len`` frames (unified ``u`` → ``floor(u · num_frames / unified_len)``), and
        each of the ``num_snippets`` windows contributes the frames at ``test_offsets``."""
        return self.geometry.test_indices(num_frames)

    # ------------------------------------------------------------------ inference
    def preprocess(self, clips: Clips) -> np.ndarray:
        """Frames → the graph input: float32 ``[N, T, 3, H, W]``, RGB 0-255.

        ``clips``: an array ``[N, T, H, W, 3]`` (or ``[N, T, H, W]`` grey), or a list of ``N``
        clips, each a list/array of ``T`` frames (``HxWx3`` RGB, ``HxW`` grey or ``HxWx4``: the
        4th channel is dropped), uint8 or float in 0-255, any size (resized to ``frame_size``
        with ``cv2.INTER_LINEAR``, as ESTInferencer does)."""
        h, w = self.frame_size
        if isinstance(clips, np.ndarray) and clips.ndim == 5 and clips.shape[2:] == (h, w, 3):
            batch = clips
        else:
            if isinstance(clips, np.ndarray) and clips.ndim not in (4, 5):
                raise ValueError(f'expected clips [N, T, H, W, 3], got shape {clips.shape}')
            batch = []
            for clip in clips:
                frames = []
                for img in clip:
                    img = np.asarray(img)
                    if img.ndim == 2:
                        img = np.repeat(img[..., None], 3, axis=2)
                    if img.ndim != 3 or img.shape[2] < 3:
                        raise ValueError(f'expected HxWx3 RGB frames, got shape {img.shape}')
                    img = img[..., :3]
                    if img.shape[:2] != (h, w):
                        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
                    frames.append(img.astype(np.float32, copy=False))
                batch.append(np.stack(frames) if frames else np.zeros((0, h, w, 3), np.float32))
            if not batch:
                raise ValueError('no clips given')
            batch = np.stack(batch)
        if batch.shape[1] != self.num_frames:
            raise ValueError(f'each clip needs {self.num_frames} frames (see frame_indices), '
                             f'got {batch.shape[1]}')
        return np.ascontiguousarray(batch.transpose(0, 1, 4, 2, 3), dtype=np.float32)

    def run_preprocessed(self, inputs: np.ndarray) -> Dict[str, np.ndarray]:
        """Graph input ``[N, T, 3, H, W]`` float32 RGB 0-255 → dict of all outputs."""
        outs = self.session.run(self.output_names, {INPUT_NAME: inputs})
        return dict(zip(self.output_names, outs))

    def forward_explain(self, clips: Clips, return_logits: bool = False):
        """Frames ``[N, T, H, W, 3]`` RGB (see :meth:`preprocess`) → numpy ``(scores [N, K]
        softmax probabilities, frame_weights [N, n, J], snippet_attention [N, n])``, plus
        ``logits [N, K]`` with ``return_logits``."""
        out = self.run_preprocessed(self.preprocess(clips))
        result = (out['scores'], out['frame_weights'], out['snippet_attention'])
        return result + (out['logits'], ) if return_logits else result

    def run(self, frames_batch: Clips):
        """``frames_batch``: list of ``N`` clips, each a list of ``T`` HxWx3 uint8 RGB frames →
        ``(probs [N, K], frame_weights [N, n, J], snippet_attention [N, n])`` numpy arrays."""
        return self.forward_explain(frames_batch)

    __call__ = run
