"""Predict expressions with a trained EST: load a config and checkpoint once, then run on a video
file, a frame folder or an in-memory array of (face-crop) frames, with sliding windows over long
videos, returning class probabilities, the AA-SFE frame weights and the snippet attention."""
import json
import os.path as osp
import warnings
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmaction.registry import DATASETS, MODELS, TRANSFORMS
from mmaction.utils import register_all_modules
from ..datasets.transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
from ..engine.hooks.est_meta_hook import full_transform_cfg

FrameSource = Union[str, np.ndarray, Sequence[np.ndarray]]


@dataclass
class WindowResult:
    """One EST window: frames [start, end) of the source, its 35 sampled frames and the outputs."""
    start: int
    end: int
    frame_inds: List[int]
    scores: List[float]
    label: int
    label_name: str
    frame_weights: List[List[float]]  # [n snippets][J frames], AA-SFE weights, rows sum to 1
    snippet_attention: List[float]  # [n], the decoder's cross-attention, sums to 1
    start_time: Optional[float] = None
    end_time: Optional[float] = None


@dataclass
class VideoResult:
    """Whole-source prediction (mean of the window probabilities) plus the per-window timeline."""
    source: str
    num_frames: int
    fps: Optional[float]
    classes: List[str]
    scores: List[float]
    label: int
    label_name: str
    windows: List[WindowResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _canonical(value):
    """Comparable form of config / checkpoint values (tuples and lists alike, plain builtins)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _test_step(pipeline, type_name):
    for step in pipeline:
        if step['type'] == type_name:
            return dict(step)
    return None


class ESTInferencer:
    """Loads ``config`` + ``checkpoint`` once; :meth:`__call__` predicts on one source.

    Args:
        config: config file or Config (its test pipeline gives the sampling and frame size).
        checkpoint: checkpoint file (loaded with torch's safe loading), or None for random weights.
        device: 'cpu', 'cuda', ... (default: cuda when available).
        window: frames per EST window (default: the sampler's unified length, 105).
        stride: frames between window starts (default: half a window).
        batch_size: windows per forward pass.
        backend: 'pytorch', or 'onnxruntime' to run an exported ``.onnx`` file given as
            ``checkpoint`` (no PyTorch module is built; classes, frame size and sampling come from
            the file's metadata; ``config`` may be None).
    """

    def __init__(self, config, checkpoint: Optional[str] = None, device: Optional[str] = None,
                 window: Optional[int] = None, stride: Optional[int] = None,
                 batch_size: int = 8, backend: str = 'pytorch'):
        if backend not in ('pytorch', 'onnxruntime'):
            raise ValueError(f"backend must be 'pytorch' or 'onnxruntime', got {backend!r}")
        self.backend = backend
        self.batch_size = batch_size
        if backend == 'onnxruntime':
            self._init_onnx(checkpoint, window, stride)
            return
        register_all_modules()
        cfg = config if isinstance(config, Config) else Config.fromfile(config)
        self.cfg = cfg
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.model = MODELS.build(cfg.model)
        meta = {}
        if checkpoint is not None:  # torch safe loading (est_mm.compat); CheckpointError if bad
            meta = load_checkpoint(self.model, checkpoint, map_location='cpu').get('meta') or {}
        self.checkpoint_meta = meta
        # what the checkpoint says about its inputs (ESTMetaHook) wins over the config
        est = meta.get('est') or {}
        self._source = checkpoint
        pipeline = cfg.test_dataloader.dataset.pipeline
        sampling = _test_step(pipeline, 'SnippetSampling')
        if sampling is not None:
            sampling = full_transform_cfg(dict(sampling, test_mode=True))
        sampling = self._prefer('test SnippetSampling', sampling, est.get('test_sampling'))
        if sampling is None:
            raise ValueError('the config\'s test pipeline has no SnippetSampling step')
        self.sampler = TRANSFORMS.build(dict(sampling, test_mode=True))
        resize = _test_step(pipeline, 'Resize')
        size = self._prefer('frame size (Resize scale)',
                            list(resize['scale']) if resize else None, est.get('frame_size'))
        self.size = tuple(size) if size else None  # (w, h)
        self._use_checkpoint_preprocessor(est.get('data_preprocessor'))
        self.model.to(self.device).eval()
        self._set_windows(window, stride)
        self.classes = self._class_names(meta, cfg)

    def _init_onnx(self, path, window, stride) -> None:
        from ..deploy import ONNXModel
        if not path or not str(path).endswith('.onnx'):
            raise ValueError(f'backend onnxruntime needs an exported .onnx file, got {path!r}')
        self.onnx = ONNXModel(path)
        self.sampler = TRANSFORMS.build(dict(type='SnippetSampling', **self.onnx.sampling,
                                             test_mode=True))
        self.size = tuple(self.onnx.frame_size[::-1])  # (w, h)
        self.classes = list(self.onnx.classes)
        self._set_windows(window, stride)

    def _set_windows(self, window, stride) -> None:
        self.window = int(window or self.sampler.unified_len)
        self.stride = int(stride or max(1, self.window // 2))
        if self.window < 1 or self.stride < 1:
            raise ValueError(f'window and stride must be >= 1, got {self.window}, {self.stride}')

    def _prefer(self, what: str, from_config, from_checkpoint):
        """The checkpoint's value if it has one (warning when the config's differs), else the
        config's."""
        if from_checkpoint is None:
            return from_config
        if from_config is not None and _canonical(from_config) != _canonical(from_checkpoint):
            warnings.warn(f'{self._source}: the config\'s {what} {_canonical(from_config)} '
                          f'differs from the checkpoint\'s {_canonical(from_checkpoint)}; using '
                          'the checkpoint\'s', stacklevel=3)
        return from_checkpoint

    def _use_checkpoint_preprocessor(self, stored) -> None:
        preprocessor = getattr(self.model, 'data_preprocessor', None)
        if not stored or preprocessor is None:
            return
        for key in ('mean', 'std'):
            buf = getattr(preprocessor, key, None)
            if stored.get(key) is None or not isinstance(buf, torch.Tensor):
                continue
            value = self._prefer(f'data_preprocessor.{key}', buf.flatten().tolist(),
                                 list(stored[key]))
            buf.copy_(torch.as_tensor(value, dtype=buf.dtype).view_as(buf))

    def _class_names(self, meta, cfg) -> List[str]:
        dataset_cls = DATASETS.get(cfg.test_dataloader.dataset.type)
        configured = getattr(dataset_cls, 'METAINFO', {}).get('classes')
        stored = (meta.get('est') or {}).get('classes') or \
            (meta.get('dataset_meta') or {}).get('classes')
        classes = self._prefer('class names', list(configured) if configured else None,
                               list(stored) if stored else None)
        num = self.model.cls_head.num_classes
        if not classes or len(classes) != num:
            classes = [str(i) for i in range(num)]
        return list(classes)

    def windows(self, num_frames: int) -> List[tuple]:
        """[start, end) frame ranges covering ``num_frames`` (one window if the video is short;
        the last window ends at the last frame)."""
        if num_frames <= self.window:
            return [(0, num_frames)]
        starts = list(range(0, num_frames - self.window + 1, self.stride))
        if starts[-1] + self.window < num_frames:
            starts.append(num_frames - self.window)
        return [(s, s + self.window) for s in starts]

    def _open(self, source: FrameSource, fps: Optional[float]):
        """→ (name, total frames, fps, read(indices) → list of RGB frames)."""
        if isinstance(source, str):
            key = 'frame_dir' if osp.isdir(source) else 'filename'
            results = VideoOrFramesInit().transform({key: source})
            decode = VideoOrFramesDecode()
            if fps is None and 'video_reader' in results:
                fps = float(results['video_reader'].get_avg_fps())

            def read(indices):
                out = decode.transform(dict(results, frame_inds=np.asarray(indices)))
                return out['imgs']
            return source, results['total_frames'], fps, read
        frames = source if isinstance(source, np.ndarray) else list(source)
        if len(frames) == 0:
            raise ValueError('no frames given')
        return '<array>', len(frames), fps, lambda indices: [frames[i] for i in indices]

    def _to_inputs(self, clips: List[List[np.ndarray]]) -> torch.Tensor:
        batch = []
        for clip in clips:
            imgs = []
            for img in clip:
                img = np.asarray(img)
                if img.ndim == 2:
                    img = np.repeat(img[..., None], 3, axis=2)
                img = img[..., :3]
                if self.size is not None and (img.shape[1], img.shape[0]) != self.size:
                    img = cv2.resize(img, self.size, interpolation=cv2.INTER_LINEAR)
                imgs.append(img)
            batch.append(torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2))  # [F, 3, H, W]
        data = self.model.data_preprocessor(dict(inputs=batch, data_samples=None), False)
        return data['inputs'].to(self.device)

    def _forward(self, clips: List[List[np.ndarray]]):
        """Clips of RGB frames → (probabilities [N, K], frame weights [N, n, J], snippet
        attention [N, n]) as numpy, with either backend."""
        if self.backend == 'onnxruntime':
            return self.onnx.run(clips)
        logits, weights, attn = self.model.forward_explain(self._to_inputs(clips))
        return (logits.softmax(-1).cpu().numpy(), weights.cpu().numpy(), attn.cpu().numpy())

    def window_indices(self, num_frames: int) -> List[tuple]:
        """For each window: (start, end, the 35 sampled frame indices of the source)."""
        geometry = self.sampler.geometry
        return [(s, e, s + geometry.test_indices(e - s)) for s, e in self.windows(num_frames)]

    def __call__(self, source: FrameSource, fps: Optional[float] = None) -> VideoResult:
        """Predict on a video file, a frame folder or frames ([T, H, W, 3] uint8 RGB)."""
        name, total, fps, read = self._open(source, fps)
        return self.predict(read, total, fps, name)

    @torch.no_grad()
    def predict(self, read, num_frames: int, fps: Optional[float] = None,
                name: str = '<frames>') -> VideoResult:
        """Predict from ``read(indices) → list of RGB frames`` over a source of ``num_frames``;
        only the sampled frames are read (e.g. face crops made for just those frames)."""
        results = []
        spans = self.window_indices(num_frames)
        for i in range(0, len(spans), self.batch_size):
            chunk = spans[i:i + self.batch_size]
            needed = np.unique(np.concatenate([ind for _, _, ind in chunk]))
            frames = dict(zip(needed.tolist(), read(needed)))
            probs, weights, attn = self._forward(
                [[frames[j] for j in ind.tolist()] for _, _, ind in chunk])
            for (s, e, ind), p, w, a in zip(chunk, probs, weights, attn):
                label = int(p.argmax())
                results.append(WindowResult(
                    start=s, end=e, frame_inds=ind.tolist(), scores=p.tolist(), label=label,
                    label_name=self.classes[label], frame_weights=w.tolist(),
                    snippet_attention=a.tolist(),
                    start_time=s / fps if fps else None, end_time=e / fps if fps else None))
        overall = np.mean([r.scores for r in results], axis=0)
        label = int(overall.argmax())
        return VideoResult(source=name, num_frames=num_frames, fps=fps, classes=self.classes,
                           scores=overall.tolist(), label=label, label_name=self.classes[label],
                           windows=results)
