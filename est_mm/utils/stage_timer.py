"""Seconds of work per named stage (decode, detect, track, crop, est, ...) of a video pipeline."""
import time
from contextlib import contextmanager
from typing import Dict, Iterator


class StageTimer:
    """Accumulates wall-clock seconds per stage: ``with timer('detect'): ...``.

    One timer is handed to every step of a run; each step times its own stages, so the caller
    reads the totals from :attr:`seconds` afterwards.
    """

    def __init__(self):
        self.seconds: Dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        tic = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - tic)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def get(self, stage: str) -> float:
        """Seconds spent in ``stage`` so far (0 if never timed)."""
        return self.seconds.get(stage, 0.0)

    def __repr__(self) -> str:
        return f'StageTimer({", ".join(f"{k}={v:.3f}s" for k, v in self.seconds.items())})'
