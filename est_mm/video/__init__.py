"""Reading frames: video files in chunks, in-memory frames behind the same interface, and
live sources (files, cameras, URLs, stdin) frame by frame as they arrive."""
from .reader import ArrayFrames, FrameSource, VideoFrames, VideoReadError, open_frames
from .sources import (FrameStream, StreamError, StreamFrame, StreamStalledError, open_stream,
                      source_kind)

__all__ = ['ArrayFrames', 'FrameSource', 'VideoFrames', 'VideoReadError', 'open_frames',
           'FrameStream', 'StreamError', 'StreamFrame', 'StreamStalledError', 'open_stream',
           'source_kind']
