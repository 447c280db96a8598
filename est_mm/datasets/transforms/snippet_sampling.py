from operator import attrgetter
from typing import Dict, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

from ...snippet_geometry import SnippetGeometry


def _source_name(results: Dict) -> str:
    return str(results.get('frame_dir') or results.get('filename') or '<unnamed sample>')


@TRANSFORMS.register_module()
class SnippetSampling(BaseTransform):
    """Sample the frames of ``num_snippets`` expression snippets (EST paper §4.2): a transform
    over :class:`est_mm.snippet_geometry.SnippetGeometry` (``self.geometry``; its fields are also
    read-only attributes of the transform).

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
        self.geometry = SnippetGeometry(
            num_snippets=num_snippets, frames_per_snippet=frames_per_snippet,
            snippet_len=snippet_len, snippet_stride=snippet_stride, unified_len=unified_len,
            max_start=max_start, test_start=test_start, test_offsets=test_offsets)
        self.test_mode = bool(test_mode)

    @property
    def clip_len(self) -> int:
        return self.geometry.clip_len

    def unified_indices(self) -> np.ndarray:
        """Indices into the unified video, shape ``(num_snippets, frames_per_snippet)``."""
        if self.test_mode:
            return self.geometry.test_unified()
        return self.geometry.train_unified()

    def to_original(self, unified: np.ndarray, total_frames: int) -> np.ndarray:
        """Map unified indices to 0-based frame indices of a ``total_frames``-long video."""
        return self.geometry.to_original(unified, total_frames)

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


for _field in SnippetGeometry.field_names():
    setattr(SnippetSampling, _field,
            property(attrgetter(f'geometry.{_field}'), doc=f'``self.geometry.{_field}``'))
del _field
