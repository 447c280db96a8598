import os
import os.path as osp
from typing import Callable, List, Optional, Union

from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .fer_video_dataset import SOURCES, FERVideoDataset, ListEntry, check_choice, is_video_name

AFEW_CLASSES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise')
AFEW_VIDEOS_DIRS = dict(train='Train_AFEW', val='Val_AFEW')
AFEW_FRAMES_DIRS = dict(train='AlignedFaces_LBPTOP_Points/Faces',
                        val='AlignedFaces_LBPTOP_Points_Val/Faces')


@DATASETS.register_module()
class AFEWDataset(FERVideoDataset):
    """AFEW (EmotiW 7.0/8.0) in its official layout; the labels are the class folders.

    Samples are listed from ``<videos_dir>/<Class>/<id>.avi`` (``Train_AFEW`` or ``Val_AFEW``),
    class folders matched to the class names in any case; a folder that is no class is an error.
    With ``source='frames'`` the same list is used and each video's aligned faces are read from
    ``<frames_dir>/<id>/`` (``AlignedFaces_LBPTOP_Points(_Val)/Faces``). Test labels are not
    public, so the splits are ``'train'`` and ``'val'``.

    Args:
        data_root (str): The AFEW root folder.
        pipeline (list): Data transforms.
        split (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        source (str): ``'videos'`` or ``'frames'``. Defaults to ``'videos'``.
        videos_dir (str, optional): Class folders of videos, relative to ``data_root``.
            Defaults to ``'Train_AFEW'`` / ``'Val_AFEW'``.
        frames_dir (str, optional): Aligned-face folders, relative to ``data_root``. Defaults to
            ``'AlignedFaces_LBPTOP_Points/Faces'`` / ``'AlignedFaces_LBPTOP_Points_Val/Faces'``.
        missing (str, optional): A listed sample absent on disk (with ``source='frames'``: a
            video without face folder): ``'error'`` raises naming it, ``'skip'`` drops it with one
            warning counting the dropped samples, None does not look. Defaults to ``'error'``.
        **kwargs: Passed to :class:`FERVideoDataset` (``val_ratio``, ``subset``, ``test_mode``,
            ...).
    """

    METAINFO = dict(classes=AFEW_CLASSES)

    def __init__(self,
                 data_root: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 split: str = 'train',
                 source: str = 'videos',
                 videos_dir: Optional[str] = None,
                 frames_dir: Optional[str] = None,
                 missing: Optional[str] = 'error',
                 **kwargs) -> None:
        check_choice('AFEWDataset', 'split', split, ('train', 'val'))
        check_choice('AFEWDataset', 'source', source, SOURCES)
        if 'ann_file' in kwargs:
            raise TypeError('AFEWDataset: no ann_file; the class folders of videos_dir are the '
                            'list')
        self.split = split
        self.source = source
        videos_dir = videos_dir or AFEW_VIDEOS_DIRS[split]
        frames_dir = frames_dir or AFEW_FRAMES_DIRS[split]
        super().__init__(
            videos_dir,  # the "annotation": its class folders
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=dict(video=frames_dir if source == 'frames' else videos_dir),
            missing=missing,
            **kwargs)

    def read_entries(self) -> List[ListEntry]:
        root = self.ann_file
        if not osp.isdir(root):
            raise FileNotFoundError(f'AFEW video folder not found: {root}')
        entries = []
        for folder in sorted(os.listdir(root)):
            class_dir = osp.join(root, folder)
            if not osp.isdir(class_dir) or folder.startswith('.'):
                continue
            try:
                label = self.label_index(folder, class_dir)
            except ValueError:
                raise ValueError(f'{class_dir}: unknown class folder {folder!r}; expected one of '
                                 f'{", ".join(self.metainfo["classes"])}') from None
            for name in sorted(os.listdir(class_dir)):
                if not is_video_name(name):
                    continue
                stem = osp.splitext(name)[0]
                path = (self._video_path(stem) if self.source == 'frames' else
                        osp.join(class_dir, name))
                entries.append(ListEntry(osp.join(class_dir, name), path, label, self.source))
        return entries
