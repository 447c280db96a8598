import os.path as osp
from typing import Callable, List, Optional, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS
from mmaction.utils import ConfigType


@DATASETS.register_module()
class FERVideoDataset(BaseActionDataset):
    """Facial-expression videos listed in a text file, one ``<path> <label>`` per line.

    ``<path>`` is a video file or a folder of frame images, relative to ``data_prefix['video']``;
    ``<label>`` is a 0-based integer. The line is split on its last whitespace, so paths may
    contain spaces. Blank lines and lines starting with ``#`` are ignored. Class names come from
    ``metainfo=dict(classes=(...))``; labels are checked against them (or ``num_classes``).

    Each data info holds ``frame_dir`` (the path is a folder) or ``filename`` (otherwise) and
    ``label`` (int), ready for :class:`VideoOrFramesInit`.

    Args:
        ann_file (str): The list file.
        pipeline (list): Data transforms.
        data_prefix (dict): ``dict(video=folder)`` the listed paths are relative to.
            Defaults to ``dict(video='')``.
        num_classes (int, optional): Number of classes, if ``metainfo`` has no class names.
        **kwargs: Passed to :class:`mmaction.datasets.BaseActionDataset` (``data_root``,
            ``metainfo``, ``test_mode``, ...).
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 data_prefix: ConfigType = dict(video=''),
                 num_classes: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(
            ann_file, pipeline=pipeline, data_prefix=data_prefix, num_classes=num_classes,
            **kwargs)

    @property
    def known_num_classes(self) -> Optional[int]:
        """``num_classes`` if given, else the number of class names in the metainfo."""
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = self.metainfo.get('classes')
        return len(classes) if classes else None

    def _video_path(self, rel_path: str) -> str:
        return osp.join(self.data_prefix.get('video') or '', rel_path)

    def _make_info(self, path: str, label: int) -> dict:
        key = 'frame_dir' if osp.isdir(path) else 'filename'
        return {key: path, 'label': int(label)}

    def _read_list(self) -> List[Tuple[int, str, int]]:
        """``(line number, path, label)`` for every entry of the list file."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'annotation list not found: {self.ann_file}')
        entries = []
        with open(self.ann_file, encoding='utf-8-sig') as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                parts = line.rsplit(None, 1)
                if len(parts) != 2:
                    raise ValueError(f'{self.ann_file}:{lineno}: expected "<path> <label>", '
                                     f'got {line!r}')
                path, label = parts
                try:
                    label = int(label)
                except ValueError:
                    raise ValueError(f'{self.ann_file}:{lineno}: label must be an integer, '
                                     f'got {label!r}') from None
                entries.append((lineno, path, label))
        return entries

    def _check_label(self, lineno: int, label: int) -> None:
        num_classes = self.known_num_classes
        if label < 0 or (num_classes is not None and label >= num_classes):
            upper = num_classes if num_classes is not None else 'inf'
            raise ValueError(f'{self.ann_file}:{lineno}: label {label} outside [0, {upper})')

    def _check_nonempty(self, data_list: List[dict]) -> List[dict]:
        if not data_list:
            raise ValueError(f'annotation list has no samples: {self.ann_file}')
        return data_list

    def load_data_list(self) -> List[dict]:
        data_list = []
        for lineno, path, label in self._read_list():
            self._check_label(lineno, label)
            data_list.append(self._make_info(self._video_path(path), label))
        return self._check_nonempty(data_list)
