"""EST on one face track as its frames arrive: each sampled frame through the backbone once, each
snippet through AA-SFE once, the Transformer once per window, memory bounded by one window.

The engine computes through a *parts* object (:class:`TorchParts` for a PyTorch model,
:class:`~est_mm.deploy.onnx_backend.ONNXParts` for an ONNX export) with ``preprocess(crops)``,
``frames(crops) -> [B, C]``, ``snippets([S, J, C]) -> (R [S, d], weights [S, J])``,
``window([1, n, d]) -> (probabilities [K], snippet attention [n])`` and ``windows([B, n, d])``
(the same for B windows), all numpy float32.

The engine's work is written as *steps*: generators that yield ``(part name, input)`` and
receive that part's output. :func:`run_steps` answers them one call at a time (one track);
:func:`run_batched` answers the steps of several tracks together, one ``frames``, one
``snippets`` and one ``windows`` call per round for all of them, which is how
:class:`~est_mm.streaming.tracks.TrackStreams` sends every face of a frame through the backbone in
one batch."""
import copy
from collections import deque
from typing import Callable, Dict, Generator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..results import WindowRecord
from ..snippet_geometry import SnippetGeometry

#: frames (HxWx3 uint8 RGB) -> normalised backbone input [B, 3, H, W]
Preprocess = Callable[[List[np.ndarray]], torch.Tensor]
#: the engine's work: yields (part name, input), receives the part's output, returns its value
Steps = Generator[Tuple[str, object], object, object]


def run_steps(parts, steps: Steps):
    """Answers each request of ``steps`` with one call of ``parts``; returns the steps' value."""
    try:
        name, arg = next(steps)
        while True:
            name, arg = steps.send(getattr(parts, name)(arg))
    except StopIteration as stop:
        return stop.value


def _batched_call(parts, name: str, args: List[object]) -> List[object]:
    """``parts.<name>`` on several requests in one call, split back per request: ``frames``
    (crop lists), ``snippets`` (``[S, J, C]`` arrays) and ``window`` (``[1, n, d]`` arrays of
    one ``n``, through ``parts.windows``)."""
    if len(args) == 1 or (name == 'window' and len({a.shape for a in args}) > 1):
        return [getattr(parts, name)(a) for a in args]
    if name == 'window':
        return list(zip(*parts.windows(np.concatenate(args))))
    sizes = np.cumsum([len(a) for a in args])[:-1]
    if name == 'frames':
        return np.split(parts.frames([crop for a in args for crop in a]), sizes)
    if name == 'snippets':
        R, weights = parts.snippets(np.concatenate(args))
        return list(zip(np.split(R, sizes), np.split(weights, sizes)))
    raise ValueError(f'run_batched: unknown part {name!r}')


def run_batched(parts, all_steps: Sequence[Steps]) -> List[object]:
    """The steps of several engines side by side: each round gathers every engine's pending
    request and answers those for the same part together (:func:`_batched_call`). Each engine
    gets what :func:`run_steps` would give it (the same computation, in larger batches).
    Returns the steps' values in order."""
    values: List[object] = [None] * len(all_steps)
    pending: Dict[int, Tuple[str, object]] = {}

    def advance(i, answer=None, first=False):
        try:
            pending[i] = next(all_steps[i]) if first else all_steps[i].send(answer)
        except StopIteration as stop:
            pending.pop(i, None)
            values[i] = stop.value

    for i in range(len(all_steps)):
        advance(i, first=True)
    while pending:
        by_part: Dict[str, List[int]] = {}
        for i, (name, _) in pending.items():
            by_part.setdefault(name, []).append(i)
        for name, ids in by_part.items():
            answers = _batched_call(parts, name, [pending[i][1] for i in ids])
            for i, answer in zip(ids, answers):
                advance(i, answer)
    return values


