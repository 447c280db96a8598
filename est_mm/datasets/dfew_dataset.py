import csv
import io
import os.path as osp
from typing import Callable, List, Optional, Tuple, Union

from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .fer_video_dataset import FERVideoDataset, ListEntry, check_choice

DFEW_CLASSES = ('Happy', 'Sad', 'Neutral', 'Angry', 'Surprise', 'Disgust', 'Fear')


def dfew_split_csv(fold: int, split: str) -> str:
    """The official split file of ``fold`` (1..5) and ``split`` ('train'/'test'), relative to
    the DFEW root."""
    return osp.join('EmoLabel_DataSplit', f'{split}(single-labeled)', f'set_{fold}.csv')


@DATASETS.register_module()
class DFEWDataset(FERVideoDataset):
    """DFEW in its official layout: frame folders ``<data_root>/<frames_dir>/<5-digit id>/`` and
    the split files ``EmoLabel_DataSplit/{train,test}(single-labeled)/set_<fold>.csv``.

    A split file has the header ``video_name,label``; ``video_name`` is an integer (zero-padded to
    5 digits to find its folder) and ``label`` is 1-based in the order of ``DFEW_CLASSES``; data
    infos carry 0-based labels.

    Args:
        data_root (str): The DFEW root folder.
        pipeline (list): Data transforms.
        fold (int): Cross-validation fold, 1..5. Defaults to 1.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        frames_dir (str): Frame folders, relative to ``data_root``.
            Defaults to ``'Clip/clip_224x224'`` (``'Clip/clip_224x224_16f'`` is the 16-frame copy).
        missing (str, optional): A listed folder absent on disk: ``'error'`` raises, ``'skip'``
            drops it with one warning counting the dropped samples, None does not look.
            Defaults to ``'error'``.
        ann_file (str, optional): Overrides the split file computed from ``fold`` and ``split``.
        **kwargs: Passed to :class:`FERVideoDataset` (``val_ratio``, ``subset``, ``test_mode``,
            ...).
    """

    METAINFO = dict(classes=DFEW_CLASSES)

    def __init__(self,
                 data_root: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 fold: int = 1,
                 split: str = 'train',
                 frames_dir: str = 'Clip/clip_224x224',
                 missing: Optional[str] = 'error',
                 ann_file: Optional[str] = None,
                 **kwargs) -> None:
        if fold not in (1, 2, 3, 4, 5) or isinstance(fold, bool):
            raise ValueError(f'DFEWDataset: fold must be 1..5, got {fold!r}')
        check_choice('DFEWDataset', 'split', split, ('train', 'test'))
        self.fold = fold
        self.split = split
        super().__init__(
            ann_file or dfew_split_csv(fold, split),
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=dict(video=frames_dir),
            missing=missing,
            **kwargs)

    def _read_csv(self) -> List[Tuple[int, str, int]]:
        """``(line number, 5-digit video id, 0-based label)`` for every row of the split file."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'DFEW split file not found: {self.ann_file}')
        entries = []
        with io.StringIO(self.read_ann_text(), newline='') as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if header is None or [h.strip().lower() for h in header] != ['video_name', 'label']:
                raise ValueError(f'{self.ann_file}:1: header must be "video_name,label", '
                                 f'got {",".join(header or [])!r}')
            for lineno, row in enumerate(rows, 2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != 2:
                    raise ValueError(f'{self.ann_file}:{lineno}: expected "video_name,label", '
                                     f'got {",".join(row)!r}')
                name, label = (c.strip() for c in row)
                if not name.isdigit():
                    raise ValueError(f'{self.ann_file}:{lineno}: video_name must be an integer, '
                                     f'got {name!r}')
                try:
                    label = int(label)
                except ValueError:
                    label = None
                if label is None or not 1 <= label <= len(DFEW_CLASSES):
                    raise ValueError(f'{self.ann_file}:{lineno}: label must be 1..'
                                     f'{len(DFEW_CLASSES)}, got {row[1].strip()!r}')
                entries.append((lineno, f'{int(name):05d}', label - 1))
        return entries

    def read_entries(self) -> List[ListEntry]:
        entries = []
        for lineno, video_id, label in self._read_csv():
            self._check_label(lineno, label)
            entries.append(ListEntry(f'{self.ann_file}:{lineno}', self._video_path(video_id),
                                     label, 'frames'))
        return entries
