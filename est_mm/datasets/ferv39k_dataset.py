import os.path as osp
from typing import Callable, List, Optional, Union

from mmaction.registry import DATASETS
from mmaction.utils import ConfigType
from .fer_video_dataset import SOURCES, FERVideoDataset, ListEntry, check_choice

FERV39K_CLASSES = ('Happy', 'Sad', 'Neutral', 'Angry', 'Surprise', 'Disgust', 'Fear')


def ferv39k_split_file(scene: str, split: str) -> str:
    """The setup file of ``scene`` and ``split``, relative to the FERV39k root:
    ``4_setups/All_scenes/{train,test}_All.csv`` for ``'All_scenes'``, else (file names not
    verified against a release) ``4_setups/<scene>/{train,test}_<scene>.csv``."""
    stem = 'All' if scene == 'All_scenes' else scene
    return osp.join('4_setups', scene, f'{split}_{stem}.csv')


@DATASETS.register_module()
class FERV39kDataset(FERVideoDataset):
    """FERV39k in its official layout.

    Setup files (no header) hold one ``<Scene>/<Emotion>/<NNNN> <LabelName>`` per line, e.g.
    ``Action/Sad/0010 Sad``; the label is a class name (any case). Samples are the face-crop
    frame folders ``<frames_dir>/<Scene>/<Emotion>/<NNNN>/`` or the videos
    ``<videos_dir>/<Scene>/<Emotion>/<NNNN>.mp4``.

    Args:
        data_root (str): The FERV39k root folder.
        pipeline (list): Data transforms.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        scene (str): Folder of ``4_setups`` holding the setup files. Defaults to
            ``'All_scenes'`` (``train_All.csv`` / ``test_All.csv``). For per-scene setups the
            file is assumed to be ``4_setups/<scene>/<split>_<scene>.csv``, which is not verified:
            pass ``ann_file`` if your copy names it otherwise.
        source (str): ``'frames'`` or ``'videos'``. Defaults to ``'frames'``.
        frames_dir (str): Frame folders, relative to ``data_root``.
            Defaults to ``'2_ClipsforFaceCrop'``.
        videos_dir (str): Videos, relative to ``data_root``. Defaults to ``'0_7_LabelClips'``.
        video_ext (str): Extension of the videos. Defaults to ``'.mp4'``.
        missing (str, optional): A listed sample absent on disk: ``'error'`` raises naming it,
            ``'skip'`` drops it with one warning counting the dropped samples, None does not
            look. Defaults to ``'error'``.
        ann_file (str, optional): Overrides the setup file (relative to ``data_root`` or
            absolute).
        **kwargs: Passed to :class:`FERVideoDataset` (``val_ratio``, ``subset``, ``test_mode``,
            ...).
    """

    METAINFO = dict(classes=FERV39K_CLASSES)

    def __init__(self,
                 data_root: str,
                 pipeline: List[Union[ConfigType, Callable]],
                 split: str = 'train',
                 scene: str = 'All_scenes',
                 source: str = 'frames',
                 frames_dir: str = '2_ClipsforFaceCrop',
                 videos_dir: str = '0_7_LabelClips',
                 video_ext: str = '.mp4',
                 missing: Optional[str] = 'error',
                 ann_file: Optional[str] = None,
                 **kwargs) -> None:
        check_choice('FERV39kDataset', 'split', split, ('train', 'test'))
        check_choice('FERV39kDataset', 'source', source, SOURCES)
        if not scene or not isinstance(scene, str):
            raise ValueError(f'FERV39kDataset: scene must be a folder name, got {scene!r}')
        self.split = split
        self.scene = scene
        self.source = source
        self.video_ext = video_ext
        super().__init__(
            ann_file or ferv39k_split_file(scene, split),
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=dict(video=frames_dir if source == 'frames' else videos_dir),
            missing=missing,
            **kwargs)

    def read_entries(self) -> List[ListEntry]:
        hint = ('' if self.scene == 'All_scenes' else
                ' (per-scene file names are a guess; pass ann_file=... if yours differ)')
        self._require_ann_file('FERV39k setup file', hint)
        entries = []
        for lineno, line in self._list_lines():
            where = f'{self.ann_file}:{lineno}'
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f'{where}: expected "<Scene>/<Emotion>/<NNNN> <LabelName>", '
                                 f'got {line!r}')
            clip, name = parts
            label = self.label_index(name, where)
            clip = clip.replace('\\', '/').strip('/')
            stem, ext = osp.splitext(clip)
            if ext.lower() == self.video_ext.lower():
                clip = stem
            if self.source == 'videos':
                clip += self.video_ext
            entries.append(ListEntry(where, self._video_path(clip), label, self.source))
        return entries
