"""Datasets and data transforms for video facial-expression recognition."""
from .dfew_dataset import DFEW_CLASSES, DFEWDataset, dfew_split_csv
from .fer_video_dataset import FERVideoDataset, ListEntry
from .holdout import stratified_holdout
from .transforms import (SnippetSampling, VideoOrFramesDecode, VideoOrFramesInit, list_frames,
                         natural_frame_key)

__all__ = [
    'DFEW_CLASSES', 'DFEWDataset', 'FERVideoDataset', 'ListEntry', 'SnippetSampling',
    'VideoOrFramesDecode', 'VideoOrFramesInit', 'dfew_split_csv', 'list_frames',
    'natural_frame_key', 'stratified_holdout'
]
