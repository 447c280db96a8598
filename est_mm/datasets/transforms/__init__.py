"""Data transforms for expression snippets: loading videos or frame folders, snippet sampling."""
from ...snippet_geometry import SnippetGeometry
from .loading import VideoOrFramesDecode, VideoOrFramesInit, list_frames, natural_frame_key
from .missing_frames import ZeroFillFrames
from .snippet_sampling import SnippetSampling

__all__ = [
    'SnippetGeometry', 'SnippetSampling', 'VideoOrFramesDecode', 'VideoOrFramesInit',
    'ZeroFillFrames', 'list_frames', 'natural_frame_key'
]
