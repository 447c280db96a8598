"""The timeline PNG of a long video: memory that does not grow with windows x frames."""
import tracemalloc

import numpy as np

from est_mm.apis.inference import VideoResult, WindowResult
from est_mm.apis.visualize import plot_timeline


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
