"""Predict expressions with a trained EST: load a config and checkpoint once, then run on a video
file, a frame folder or an in-memory array of (face-crop) frames, with sliding windows over long
videos, returning class probabilities, the AA-SFE frame weights and the snippet attention."""
import copy
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from mmaction.registry import TRANSFORMS
from mmaction.utils import register_all_modules
from ..datasets.transforms.loading import VideoOrFramesDecode, VideoOrFramesInit
from ..deploy.onnx_backend import as_rgb
from ..engine.prepare import prepare_model
from ..inference_spec import InferenceSpec
from ..results import VideoResult, WindowResult  # noqa: F401  (importable from here too)
from ..utils.errors import first_line
from ..video import VideoFrames

FrameSource = Union[str, np.ndarray, Sequence[np.ndarray]]


def _device(device: Optional[str]) -> torch.device:
    """``device`` as a torch.device; ValueError (one line naming it and the devices this machine
    has) if this machine lacks it."""
    from ..utils.devices import resolve_device
    return resolve_device(device, option='device')


def _time(frame: int, fps: Optional[float], times) -> Optional[float]:
    """Seconds at which ``frame`` starts: from the frame times when known, else frame / fps."""
    if times is not None:
        return float(times[frame])
    return frame / fps if fps else None


class ESTInferencer:
    """Loads ``config`` + ``checkpoint`` once; :meth:`__call__` predicts on one source.

    The classes, frame size, sampling and normalisation are the checkpoint's
    :class:`~est_mm.inference_spec.InferenceSpec` (``self.spec``; a warning names what differs
    from the config); frames go through the config's own test pipeline after its decoding step
    (``Resize``, ``FormatShape``, ..., built with the TRANSFORMS registry, as mmaction2's
    ``ActionRecogInferencer`` does) and the model's data preprocessor. Every error raised here
    is one line naming the culprit: the checkpoint, the config, the device or the option.

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
        for name, value in (('window', window), ('stride', stride), ('batch_size', batch_size)):
            if value is not None and (isinstance(value, bool) or int(value) != value
                                      or value < 1):
                raise ValueError(f'{name} must be an integer >= 1, got {value!r}')
        self.backend = backend
        self.batch_size = batch_size
        if backend == 'onnxruntime':
            self._init_onnx(checkpoint, window, stride)
            return
        self.device = _device(device)
        register_all_modules()
        name = config if isinstance(config, str) else getattr(config, 'filename', None) or \
            'the config'
        if isinstance(config, Config):
            cfg = config
        else:
            from ..utils.config import read_config
            if not isinstance(config, str):
                raise ValueError(f'{config}: no such config file')
            cfg = read_config(config)  # ConfigError (a ValueError): one line naming the file
        cfg = copy.deepcopy(cfg)  # the spec is written into it
        self.model, self.spec, self.cfg = prepare_model(cfg, checkpoint, config=name)
        if self.spec.notes:
            warnings.warn(f'{checkpoint}: using the checkpoint\'s ' + '; '.join(self.spec.notes),
                          stacklevel=2)
        self.pipeline = self._init_pipeline(self.cfg, name)
        self.model.to(self.device)
        self._use_spec(window, stride)

    def _init_onnx(self, path, window, stride) -> None:
        from ..deploy import ONNXModel
        if not path or not str(path).endswith('.onnx'):
            raise ValueError(f'backend onnxruntime needs an exported .onnx file, got {path!r}')
        if not osp.isfile(path):
            raise ValueError(f'{path}: no such file')
        try:
            self.onnx = ONNXModel(path)
        except Exception as err:  # noqa: BLE001 - one line naming the file
            raise ValueError(f'{path}: cannot load: {first_line(err)}') from None
        self.spec = InferenceSpec.from_dict(self.onnx.spec)
        self._use_spec(window, stride)

    def _use_spec(self, window, stride) -> None:
        self.sampler = TRANSFORMS.build(dict(type='SnippetSampling', **self.spec.sampling.to_dict(),
                                             test_mode=True))
        size = self.spec.frame_size
        self.size = (size[1], size[0]) if size else None  # (w, h)
        self.classes = list(self.spec.classes)
        self.window = int(window or self.sampler.unified_len)
        self.stride = int(stride or max(1, self.window // 2))

    @staticmethod
    def _init_pipeline(cfg, name) -> Compose:
        """The config's test pipeline after its decoding step (the inferencer decodes itself)."""
        steps = list(cfg.test_dataloader.dataset.pipeline)
        at = next((i for i, s in enumerate(steps) if str(s.get('type', '')).endswith('Decode')),
                  None)
        if at is None:
            raise ValueError(f'{name}: the test pipeline has no decoding step (e.g. '
                             'VideoOrFramesDecode) after which frames could be fed')
        return Compose([TRANSFORMS.build(dict(step)) for step in steps[at + 1:]])

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
        """→ (name, total frames, fps, read(indices) → list of RGB frames, frame times [T + 1]
        in seconds from the video's timestamps, or None)."""
        if isinstance(source, str):
            key = 'frame_dir' if osp.isdir(source) else 'filename'
            results = VideoOrFramesInit().transform({key: source})
            decode = VideoOrFramesDecode()
            times = None
            if 'video_reader' in results:
                if fps is None:
                    fps = float(results['video_reader'].get_avg_fps())
                times = VideoFrames(source).frame_times()

            def read(indices):
                out = decode.transform(dict(results, frame_inds=np.asarray(indices)))
                return out['imgs']
            return source, results['total_frames'], fps, read, times
        frames = source if isinstance(source, np.ndarray) else list(source)
        if len(frames) == 0:
            raise ValueError('no frames given')
        return '<array>', len(frames), fps, lambda indices: [frames[i] for i in indices], None

    def _pack(self, clip: List[np.ndarray], inds: Sequence[int]) -> dict:
        """One clip of RGB frames -> the test pipeline's packed result (``inputs``,
        ``data_samples``), as if decoded by ``VideoOrFramesDecode``."""
        imgs = [as_rgb(img) for img in clip]
        h, w = imgs[0].shape[:2]
        return self.pipeline(dict(imgs=imgs, frame_inds=np.asarray(inds), clip_len=len(imgs),
                                  num_clips=1, frame_interval=None, total_frames=len(imgs),
                                  original_shape=(h, w), img_shape=(h, w), modality='RGB',
                                  start_index=0))

    def preprocess_frames(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB frames (``HxWx3`` uint8, any size) -> the backbone's input ``[B, 3, H, W]`` on the
        model's device: the config's test pipeline after decoding, then the model's data
        preprocessor (PyTorch backend only). Each frame's result does not depend on the others,
        so frames may be preprocessed one by one or per clip (the streaming engine does)."""
        if self.backend != 'pytorch':
            raise ValueError('preprocess_frames needs the pytorch backend (the ONNX export '
                             'preprocesses whole clips inside ONNXModel.run)')
        packed = self._pack(list(frames), range(len(frames)))
        data = self.model.data_preprocessor(
            dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
        return data['inputs'][0].to(self.device)

    @torch.no_grad()
    def _forward(self, clips: List[List[np.ndarray]]):
        """Clips of RGB frames -> (probabilities [N, K], frame weights [N, n, J], snippet
        attention [N, n]) as numpy, with either backend."""
        if self.backend == 'onnxruntime':
            return self.onnx.run(clips)
        inputs = torch.stack([self.preprocess_frames(clip) for clip in clips])  # [N, F, 3, H, W]
        logits, weights, attn = self.model.forward_explain(inputs)
        return (logits.softmax(-1).cpu().numpy(), weights.cpu().numpy(), attn.cpu().numpy())

    def window_indices(self, num_frames: int) -> List[tuple]:
        """For each window: (start, end, the 35 sampled frame indices of the source)."""
        geometry = self.sampler.geometry
        return [(s, e, s + geometry.test_indices(e - s)) for s, e in self.windows(num_frames)]

    def __call__(self, source: FrameSource, fps: Optional[float] = None) -> VideoResult:
        """Predict on a video file, a frame folder or frames ([T, H, W, 3] uint8 RGB)."""
        name, total, fps, read, times = self._open(source, fps)
        return self.predict(read, total, fps, name, times)

    @torch.no_grad()
    def predict(self, read, num_frames: int, fps: Optional[float] = None,
                name: str = '<frames>', times: Optional[Sequence[float]] = None) -> VideoResult:
        """Predict from ``read(indices) → list of RGB frames`` over a source of ``num_frames``;
        only the sampled frames are read (e.g. face crops made for just those frames). Window
        times come from ``times`` ([num_frames + 1] seconds: when each frame starts, then when
        the last ends; right for a variable frame rate), else from ``fps``."""
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
                    start_time=_time(s, fps, times), end_time=_time(e, fps, times)))
        overall = np.mean([r.scores for r in results], axis=0)
        label = int(overall.argmax())
        return VideoResult(source=name, num_frames=num_frames, fps=fps, classes=self.classes,
                           scores=overall.tolist(), label=label, label_name=self.classes[label],
                           windows=results)
