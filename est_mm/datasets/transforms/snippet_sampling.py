from typing import Dict, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS


def _source_name(results: Dict) -> str:
    return str(results.get('frame_dir') or results.get('filename') or '<unnamed sample>')


@TRANSFORMS.register_module()
class SnippetSampling(BaseTransform):
    """Sample the frames of ``num_snippets`` expression snippets (EST paper §4.2).

    Any video (``total_frames >= 1``) is first unified to ``unified_len`` frames by index mapping
    (unified index ``u`` -> original ``floor(u * total_frames / unified_len)``), which repeats the
    frames of short videos and subsamples long ones. Window ``k`` of the unified video starts at
    ``start + k * snippet_stride`` and spans ``snippet_len`` frames.

    - Training: ``start`` is uniform in ``[0, max_start]``; each window contributes
      ``frames_per_snippet`` distinct random frames, kept in temporal order.
    - Test: ``start = test_start`` and each window contributes the frames at ``test_offsets``.

    Required keys: ``total_frames``.
    Added keys: ``frame_inds`` (int64, ``num_snippets * frames_per_snippet`` 0-based indices into
    the original video, snippet after snippet), ``clip_len`` (= that length), ``num_clips`` (1),
    ``frame_interval`` (None).

    Args:
        num_snippets (int): Snippets per clip. Defaults to 7.
        frames_per_snippet (int): Frames per snippet. Defaults to 5.
        snippet_len (int): Window length in unified frames. Defaults to 15.
        snippet_stride (int): Distance between window starts. Defaults to 10 (overlap 5).
        unified_len (int): Length every video is mapped to. Defaults to 105.
        max_start (int): Largest random start in training (inclusive). Defaults to 29
            (official: ``randint(0, 29)``, 30 starts).
        test_start (int): Start in test mode. Defaults to 15.
        test_offsets (Sequence[int]): Frames taken from each window in test mode.
            Defaults to ``(0, 3, 6, 9, 12)``.
        test_mode (bool): Use the fixed test sampling. Defaults to False.
    """

    def __init__(self,
                 num_snippets: int = 7,
                 frames_per_snippet: int = 5,
                 snippet_len: int = 15,
                 snippet_stride: int = 10,
                 unified_len: int = 105,
                 max_start: int = 29,
                 test_start: int = 15,
                 test_offsets: Sequence[int] = (0, 3, 6, 9, 12),
                 test_mode: bool = False) -> None:
        for name, value, low in (('num_snippets', num_snippets, 1),
                                 ('frames_per_snippet', frames_per_snippet, 1),
                                 ('snippet_len', snippet_len, 1),
                                 ('snippet_stride', snippet_stride, 1),
                                 ('unified_len', unified_len, 1),
                                 ('max_start', max_start, 0),
                                 ('test_start', test_start, 0)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f'SnippetSampling: {name} must be an integer >= {low}, '
                                 f'got {value!r}')
        if frames_per_snippet > snippet_len:
            raise ValueError(f'SnippetSampling: frames_per_snippet ({frames_per_snippet}) must be '
                             f'<= snippet_len ({snippet_len}) to pick distinct frames')
        span = (num_snippets - 1) * snippet_stride + snippet_len
        for name, start in (('max_start', max_start), ('test_start', test_start)):
            if start + span > unified_len:
                raise ValueError(
                    f'SnippetSampling: {name} ({start}) + span of {num_snippets} windows '
                    f'({span}) = {start + span} exceeds unified_len ({unified_len})')
        test_offsets = tuple(int(o) for o in test_offsets)
        if len(test_offsets) != frames_per_snippet:
            raise ValueError(f'SnippetSampling: test_offsets {test_offsets} must have '
                             f'frames_per_snippet ({frames_per_snippet}) entries')
        if any(o < 0 or o >= snippet_len for o in test_offsets):
            raise ValueError(f'SnippetSampling: test_offsets {test_offsets} must lie in '
                             f'[0, snippet_len={snippet_len})')
        if any(b <= a for a, b in zip(test_offsets, test_offsets[1:])):
            raise ValueError(f'SnippetSampling: test_offsets {test_offsets} must be strictly '
                             f'increasing')
        self.num_snippets = int(num_snippets)
        self.frames_per_snippet = int(frames_per_snippet)
        self.snippet_len = int(snippet_len)
        self.snippet_stride = int(snippet_stride)
        self.unified_len = int(unified_len)
        self.max_start = int(max_start)
        self.test_start = int(test_start)
        self.test_offsets = test_offsets
        self.test_mode = bool(test_mode)

    @property
    def clip_len(self) -> int:
        return self.num_snippets * self.frames_per_snippet

    def unified_indices(self) -> np.ndarray:
        """Indices into the unified video, shape ``(num_snippets, frames_per_snippet)``."""
        window_starts = np.arange(self.num_snippets) * self.snippet_stride
        if self.test_mode:
            start = self.test_start
            offsets = np.broadcast_to(np.asarray(self.test_offsets),
                                      (self.num_snippets, self.frames_per_snippet))
        else:
            start = np.random.randint(0, self.max_start + 1)
            offsets = np.stack([
                np.sort(np.random.choice(self.snippet_len, self.frames_per_snippet, replace=False))
                for _ in range(self.num_snippets)
            ])
        return start + window_starts[:, None] + offsets

    def to_original(self, unified: np.ndarray, total_frames: int) -> np.ndarray:
        """Map unified indices to 0-based frame indices of a ``total_frames``-long video."""
        inds = (np.asarray(unified, dtype=np.int64) * total_frames) // self.unified_len
        return np.minimum(inds, total_frames - 1)

    def transform(self, results: Dict) -> Dict:
        total = results.get('total_frames')
        if total is None:
            raise KeyError(f'SnippetSampling: {_source_name(results)}: results has no '
                           f"'total_frames' (run a loader such as VideoOrFramesInit first)")
        if int(total) < 1:
            raise ValueError(f'SnippetSampling: {_source_name(results)} has {total} frames; '
                             f'need at least 1')
        unified = self.unified_indices().reshape(-1)
        results['frame_inds'] = self.to_original(unified, int(total)).astype(np.int64)
        results['clip_len'] = self.clip_len
        results['num_clips'] = 1
        results['frame_interval'] = None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'num_snippets={self.num_snippets}, '
                f'frames_per_snippet={self.frames_per_snippet}, '
                f'snippet_len={self.snippet_len}, '
                f'snippet_stride={self.snippet_stride}, '
                f'unified_len={self.unified_len}, '
                f'max_start={self.max_start}, '
                f'test_start={self.test_start}, '
                f'test_offsets={self.test_offsets}, '
                f'test_mode={self.test_mode})')
