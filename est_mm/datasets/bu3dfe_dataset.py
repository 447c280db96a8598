from mmaction.registry import DATASETS
from .emotion_names import BASIC6_ALIASES, BASIC6_CLASSES
from .subject_fold_dataset import SubjectFoldDataset


@DATASETS.register_module()
class BU3DFEDataset(SubjectFoldDataset):
    """The EST paper's "BU-3DFE" expression sequences (the video release, BU-4DFE), read from a
    subject list written by ``tools/data/convert_bu4dfe.py``, in subject-independent folds (see
    :class:`SubjectFoldDataset`; the paper uses 10).

    Classes: Angry, Disgust, Fear, Happy, Sad, Surprise. Label names are matched in any case and
    also as common synonyms (anger, happiness, sadness, surprised, ...) or BU-3DFE's codes
    AN, DI, FE, HA, SA, SU.
    """

    METAINFO = dict(classes=BASIC6_CLASSES)
    LABEL_ALIASES = BASIC6_ALIASES