def inferencer_preprocess(inferencer) -> Preprocess:
    """The preprocessing of a PyTorch :class:`~est_mm.apis.inference.ESTInferencer` (its config's
    test pipeline after decoding, then the model's data preprocessor) for single frames: crops of
    any size -> ``[B, 3, H, W]`` on the model's device. Raises ValueError for an ONNX inferencer
    (its parts preprocess themselves, see :func:`inferencer_parts`) or a pipeline step that works
    on whole clips (``ZeroFillFrames`` with ``num_frames > 0``)."""
    if getattr(inferencer, 'backend', 'pytorch') != 'pytorch':
        raise ValueError('inferencer_preprocess needs the pytorch backend; the ONNX part graphs '
                         'preprocess themselves (inferencer_parts)')
    for step in getattr(inferencer.pipeline, 'transforms', []):
        if type(step).__name__ == 'ZeroFillFrames' and getattr(step, 'num_frames', 0):
            raise ValueError('streaming cannot apply ZeroFillFrames (it zeroes frames of a whole '
                             "clip); use a config without it")
    return inferencer.preprocess_frames


def snippet_neck(neck):
    """A view of an :class:`~est_mm.models.necks.AASFE` with one snippet per clip (the same
    modules, weights and mode; ``neck`` is unchanged): ``[B, J, C]`` -> ``(R [B, 1, d], weights
    [B, 1, J])``, each snippet on its own, as the full neck computes it within a clip."""
    view = copy.copy(neck)  # shares the submodules and parameters
    view.num_snippets = 1
    return view


