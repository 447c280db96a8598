"""The timeline PNG: one time axis shared and labelled by both panels, window rows numbered 1..N,
and memory that does not grow with windows x frames on a long video."""
import tracemalloc

import numpy as np

from est_mm.apis.inference import VideoResult, WindowResult
from est_mm.apis.visualize import plot_timeline, timeline_figure


def long_result(num_frames=18000, window=105, stride=52, classes=7):
    """A 10-minute (30 fps) result with the demo's file windows, seeded random outputs."""
    rng = np.random.default_rng(0)
    windows = []
    for start in range(0, num_frames - window + 1, stride):
        scores = rng.dirichlet(np.ones(classes)).tolist()
        windows.append(WindowResult(
            start=start, end=start + window, frame_inds=[], scores=scores,
            label=int(np.argmax(scores)), label_name=f'c{int(np.argmax(scores))}',
            frame_weights=[[0.2] * 5] * 7, snippet_attention=rng.dirichlet(np.ones(7)).tolist()))
    overall = np.mean([w.scores for w in windows], 0)
    return VideoResult(source='long.mp4', num_frames=num_frames, fps=30.0,
                       classes=[f'c{k}' for k in range(classes)], scores=overall.tolist(),
                       label=int(overall.argmax()), label_name=f'c{int(overall.argmax())}',
                       windows=windows)


def peak_bytes(result, path):
    tracemalloc.start()
    try:
        plot_timeline(result, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_timeline_memory_stops_growing_with_the_video(tmp_path):
    """10 and 30 minutes at 30 fps: the same peak (Python/numpy allocations, after a warm-up
    plot); the old attention map (windows x frames cells, one shaded artist per window) took
    70 MB at 10 minutes and grew with the square of the length."""
    plot_timeline(long_result(1800), str(tmp_path / 'warm.png'))
    ten = long_result(18000)
    assert len(ten.windows) == 345
    short = peak_bytes(ten, str(tmp_path / 'ten.png'))
    long = peak_bytes(long_result(54000), str(tmp_path / 'thirty.png'))
    assert long < 1.25 * short, (short / 2 ** 20, long / 2 ** 20)
    import matplotlib.image
    assert matplotlib.image.imread(str(tmp_path / 'thirty.png')).shape[1] > 1000


def panels(fig):
    """(probability axes, attention axes, colour bar axes) of a drawn timeline figure."""
    import matplotlib.pyplot as plt
    fig.canvas.draw()
    plt.close(fig)
    by_label = {ax.get_ylabel(): ax for ax in fig.axes}
    top, bottom = by_label.pop('probability'), by_label.pop('window')
    (colour_bar, ) = by_label.values()
    return top, bottom, colour_bar


def shown_tick_labels(axis_labels):
    return [t.get_text() for t in axis_labels if t.get_visible() and t.get_text()]


def test_timeline_panels_share_one_labelled_time_axis_beside_the_colour_bar():
    result = long_result(525)  # 17.5 s at 30 fps, 9 windows
    assert len(result.windows) == 9
    top, bottom, colour_bar = panels(timeline_figure(result))
    assert top.get_xlim() == bottom.get_xlim() == (0.0, 17.5)
    a, b = top.get_window_extent(), bottom.get_window_extent()  # figure pixels (the PNG's)
    assert abs(a.x0 - b.x0) < 1 and abs(a.x1 - b.x1) < 1, (a, b)
    assert colour_bar.get_window_extent().x0 > max(a.x1, b.x1)  # beside both, narrowing neither
    times = shown_tick_labels(top.get_xticklabels())
    assert len(times) >= 3 and times == shown_tick_labels(bottom.get_xticklabels())
    assert top.get_xlabel() == bottom.get_xlabel() == 'time (s)'


def test_timeline_window_rows_are_numbered_from_1():
    top, bottom, _ = panels(timeline_figure(long_result(525)))
    assert [t.get_text() for t in bottom.get_yticklabels()] == [str(k) for k in range(1, 10)]
    np.testing.assert_allclose(bottom.get_yticks(), np.arange(9) + 0.5)  # the rows' centres
    assert sorted(bottom.get_ylim()) == [0, 9]
    top, bottom, _ = panels(timeline_figure(long_result(3000)))  # 56 windows: some labelled
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert labels[0] == '1' and labels[-1] == '56' and 3 <= len(labels) <= 8, labels
    np.testing.assert_allclose(bottom.get_yticks(), [int(k) - 0.5 for k in labels])
