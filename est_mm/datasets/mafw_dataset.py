import os.path as osp
from typing import Callable, List, Optional, Union

from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .fer_video_dataset import SOURCES, VIDEO_EXTENSIONS, FERVideoDataset, ListEntry, check_choice

MAFW_CLASSES = ('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise',
                'contempt', 'anxiety', 'helplessness', 'disappointment')
MAFW_SPLIT_DIRS = ('Train & Test Set', 'split')


def mafw_split_file(fold: int, split: str, split_dir: str = MAFW_SPLIT_DIRS[0]) -> str:
    """The single-label split file of ``fold`` (1..5) and ``split``, relative to the MAFW root."""
    return osp.join(split_dir, 'single', 'no_caption', f'set_{fold}', f'{split}.txt')


@DATASETS.register_module()
class MAFWDataset(FERVideoDataset):
    """MAFW (single-label, no caption) in its official layout.

    Split files ``Train & Test Set/single/no_caption/set_<fold>/{train,test}.txt`` (some copies
    rename ``Train & Test Set`` to ``split``; both are looked for, in that order) hold one
    ``<5-digit id>.mp4 <label name>`` per line, e.g. ``00025.mp4 anger``. Samples are the clips
    ``<videos_dir>/<id>.mp4`` or, as the release has no frames, folders extracted by the user,
    ``<frames_dir>/<id>/``.

    Args:
        data_root (str): The MAFW root folder.
        pipeline (list): Data transforms.
        fold (int): Cross-validation fold, 1..5. Defaults to 1.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        source (str): ``'videos'`` or ``'frames'``. Defaults to ``'videos'``.
        videos_dir (str): Clips, relative to ``data_root``. Defaults to ``'data/clips'``.
        frames_dir (str): Frame folders, relative to ``data_root``. Defaults to
            ``'data/frames'``.
        missing (str, optional): A listed sample absent on disk: ``'error'`` raises naming it,
            ``'skip'`` drops it with one warning counting the dropped samples, None does not
            look. Defaults to ``'error'``.
        ann_file (str, optional): Overrides the split file (relative to ``data_root`` or
            absolute).
        **kwargs: Passed to :class:`FERVideoDataset` (``val_ratio``, ``subset``, ``test_mode``,
            ...).
    """

    METAINFO = dict(classes=MAFW_CLASSES)

    def __init__(self,
                 data_root: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 fold: int = 1,
                 split: str = 'train',
                 source: str = 'videos',
                 videos_dir: str = 'data/clips',
                 frames_dir: str = 'data/frames',
                 missing: Optional[str] = 'error',
                 ann_file: Optional[str] = None,
                 **kwargs) -> None:
        check_choice('MAFWDataset', 'fold', fold, (1, 2, 3, 4, 5))
        check_choice('MAFWDataset', 'split', split, ('train', 'test'))
        check_choice('MAFWDataset', 'source', source, SOURCES)
        self.fold = fold
        self.split = split
        self.source = source
        if ann_file is None:
            candidates = [mafw_split_file(fold, split, d) for d in MAFW_SPLIT_DIRS]
            found = [c for c in candidates if osp.isfile(osp.join(data_root or '', c))]
            if not found:
                tried = ' nor '.join(osp.join(data_root or '', c) for c in candidates)
                raise FileNotFoundError(f'MAFW split file not found: {tried}')
            ann_file = found[0]
        super().__init__(
            ann_file,
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=dict(video=frames_dir if source == 'frames' else videos_dir),
            missing=missing,
            **kwargs)

    def read_entries(self) -> List[ListEntry]:
        self._require_ann_file('MAFW split file')
        entries = []
        for lineno, line in self._list_lines():
            where = f'{self.ann_file}:{lineno}'
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f'{where}: expected "<id>.mp4 <label name>", got {line!r}')
            name, label_name = parts
            label = self.label_index(label_name, where)
            stem, ext = osp.splitext(name)
            if ext.lower() not in VIDEO_EXTENSIONS:
                stem, ext = name, '.mp4'
            path = stem if self.source == 'frames' else stem + ext
            entries.append(ListEntry(where, self._video_path(path), label, self.source))
        return entries
