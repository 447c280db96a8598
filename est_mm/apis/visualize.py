"""Pictures of a prediction: a timeline of class probabilities with the snippet attention marked
(in the spirit of paper Fig. 9), and an annotated copy of the video (face box + current label)."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from ..snippet_geometry import SnippetGeometry
from ..utils.files import atomic_write
from .inference import VideoResult


def _geometry(geometry) -> SnippetGeometry:
    """A SnippetGeometry, or the ``.geometry`` of a SnippetSampling / ONNXModel; None: the
    defaults (the paper's)."""
    if geometry is None:
        return SnippetGeometry()
    return geometry if isinstance(geometry, SnippetGeometry) else geometry.geometry


def snippet_spans(window, geometry=None):
    """Frame ranges [a, b) of the source covered by each snippet of a window (test sampling):
    ``num_snippets`` (start, end) pairs. ``geometry``: as :func:`plot_timeline`'s."""
    spans = _geometry(geometry).test_spans(window.end - window.start)
    return [(window.start + int(a), window.start + int(b)) for a, b in spans]


MAX_HEAT_COLUMNS, MAX_HEAT_ROWS = 1200, 150
TIMELINE_DPI = 110


def plot_timeline(result: VideoResult, path: str, geometry=None, title: Optional[str] = None,
                  times: Optional[np.ndarray] = None):
    """Writes :func:`timeline_figure` as a PNG at ``path`` (atomically) and returns ``path``."""
    import matplotlib.pyplot as plt
    fig = timeline_figure(result, geometry, title, times)
    try:
        with atomic_write(path, suffix='.png') as tmp:
            fig.savefig(tmp, dpi=TIMELINE_DPI)
    finally:
        plt.close(fig)
    return path


def timeline_figure(result: VideoResult, geometry=None, title: Optional[str] = None,
                    times: Optional[np.ndarray] = None):
    """The timeline as a matplotlib Figure, laid out (Agg): top, each class's probability per
    window over time (overall label in the title); bottom, the snippet attention of every window
    (rows 1..N) painted over the frames it covers. Both panels share one time axis, labelled on
    both; the colour bar has a column of its own, so it narrows neither panel.
    ``geometry``: the test-time snippet geometry, a SnippetGeometry or anything with a
    ``.geometry`` (the inferencer's SnippetSampling, an ONNXModel); None: the defaults.
    ``times``: the start of every frame and the end of the last, ``[num_frames + 1]`` seconds
    (from the video's timestamps, e.g. ``VideoFrames.frame_times()``); None: frame / fps, or
    frame numbers without an fps."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    total = max(result.num_frames, 1)
    unit = 's' if times is not None or result.fps else 'frame'
    if times is None:
        times = np.arange(total + 1) / (result.fps or 1.0)
    geometry = _geometry(geometry)
    fig = plt.figure(figsize=(11, 5.5), dpi=TIMELINE_DPI, layout='constrained')
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 1.3], width_ratios=[1, 0.015],
                            wspace=0.02)
    ax = fig.add_subplot(grid[0, 0])
    ax2 = fig.add_subplot(grid[1, 0], sharex=ax)
    _plot_probabilities(ax, result, times, plt.cm.tab10)
    ax.set_title(title or f'{osp.basename(result.source)}: {result.label_name} '
                 f'({100 * max(result.scores):.0f} %) — {len(result.windows)} window(s)')
    heat, row_edges, edges = _attention_heat(result, geometry, total)
    im = ax2.pcolormesh(times[edges], row_edges, np.ma.masked_invalid(heat), cmap='magma',
                        vmin=0, vmax=np.nanmax(heat) if np.isfinite(heat).any() else 1)
    _label_window_rows(ax2, len(result.windows))
    ax2.set_title(f'decoder attention over the {geometry.num_snippets} snippets of each window',
                  fontsize=9)
    ax.set_xlim(times[0], times[-1])
    for axes in (ax, ax2):  # the shared axis, labelled on both panels
        axes.tick_params(labelbottom=True)
        axes.set_xlabel(f'time ({unit})')
    fig.colorbar(im, cax=fig.add_subplot(grid[1, 1]))
    return fig


def _plot_probabilities(ax, result: VideoResult, times: np.ndarray, cmap) -> None:
    """Each class's probability per window at the window's centre, windows shaded by label."""
    centres = np.array([(times[w.start] + times[w.end]) / 2 for w in result.windows])
    scores = np.array([w.scores for w in result.windows])
    colours = cmap(np.arange(len(result.classes)) % 10)
    for k, name in enumerate(result.classes):
        ax.plot(centres, scores[:, k], '-o' if len(centres) < 40 else '-', ms=4, lw=1.8,
                color=colours[k], label=name)
    for k in range(len(result.classes)):  # each window shaded by its label, one artist a class
        spans = [(times[w.start], times[w.end] - times[w.start]) for w in result.windows
                 if w.label == k]
        if spans:
            ax.broken_barh(spans, (0, 1), color=colours[k], alpha=0.04, lw=0)
    ax.set_ylim(0, 1)
    ax.set_ylabel('probability')
    ax.legend(ncol=min(len(result.classes), 6), fontsize=8, loc='upper right', framealpha=0.8)
    ax.grid(alpha=0.3)


def _attention_heat(result: VideoResult, geometry: SnippetGeometry, total: int):
    """(heat [rows, columns], row edges in windows, column edges in frames): each snippet's
    weight over the frames it covers, one row per window, binned to at most MAX_HEAT_COLUMNS x
    MAX_HEAT_ROWS cells (about the axes' pixels), each the largest weight in it: windows x
    frames cells grew with the square of a video's length (10 minutes: +700 MB peak memory)."""
    edges = np.unique(np.linspace(0, total, min(total, MAX_HEAT_COLUMNS) + 1).astype(int))
    num = len(result.windows)
    row_edges = np.unique(np.linspace(0, num, min(num, MAX_HEAT_ROWS) + 1).astype(int))
    group = np.searchsorted(row_edges, np.arange(num), side='right') - 1
    heat = np.full((len(row_edges) - 1, len(edges) - 1), np.nan)
    row = np.empty(total)
    for r, w in enumerate(result.windows):
        row.fill(np.nan)
        for (a, b), att in zip(snippet_spans(w, geometry), w.snippet_attention):
            row[a:b] = np.fmax(row[a:b], att)
        heat[group[r]] = np.fmax(heat[group[r]], np.fmax.reduceat(row, edges[:-1]))
    return heat, row_edges, edges


def _label_window_rows(ax, num: int) -> None:
    """Rows 0..num of the attention map, window k in [k-1, k): ticks at the row centres labelled
    1..num (all up to 10 windows, else about 5 of them, the first and last included)."""
    import matplotlib.ticker as ticker
    if num <= 10:
        numbers = np.arange(1, num + 1)
    else:
        inner = ticker.MaxNLocator(nbins=4, integer=True).tick_values(1, num)
        inner = [k for k in inner if 1 + num * 0.15 < k < num * 0.85]  # apart from 1 and num
        numbers = np.array([1, *inner, num], dtype=int)
    ax.set_yticks(numbers - 0.5, [str(k) for k in numbers])
    ax.set_ylim(num, 0)
    ax.set_ylabel('window')


def frame_labels(result: VideoResult) -> list:
    """The label shown at each frame: that of the window whose centre is nearest."""
    centres = np.array([(w.start + w.end) / 2 for w in result.windows])
    idx = np.abs(np.arange(result.num_frames)[:, None] - centres[None]).argmin(1)
    return [result.windows[i] for i in idx]


def write_annotated_video(frames, path: str, fps: float, boxes: Optional[Sequence] = None,
                          labels: Optional[Sequence[str]] = None,
                          annotations: Optional[Sequence[Sequence]] = None):
    """Writes RGB ``frames`` (an iterable of HxWx3 uint8) as H.264 MP4 (PyAV) with face boxes and
    labels drawn: per frame either one ``boxes[i]`` + ``labels[i]``, or ``annotations[i]`` = a
    list of ``(box or None, text)`` for every face shown in that frame."""
    import av
    import cv2
    if annotations is None:
        annotations = _Single(boxes, labels)
    with atomic_write(path, suffix='.mp4') as tmp:
        _encode(frames, annotations, tmp, path, fps, av, cv2)
    return path


def _encode(frames, annotations, tmp: str, path: str, fps: float, av, cv2) -> None:
    """H.264 of the annotated ``frames`` into the file ``tmp`` (``path``: the name in errors)."""
    container = av.open(tmp, mode='w')
    stream = None
    try:
        for i, frame in enumerate(frames):
            frame = np.ascontiguousarray(frame)
            if stream is None:
                stream = container.add_stream('libx264', rate=max(1, int(round(fps))))
                stream.width, stream.height = frame.shape[1] // 2 * 2, frame.shape[0] // 2 * 2
                stream.pix_fmt = 'yuv420p'
            img = frame[:stream.height, :stream.width].copy()
            for box, text in annotations[i]:
                _draw(img, box, text, cv2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                container.mux(packet)
        if stream is None:
            raise ValueError(f'{path}: no frames to write')
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()


class _Single:
    """``annotations`` view of one optional box and one optional label per frame."""

    def __init__(self, boxes, labels):
        self.boxes, self.labels = boxes, labels

    def __getitem__(self, i):
        box = self.boxes[i] if self.boxes is not None else None
        if self.labels is None:
            return [(box, None)] if box is not None else []
        return [(box, self.labels[i])]


def _draw(img: np.ndarray, box, text: Optional[str], cv2) -> None:
    """A green box and white-on-black text above it (or at the top left without a box)."""
    if box is not None:
        x1, y1, x2, y2 = [int(round(v)) for v in box[:4]]
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0), 2)
        anchor = (x1, max(18, y1 - 6))
    else:
        anchor = (8, 24)
    if text:
        cv2.putText(img, text, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4)
        cv2.putText(img, text, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
