"""One :class:`~est_mm.streaming.engine.StreamingEST` per face track, created when a track first
appears and dropped when it ends, so memory grows with the number of live tracks only. The
frames all tracks need at a step go through the backbone in one batch."""
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np

from .engine import StreamingEST, WindowRecord, inferencer_parts, run_batched, run_steps


class TimedParts:
    """``parts`` (:class:`~est_mm.streaming.engine.TorchParts` or ``ONNXParts``) with the
    seconds of each call added to ``timer``: backbone, aa_sfe, transformer."""

    def __init__(self, parts, timer):
        self.parts, self.timer = parts, timer

    def __getattr__(self, name):
        return getattr(self.parts, name)

    def frames(self, crops):
        with self.timer('backbone'):
            return self.parts.frames(crops)

    def snippets(self, feats):
        with self.timer('aa_sfe'):
            return self.parts.snippets(feats)

    def window(self, R):
        with self.timer('transformer'):
            return self.parts.window(R)

    def windows(self, R):
        with self.timer('transformer'):
            return self.parts.windows(R)


class TrackStreams:
    """Per-track engines made by ``make_engine(track_id)``; feed every decoded frame with the
    crops of the tracks present in it.

    With ``shared_batch`` (the default) the engines' work at a frame is answered together
    (:func:`~est_mm.streaming.engine.run_batched`): one backbone batch for the frames of every
    track whose snippet completes there, one AA-SFE batch for their snippets, one Transformer
    batch for their windows; each track's records are those of its engine alone. The engines
    must share ``parts`` (as :meth:`from_inferencer` makes them). ``shared_batch=False``: each
    engine computes on its own.

    Typical loop (an online tracker gives each frame's boxes by track id)::

        crops = {t: crop(frame, box) for t, box in boxes.items() if streams.needs(t, i)}
        crops.update({t: None for t in boxes if t not in crops})
        for record in streams.push(i, timestamp, crops):
            writer.write(record)
        for t in lost_tracks:
            writer.write_all(streams.end(t))
    """

    def __init__(self, make_engine: Callable[[int], StreamingEST], shared_batch: bool = True):
        self.make_engine = make_engine
        self.shared_batch = bool(shared_batch)
        self.engines: Dict[int, StreamingEST] = {}
        self._probe: Optional[StreamingEST] = None
        self._ended_embedded = 0
        self.short: Dict[int, int] = {}  # ended tracks that got no window -> their frame count

    @classmethod
    def from_inferencer(cls, inferencer, window: Optional[int] = None,
                        stride: Optional[int] = None, keep_tail: bool = False,
                        timer=None, shared_batch: bool = True) -> 'TrackStreams':
        """Engines with ``inferencer``'s backend, sampling and classes
        (:meth:`StreamingEST.from_inferencer`), sharing one parts object; ValueError (one line)
        here, before any frame, when the ONNX part graphs are missing or do not match.
        ``timer``: a :class:`~est_mm.utils.StageTimer` that gets the seconds of the three parts
        (``backbone`` with its preprocessing, ``aa_sfe``, ``transformer`` with the classifier)."""
        parts = inferencer_parts(inferencer)
        if timer is not None:
            parts = TimedParts(parts, timer)
        return cls(lambda track: StreamingEST.from_inferencer(
            inferencer, track=track, window=window, stride=stride, keep_tail=keep_tail,
            parts=parts), shared_batch=shared_batch)

    def needs(self, track: int, idx: int) -> bool:
        """Whether ``track`` needs a crop of frame ``idx`` (a new track starts at ``idx``)."""
        engine = self.engines.get(track)
        if engine is None:
            if self._probe is None:
                self._probe = self.make_engine(-1)
            engine = self._probe
        return engine.needs(idx)

    def push(self, idx: int, timestamp: Optional[float],
             crops: Mapping[int, Optional[np.ndarray]]) -> List[WindowRecord]:
        """Frame ``idx`` for each track in ``crops`` (track id -> its crop, or None where
        :meth:`needs` said no); a live track left out of a frame has no crop there. Returns the
        windows completed, track by track."""
        steps = []
        for track, crop in crops.items():
            engine = self.engines.get(track)
            if engine is None:
                engine = self.engines[track] = self.make_engine(track)
            steps.append((engine, engine.push_steps(idx, timestamp, crop)))
        return self._run(steps)

    def _run(self, steps) -> List[WindowRecord]:
        """Runs ``[(engine, its steps)]`` together or one after the other; the records in
        order."""
        if self.shared_batch and len(steps) > 1 and len({id(e.parts) for e, _ in steps}) == 1:
            values = run_batched(steps[0][0].parts, [s for _, s in steps])
        else:
            values = [run_steps(engine.parts, s) for engine, s in steps]
        return [record for records in values for record in records]

    def end(self, track: int) -> List[WindowRecord]:
        """The track is lost: its last window (with ``keep_tail``) and its engine is dropped."""
        return self._end([track])

    def _end(self, tracks: List[int]) -> List[WindowRecord]:
        engines = {t: self.engines.pop(t) for t in tracks if t in self.engines}
        records = self._run([(e, e.finish_steps()) for e in engines.values()])
        for track, engine in engines.items():
            self._ended_embedded += engine.frames_embedded
            if not engine.windows_emitted and engine.last is not None:
                self.short[track] = engine.last - engine.origin + 1
        return records

    def finish(self) -> List[WindowRecord]:
        """The source ended: :meth:`end` for every live track (their last windows together)."""
        return self._end(list(self.engines))

    @property
    def frames_embedded(self) -> int:
        """Frames through the backbone, all tracks together (ended ones too)."""
        return self._ended_embedded + sum(e.frames_embedded for e in self.engines.values())
