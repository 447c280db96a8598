"""Snippet geometry of EST (paper §4.2): which frames of a video form the expression snippets.

:class:`SnippetGeometry` is the one implementation of the frame indices that training, testing,
inference, ONNX deployment and the timeline plots use. This file imports numpy only (no torch,
mmcv or mmengine), so it can also be loaded on its own by path, e.g. next to
``est_mm/deploy/onnx_backend.py`` on a machine without torch. (``import est_mm.snippet_geometry``
still runs ``est_mm/__init__.py``, which imports torch.)

Every video (``total_frames >= 1``) is first unified to ``unified_len`` frames by index mapping,
unified ``u`` -> original ``min(floor(u * total_frames / unified_len), total_frames - 1)``, which
repeats the frames of short videos and subsamples long ones. Window ``k`` of the unified video
starts at ``start + k * snippet_stride`` and spans ``snippet_len`` frames.

- Training: ``start`` is uniform in ``[0, max_start]``; each window contributes
  ``frames_per_snippet`` distinct random frames, kept in temporal order.
- Test: ``start = test_start`` and each window contributes the frames at ``test_offsets``.
"""
import dataclasses
from dataclasses import dataclass
from typing import Mapping, Tuple

import numpy as np

__all__ = ['SnippetGeometry']


@dataclass(frozen=True)
class SnippetGeometry:
    """The snippet sampling settings, validated (the keyword arguments of ``SnippetSampling``).

    Args:
        num_snippets: Snippets per clip, ``n``.
        frames_per_snippet: Frames per snippet, ``J``.
        snippet_len: Window length in unified frames.
        snippet_stride: Distance between window starts (10 with length 15: overlap 5).
        unified_len: Length every video is mapped to.
        max_start: Largest random start in training, inclusive (official ``randint(0, 29)``).
        test_start: Start at test time.
        test_offsets: Frames taken from each window at test time, strictly increasing.
    """
    num_snippets: int = 7
    frames_per_snippet: int = 5
    snippet_len: int = 15
    snippet_stride: int = 10
    unified_len: int = 105
    max_start: int = 29
    test_start: int = 15
    test_offsets: Tuple[int, ...] = (0, 3, 6, 9, 12)

    def __post_init__(self) -> None:
        for name, low in (('num_snippets', 1), ('frames_per_snippet', 1), ('snippet_len', 1),
                          ('snippet_stride', 1), ('unified_len', 1), ('max_start', 0),
                          ('test_start', 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f'SnippetSampling: {name} must be an integer >= {low}, '
                                 f'got {value!r}')
            object.__setattr__(self, name, int(value))
        if self.frames_per_snippet > self.snippet_len:
            raise ValueError(f'SnippetSampling: frames_per_snippet ({self.frames_per_snippet}) '
                             f'must be <= snippet_len ({self.snippet_len}) to pick distinct frames')
        span = self.span
        for name, start in (('max_start', self.max_start), ('test_start', self.test_start)):
            if start + span > self.unified_len:
                raise ValueError(
                    f'SnippetSampling: {name} ({start}) + span of {self.num_snippets} windows '
                    f'({span}) = {start + span} exceeds unified_len ({self.unified_len})')
        offsets = tuple(int(o) for o in self.test_offsets)
        object.__setattr__(self, 'test_offsets', offsets)
        if len(offsets) != self.frames_per_snippet:
            raise ValueError(f'SnippetSampling: test_offsets {offsets} must have '
                             f'frames_per_snippet ({self.frames_per_snippet}) entries')
        if any(o < 0 or o >= self.snippet_len for o in offsets):
            raise ValueError(f'SnippetSampling: test_offsets {offsets} must lie in '
                             f'[0, snippet_len={self.snippet_len})')
        if any(b <= a for a, b in zip(offsets, offsets[1:])):
            raise ValueError(f'SnippetSampling: test_offsets {offsets} must be strictly '
                             f'increasing')

    @classmethod
    def field_names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, d: Mapping) -> 'SnippetGeometry':
        """From a ``SnippetSampling`` config dict or ONNX metadata; ``type`` and ``test_mode``
        are ignored, other unknown keys raise ``TypeError``."""
        kwargs = {k: v for k, v in d.items() if k not in ('type', 'test_mode')}
        unknown = sorted(set(kwargs) - set(cls.field_names()))
        if unknown:
            raise TypeError(f'SnippetGeometry: unknown keys {unknown}; expected some of '
                            f'{list(cls.field_names())}')
        return cls(**kwargs)

    def to_dict(self) -> dict:
        """The fields as plain JSON-able values (``test_offsets`` as a list)."""
        d = dataclasses.asdict(self)
        d['test_offsets'] = list(self.test_offsets)
        return d

    @property
    def clip_len(self) -> int:
        """Frames per clip, ``T = num_snippets * frames_per_snippet``."""
        return self.num_snippets * self.frames_per_snippet

    @property
    def span(self) -> int:
        """Unified frames from the first window's start to the last window's end."""
        return (self.num_snippets - 1) * self.snippet_stride + self.snippet_len

    def _window_starts(self) -> np.ndarray:
        return np.arange(self.num_snippets) * self.snippet_stride

    def test_unified(self) -> np.ndarray:
        """Test-time indices into the unified video, int64
        ``[num_snippets, frames_per_snippet]``."""
        offsets = np.asarray(self.test_offsets, dtype=np.int64)
        return self.test_start + self._window_starts()[:, None] + offsets[None, :]

    def train_unified(self, rng=None) -> np.ndarray:
        """One random training draw of indices into the unified video, int64
        ``[num_snippets, frames_per_snippet]``.

        ``rng``: ``np.random`` (default: numpy's global stream, as the official code) or a
        ``np.random.RandomState``. It is called as ``randint(0, max_start + 1)`` once, then
        ``choice(snippet_len, frames_per_snippet, replace=False)`` per snippet."""
        rng = np.random if rng is None else rng
        start = rng.randint(0, self.max_start + 1)
        offsets = np.stack([
            np.sort(rng.choice(self.snippet_len, self.frames_per_snippet, replace=False))
            for _ in range(self.num_snippets)
        ])
        return start + self._window_starts()[:, None] + offsets

    def to_original(self, unified, total_frames: int) -> np.ndarray:
        """Unified indices (any shape) -> 0-based int64 frame indices of a ``total_frames``-long
        video, same shape."""
        total_frames = int(total_frames)
        if total_frames < 1:
            raise ValueError(f'need at least 1 frame, got {total_frames}')
        inds = (np.asarray(unified, dtype=np.int64) * total_frames) // self.unified_len
        return np.minimum(inds, total_frames - 1)

    def test_indices(self, total_frames: int) -> np.ndarray:
        """The ``T`` test-time frame indices of a ``total_frames``-long video, int64 ``[T]``,
        snippet after snippet."""
        return self.to_original(self.test_unified().reshape(-1), total_frames)

    def test_spans(self, total_frames: int) -> np.ndarray:
        """Frame ranges ``[a, b)`` of a ``total_frames``-long video that each test-time window
        covers, int64 ``[num_snippets, 2]``; every range holds at least one frame."""
        total_frames = int(total_frames)
        if total_frames < 1:
            raise ValueError(f'need at least 1 frame, got {total_frames}')
        starts = self.test_start + self._window_starts()
        lo = (starts * total_frames) // self.unified_len
        hi = np.maximum(((starts + self.snippet_len) * total_frames) // self.unified_len, lo + 1)
        return np.stack([lo, np.minimum(hi, total_frames)], axis=1).astype(np.int64)
