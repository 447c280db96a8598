from mmaction.registry import DATASETS
from .emotion_names import BASIC6_ALIASES, BASIC6_CLASSES
from .subject_fold_dataset import SubjectFoldDataset


@DATASETS.register_module()
class MMIDataset(SubjectFoldDataset):
    """MMI expression videos read from a subject list written by ``tools/data/convert_mmi.py``,
    in subject-independent folds (see :class:`SubjectFoldDataset`; the paper uses 10).

    Classes: Angry, Disgust, Fear, Happy, Sad, Surprise. Label names are matched in any case and
    also as common synonyms (anger, happiness, sadness, surprised, ...) or the codes
    AN, DI, FE, HA, SA, SU.
    """

    METAINFO = dict(classes=BASIC6_CLASSES)
    LABEL_ALIASES = BASIC6_ALIASES