class TorchParts:
    """The engine's computation with a PyTorch ``ESTRecognizer`` (eval mode): its
    ``frame_features``, :func:`snippet_neck` and head, under ``torch.no_grad``, numpy in and out.

    Args:
        model: the recognizer (``frame_features``, ``neck``, ``cls_head``).
        preprocess: frames -> normalised input ``[B, 3, H, W]`` on the model's device
            (:func:`inferencer_preprocess`).
    """

    def __init__(self, model, preprocess: Preprocess):
        self.model, self.preprocess = model, preprocess

    def _device(self):
        return next(self.model.parameters()).device

    def frames(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Frames (``HxWx3`` RGB, any size) -> backbone features ``[B, C]``."""
        with torch.no_grad():
            return self.model.frame_features(self.preprocess(list(crops))).cpu().numpy()

    def snippets(self, feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Frame features ``[S, J, C]`` -> (R ``[S, d]``, AA-SFE weights ``[S, J]``)."""
        with torch.no_grad():
            R, w = snippet_neck(self.model.neck)(torch.from_numpy(feats).to(self._device()),
                                                 return_weights=True)
        return R[:, 0].cpu().numpy(), w[:, 0].cpu().numpy()

    def window(self, R: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Snippet features ``[1, n, d]`` -> (probabilities ``[K]``, snippet attention ``[n]``)."""
        probs, attn = self.windows(R)
        return probs[0], attn[0]

    def windows(self, R: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Snippet features ``[B, n, d]`` of B windows -> (probabilities ``[B, K]``, snippet
        attention ``[B, n]``)."""
        head = self.model.cls_head
        with torch.no_grad():
            T, attn = head.encode(torch.from_numpy(R).to(self._device()))
            probs = head.classifier(T).softmax(-1)
        return probs.cpu().numpy(), attn.cpu().numpy()


def inferencer_parts(inferencer):
    """The engine's parts for an :class:`~est_mm.apis.inference.ESTInferencer`: its PyTorch model
    (:class:`TorchParts`) or, with ``backend='onnxruntime'``, the part graphs next to its
    ``.onnx`` file (:meth:`~est_mm.deploy.onnx_backend.ONNXModel.parts`; ValueError, one line,
    when they are missing or do not match)."""
    if getattr(inferencer, 'backend', 'pytorch') == 'onnxruntime':
        return inferencer.onnx.parts()
    return TorchParts(inferencer.model, inferencer_preprocess(inferencer))


class StreamingEST:
    """EST for ONE track, fed frame by frame (:meth:`push`), emitting a :class:`WindowRecord` as
    soon as the last frame of a window is pushed.

    Windows are ``window`` frames long and start at ``origin + m·stride`` (``origin``: the first
    pushed frame); window ``s`` samples frames ``s + geometry.test_indices(window)`` as
    :meth:`ESTInferencer.window_indices` does, i.e. ``s + 15 + 10k + {0, 3, 6, 9, 12}`` for
    snippet ``k`` with the paper's sampling and ``window = 105``. Per-frame backbone features
    (``[C]``) are cached by frame index, snippet features (``R [d]`` and AA-SFE weights ``[J]``) by
    their frame indices, so with ``stride`` a multiple of ``snippet_stride`` (default: one snippet
    step) each new window costs one new snippet: ``J`` frames through the backbone. A snippet's
    frames go through the backbone in one batch as soon as its last frame arrives, so the work
    follows the stream and a window only adds the Transformer; no frame is embedded twice. When a
    track ends, snippets of windows it never completes may have been embedded for nothing (with
    stride 10 at most two). What no future window can use is dropped: at most ``n·J`` frame
    features, ``n`` snippet features (``n + 1`` while the next window's new snippet waits for its
    last frame) and ``J`` waiting crops are held (with ``keep_tail`` also the last ``window``
    frames' crops and features).

    ``keep_tail=True`` also keeps the crops of the last ``window`` frames so that :meth:`finish`
    can add the inferencer's last window ``[N - window, N)`` (when the grid misses the end) or,
    for a track shorter than a window, its one short window; then every frame needs a crop.

    Args:
        parts: what computes: :class:`TorchParts` or
            :class:`~est_mm.deploy.onnx_backend.ONNXParts` (:func:`inferencer_parts`).
        geometry: the test-time snippet sampling (``spec.sampling``).
        classes: class names, index = output column.
        track: the track id written into each record.
        window: frames per window (default ``geometry.unified_len``).
        stride: frames between window starts (default ``geometry.snippet_stride``).
        keep_tail: see above.
    """

    def __init__(self, parts, geometry: SnippetGeometry, classes: Sequence[str],
                 track: int = 0, window: Optional[int] = None,
                 stride: Optional[int] = None, keep_tail: bool = False):
        self.parts = parts
        self.geometry = geometry
        self.classes = list(classes)
        self.preprocess = parts.preprocess
        self.track = track
        self.window = int(window or geometry.unified_len)
        self.stride = int(stride or geometry.snippet_stride)
        for name, value in (('window', self.window), ('stride', self.stride)):
            if value < 1:
                raise ValueError(f'StreamingEST: {name} must be >= 1, got {value}')
        self.keep_tail = bool(keep_tail)
        n, J = geometry.num_snippets, geometry.frames_per_snippet
        self._rel = geometry.test_indices(self.window).reshape(n, J)  # [n, J] within a window
        self._offsets = np.unique(self._rel).tolist()
        self.origin: Optional[int] = None
        self.last: Optional[int] = None
        self._next = 0  # m of the next grid window
        self._last_end: Optional[int] = None  # end of the last emitted window
        self._crops: Dict[int, np.ndarray] = {}  # needed frames not yet embedded
        self._tail: deque = deque(maxlen=self.window)  # (idx, crop) with keep_tail
        self._feats: Dict[int, np.ndarray] = {}  # frame -> [C]
        self._snippets: Dict[Tuple[int, ...], Tuple[np.ndarray, np.ndarray]] = {}  # R, weights
        self._times: Dict[int, Optional[float]] = {}
        self.frames_embedded = 0
        self.windows_emitted = 0
        self.windows_skipped = 0  # windows with a needed frame that had no crop

    @classmethod
    def from_inferencer(cls, inferencer, track: int = 0, window: Optional[int] = None,
                        stride: Optional[int] = None, keep_tail: bool = False,
                        parts=None) -> 'StreamingEST':
        """An engine with ``inferencer``'s backend (PyTorch or ONNX Runtime,
        :func:`inferencer_parts`; or ``parts`` made by it already), sampling and classes (window
        default: the inferencer's; stride default: one snippet step)."""
        return cls(parts or inferencer_parts(inferencer), inferencer.spec.sampling,
                   inferencer.classes, track=track, window=window or inferencer.window,
                   stride=stride, keep_tail=keep_tail)

    # ------------------------------------------------------------------ which frames
    def needs(self, idx: int) -> bool:
        """Whether frame ``idx`` must be pushed with a crop (always, with ``keep_tail``)."""
        if self.keep_tail:
            return True
        r = idx - (self.origin if self.origin is not None else idx)
        return any(r >= o and (r - o) % self.stride == 0 for o in self._offsets)

    def _start(self, m: int) -> int:
        return self.origin + m * self.stride

    @property
    def cache_sizes(self) -> Dict[str, int]:
        """How many entries are held: frame features, snippet features, waiting crops, kept
        tail crops, timestamps."""
        return dict(frames=len(self._feats), snippets=len(self._snippets),
                    crops=len(self._crops), tail=len(self._tail), times=len(self._times))

    # ------------------------------------------------------------------ feeding
    def push(self, idx: int, timestamp: Optional[float] = None,
             crop: Optional[np.ndarray] = None) -> List[WindowRecord]:
        """Frame ``idx`` (strictly increasing; skipped indices count as frames without a crop)
        at ``timestamp`` seconds, with its face crop (HxWx3 uint8 RGB) when :meth:`needs` says
        so. Returns the windows this frame completes (usually zero or one)."""
        return run_steps(self.parts, self.push_steps(idx, timestamp, crop))

    def push_steps(self, idx: int, timestamp: Optional[float] = None,
                   crop: Optional[np.ndarray] = None) -> Steps:
        """:meth:`push` as steps (:func:`run_steps`, :func:`run_batched`)."""
        idx = int(idx)
        if self.last is not None and idx <= self.last:
            raise ValueError(f'StreamingEST: frame {idx} pushed after frame {self.last}; frames '
                             'must come in increasing order')
        if self.origin is None:
            self.origin = idx
        out = []
        for j in range(idx if self.last is None else self.last + 1, idx + 1):
            self._times[j] = timestamp if j == idx else None
            if j == idx and crop is not None:
                if self._grid_needs(j):
                    self._crops[j] = crop
                    yield from self._compute(self._snippets_ending_at(j))
                if self.keep_tail:
                    self._tail.append((j, crop))
            self.last = j
            while self._start(self._next) + self.window - 1 <= j:
                out.extend((yield from self._emit(self._start(self._next), self.window)))
                self._next += 1
                self._prune()
        return out

    def _snippets_ending_at(self, idx: int) -> List[Tuple[int, ...]]:
        """The grid snippets whose last frame is ``idx``."""
        keys = []
        for row in self._rel:
            s = idx - int(row[-1])
            if s >= self.origin and (s - self.origin) % self.stride == 0:
                keys.append(tuple((s + row).tolist()))
        return keys

    def _grid_needs(self, idx: int) -> bool:
        r = idx - self.origin
        return any(r >= o and (r - o) % self.stride == 0 for o in self._offsets)

    def finish(self) -> List[WindowRecord]:
        """The end of the track. With ``keep_tail``: the inferencer's last window (or the one
        short window of a track shorter than ``window``) when the grid did not end there."""
        return run_steps(self.parts, self.finish_steps())

    def finish_steps(self) -> Steps:
        """:meth:`finish` as steps (:func:`run_steps`, :func:`run_batched`)."""
        if not self.keep_tail or self.last is None:
            return []
        total = self.last - self.origin + 1
        if total >= self.window and self._last_end == self.last + 1:
            return []
        length = min(total, self.window)
        start = self.last + 1 - length
        kept = dict(self._tail)
        rel = self.geometry.test_indices(length).reshape(self._rel.shape)
        for j in np.unique(start + rel).tolist():
            if j in kept and j not in self._feats:
                self._crops[j] = kept[j]
        return (yield from self._emit(start, length, rel))

    # ------------------------------------------------------------------ computing
    def _embed(self, frames: List[int]) -> Steps:
        todo = [j for j in frames if j not in self._feats]
        if not todo:
            return
        feats = yield 'frames', [self._crops.pop(j) for j in todo]
        self.frames_embedded += len(todo)
        self._feats.update(zip(todo, feats))

    def _compute(self, keys: List[Tuple[int, ...]]) -> Steps:
        """Snippet features of ``keys`` not cached yet (their frames' backbone features first,
        in one batch); False if a frame has neither a feature nor a crop."""
        new = list(dict.fromkeys(k for k in keys if k not in self._snippets))
        frames = list(dict.fromkeys(j for k in new for j in k))
        if any(j not in self._feats and j not in self._crops for j in frames):
            return False
        if new:
            yield from self._embed(frames)
            x = np.stack([np.stack([self._feats[j] for j in k]) for k in new])
            R, weights = yield 'snippets', x
            self._snippets.update(zip(new, zip(R, weights)))
            if not self.keep_tail:  # the tail window may reuse any of the last frames
                for j in frames:
                    if not self._in_pending_snippet(j):
                        self._feats.pop(j, None)
        return True

    def _in_pending_snippet(self, idx: int) -> bool:
        """Whether a grid snippet of a future window that is not computed yet uses ``idx``."""
        first = self._start(self._next)
        for row in self._rel:
            for offset in row.tolist():
                s = idx - offset
                if s >= first and (s - self.origin) % self.stride == 0 and \
                        tuple((s + row).tolist()) not in self._snippets:
                    return True
        return False

    def _emit(self, start: int, length: int, rel: Optional[np.ndarray] = None) -> Steps:
        rel = self._rel if rel is None else rel
        inds = start + rel  # [n, J]
        keys = [tuple(row) for row in inds.tolist()]
        if not (yield from self._compute(keys)):
            self.windows_skipped += 1
            return []
        R = np.stack([self._snippets[k][0] for k in keys])[None]
        weights = np.stack([self._snippets[k][1] for k in keys])
        probs, attn = yield 'window', R
        label = int(probs.argmax())
        end = start + length
        self._last_end = end
        self.windows_emitted += 1
        return [WindowRecord(
            track=self.track, start=start, end=end, frame_inds=inds.ravel().tolist(),
            scores=probs.tolist(), label=label, label_name=self.classes[label],
            frame_weights=weights.tolist(), snippet_attention=attn.tolist(),
            start_time=self._times.get(start), end_time=self._end_time(end - 1))]

    def _end_time(self, last: int) -> Optional[float]:
        t, before = self._times.get(last), self._times.get(last - 1)
        if t is None:
            return None
        return t + (t - before) if before is not None else t

    def _prune(self) -> None:
        """Drops what no future window uses: grid windows from ``start(next)`` on, and with
        ``keep_tail`` the tail window within the last ``window`` frames (features, crops)."""
        grid = self._start(self._next) + min(self._offsets)
        floor = min(grid, self.last + 1 - self.window) if self.keep_tail else grid
        self._feats = {j: f for j, f in self._feats.items() if j >= floor}
        self._snippets = {k: v for k, v in self._snippets.items() if k[0] >= grid}
        self._crops = {j: c for j, c in self._crops.items() if j >= floor}
        keep_times = min(self._start(self._next), floor)
        self._times = {j: t for j, t in self._times.items() if j >= keep_times}
