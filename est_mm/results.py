"""What EST's inference emits, for the offline inferencer (:mod:`est_mm.apis.inference`) and the
streaming engine (:mod:`est_mm.streaming`) alike: one window (:class:`WindowResult`), one window
of one face track (:class:`WindowRecord`, a JSON Lines record) and a whole source
(:class:`VideoResult`). Plain dataclasses below both packages (no torch)."""
from dataclasses import asdict, dataclass, field
from typing import List, Optional

__all__ = ['WindowResult', 'WindowRecord', 'VideoResult']


@dataclass
class WindowResult:
    """One EST window: frames [start, end) of the source, its 35 sampled frames and the outputs.
    ``start_time``: when frame ``start`` begins (seconds); ``end_time``: when frame ``end``
    begins (for a window that ends with the source, when its last frame ends), as a file's
    timestamps tell; None where they are unknown. A :class:`WindowRecord` has its own rule."""
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
class WindowRecord(WindowResult):
    """One window of one ``track``: :class:`WindowResult`'s fields (frames ``[start, end)``,
    the ``n·J`` sampled frames, the outputs). ``end_time`` is the last frame's timestamp plus
    its gap to the frame before (``end / fps`` at a constant rate), as a live source cannot
    know the next frame's; None where a timestamp is unknown."""
    track: int = 0

    def to_dict(self) -> dict:
        """The JSON Lines record: ``track`` first, then the window's fields."""
        data = asdict(self)
        return dict(track=data.pop('track'), **data)


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
