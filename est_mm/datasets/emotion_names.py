"""The six basic expressions and the spellings releases and annotators use for them."""
from typing import Dict, Optional

BASIC6_CLASSES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise')

# lower-case spelling -> class name; BU-3DFE's file-name codes included
BASIC6_ALIASES: Dict[str, str] = {
    'an': 'Angry', 'anger': 'Angry', 'angry': 'Angry',
    'di': 'Disgust', 'disgust': 'Disgust', 'disgusted': 'Disgust',
    'fe': 'Fear', 'fear': 'Fear', 'fearful': 'Fear', 'afraid': 'Fear', 'scared': 'Fear',
    'ha': 'Happy', 'happy': 'Happy', 'happiness': 'Happy', 'joy': 'Happy',
    'sa': 'Sad', 'sad': 'Sad', 'sadness': 'Sad',
    'su': 'Surprise', 'surprise': 'Surprise', 'surprised': 'Surprise',
}


def basic6_name(name: str) -> Optional[str]:
    """The class name in :data:`BASIC6_CLASSES` that ``name`` spells (any case), else None."""
    return BASIC6_ALIASES.get(name.strip().lower())


NEUTRAL_ALIASES = ('neutral', 'ne', 'neutrality')


def emotion_key(name: str) -> str:
    """A spelling-independent key for an expression name: the basic six and neutral by their
    synonyms (``happiness`` and ``Happy`` → ``'happy'``, ``NE`` → ``'neutral'``), any other
    name lower-cased. Used to match the classes of two datasets by name."""
    key = str(name).strip().lower()
    basic = BASIC6_ALIASES.get(key)
    if basic is not None:
        return basic.lower()
    return 'neutral' if key in NEUTRAL_ALIASES else key
