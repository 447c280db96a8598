"""Simulated missing frames for robustness tests (EST paper Table 9)."""
from typing import Dict

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

POSITIONS = ('middle', 'start', 'end')


@TRANSFORMS.register_module()
class ZeroFillFrames(BaseTransform):
    """Zero ``num_frames`` consecutive frames of the sampled clip, so the model cannot use them.

    The paper (§4.4.2, Table 9) zero-pads the frames in the middle of a video and compares EST with
    and without SSOP. Put this step after the decoder (``VideoOrFramesDecode``), before ``Resize``,
    in a test pipeline. Frames ``[s, s + num_frames)`` of the ``F`` sampled frames (``imgs``, in
    ``frame_inds`` order) become black images, where ``s = (F - num_frames) // 2`` for
    ``position='middle'``, 0 for ``'start'`` and ``F - num_frames`` for ``'end'``. With the
    paper's normaliser (mean 0, std 255) a black frame is an all-zero network input.

    Required keys: ``imgs`` (list of HxWxC arrays). Modified keys: ``imgs``.
    Added keys: ``zero_filled`` (the zeroed positions, int64 array).

    Args:
        num_frames (int): How many sampled frames to zero (0 = no change). Must not exceed the
            clip's frame count. Defaults to 0.
        position (str): ``'middle'``, ``'start'`` or ``'end'``. Defaults to ``'middle'``.
    """

    def __init__(self, num_frames: int = 0, position: str = 'middle') -> None:
        if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool) \
                or num_frames < 0:
            raise ValueError(f'ZeroFillFrames: num_frames must be an integer >= 0, '
                             f'got {num_frames!r}')
        if position not in POSITIONS:
            raise ValueError(f'ZeroFillFrames: position must be one of {POSITIONS}, '
                             f'got {position!r}')
        self.num_frames = int(num_frames)
        self.position = position

    def positions(self, total: int) -> np.ndarray:
        """The zeroed indices among ``total`` sampled frames."""
        k = self.num_frames
        if k > total:
            raise ValueError(f'ZeroFillFrames: num_frames ({k}) exceeds the {total} sampled '
                             f'frames')
        start = {'middle': (total - k) // 2, 'start': 0, 'end': total - k}[self.position]
        return np.arange(start, start + k, dtype=np.int64)

    def transform(self, results: Dict) -> Dict:
        if 'imgs' not in results:
            raise KeyError('ZeroFillFrames: results has no decoded imgs (put it after the '
                           'decoder, e.g. VideoOrFramesDecode)')
        imgs = list(results['imgs'])
        zeroed = self.positions(len(imgs))
        for i in zeroed.tolist():
            imgs[i] = np.zeros_like(imgs[i])  # a new array: repeated frames stay untouched
        results['imgs'] = imgs
        results['zero_filled'] = zeroed
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_frames={self.num_frames}, '
                f'position={self.position!r})')
