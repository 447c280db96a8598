"""Streaming records -> the inferencer's :class:`~est_mm.results.VideoResult`, so a file run
through the streaming engine gets the same JSON, timeline and annotated video as
:class:`~est_mm.apis.inference.ESTInferencer`'s results."""
from typing import Optional, Sequence

import numpy as np

from ..results import VideoResult, WindowRecord, WindowResult


def video_result(records: Sequence[WindowRecord], source: str, num_frames: int,
                 fps: Optional[float], classes: Sequence[str]) -> VideoResult:
    """One track's records (in order) as a ``VideoResult``: the windows as ``WindowResult``
    and, as :meth:`ESTInferencer.predict`, the mean of their probabilities. Raises ValueError
    for no records or records of several tracks."""
    if not records:
        raise ValueError(f'{source}: no window results (the track is shorter than a window, or '
                         'every window missed a crop)')
    tracks = sorted({r.track for r in records})
    if len(tracks) > 1:
        raise ValueError(f'{source}: records of tracks {tracks}; pass one track at a time')
    windows = [WindowResult(**{k: v for k, v in r.to_dict().items() if k != 'track'})
               for r in records]
    overall = np.mean([w.scores for w in windows], axis=0)
    label = int(overall.argmax())
    return VideoResult(source=source, num_frames=int(num_frames), fps=fps,
                       classes=list(classes), scores=overall.tolist(), label=label,
                       label_name=list(classes)[label], windows=windows)
