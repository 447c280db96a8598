"""Streaming EST: per-track engines that embed each sampled frame once and emit a window result
every stride, and a JSON Lines writer for those results."""
from .engine import StreamingEST, WindowRecord, inferencer_preprocess, snippet_neck
from .jsonl import JsonLinesWriter

__all__ = ['StreamingEST', 'WindowRecord', 'inferencer_preprocess', 'snippet_neck',
           'JsonLinesWriter']
