"""One-line error messages: the single helper every tool and loader uses to show an exception."""
import re

_DECORD_PREFIX = re.compile(r'^(\[[\d:]+\] \S+:\d+: )+')  # "[21:55:43] .../video_reader.cc:151: "
_WORKER_PREFIX = re.compile(r'^\w+(\.\w+)*(Error|Exception): ')  # "BadSampleError: " after a worker traceback


def first_line(err: BaseException) -> str:
    """The first non-empty line of ``err``'s message, without decord's source-location prefix
    (its type name when the message is empty)."""
    for line in str(err).splitlines():
        if line.strip():
            return _DECORD_PREFIX.sub('', line.strip())
    return type(err).__name__


def last_line(err: BaseException) -> str:
    """The last non-empty line of ``err``'s message, without an ``XError: `` prefix: the original
    message of an error a DataLoader worker re-raised with its traceback in front."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return _WORKER_PREFIX.sub('', lines[-1]) if lines else type(err).__name__
