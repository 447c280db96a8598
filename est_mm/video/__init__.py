"""Reading frames: video files in chunks and in-memory frames behind one interface."""
from .reader import ArrayFrames, FrameSource, VideoFrames, VideoReadError, open_frames

__all__ = ['ArrayFrames', 'FrameSource', 'VideoFrames', 'VideoReadError', 'open_frames']
