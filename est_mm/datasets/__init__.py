"""Datasets and data transforms for video facial-expression recognition."""
from .afew_dataset import AFEW_CLASSES, AFEWDataset
from .bu3dfe_dataset import BU3DFEDataset
from .dfew_dataset import DFEW_CLASSES, DFEWDataset, dfew_split_csv
from .emotion_names import BASIC6_ALIASES, BASIC6_CLASSES, basic6_name
from .fer_video_dataset import FERVideoDataset, ListEntry
from .ferv39k_dataset import FERV39K_CLASSES, FERV39kDataset, ferv39k_split_file
from .holdout import stratified_holdout
from .integrity import BadSampleError, probe_sample, read_text
from .mafw_dataset import MAFW_CLASSES, MAFWDataset, mafw_split_file
from .mmi_dataset import MMIDataset
from .subject_fold_dataset import SubjectFoldDataset, subject_folds
from .transforms import (SnippetSampling, VideoOrFramesDecode, VideoOrFramesInit, ZeroFillFrames,
                         list_frames, natural_frame_key)

__all__ = [
    'AFEW_CLASSES', 'AFEWDataset', 'BASIC6_ALIASES', 'BASIC6_CLASSES', 'BadSampleError',
    'BU3DFEDataset', 'DFEW_CLASSES', 'DFEWDataset', 'FERV39K_CLASSES', 'FERV39kDataset',
    'FERVideoDataset', 'ListEntry', 'MAFW_CLASSES', 'MAFWDataset', 'MMIDataset', 'SnippetSampling',
    'SubjectFoldDataset', 'VideoOrFramesDecode', 'VideoOrFramesInit', 'ZeroFillFrames',
    'basic6_name', 'dfew_split_csv', 'ferv39k_split_file', 'list_frames', 'mafw_split_file',
    'natural_frame_key', 'probe_sample', 'read_text', 'stratified_holdout', 'subject_folds'
]
