"""Streaming EST: per-track engines that embed each sampled frame once and emit a window result
every stride, one engine per live track, a JSON Lines writer for the results, the demo's one loop
(:func:`run_live`) and its options (:mod:`.options`)."""
from .engine import (StreamingEST, TorchParts, WindowRecord, inferencer_parts,
                     inferencer_preprocess, snippet_neck)
from .jsonl import JsonLinesWriter
from .live import display_available, live_name, run_live
from .options import DemoOptions, FaceOptions, LiveOptions
from .results import video_result
from .tracks import TrackStreams

__all__ = ['StreamingEST', 'WindowRecord', 'TorchParts', 'inferencer_parts',
           'inferencer_preprocess', 'snippet_neck',
           'JsonLinesWriter', 'TrackStreams', 'video_result', 'run_live', 'live_name',
           'display_available', 'FaceOptions', 'LiveOptions', 'DemoOptions']
