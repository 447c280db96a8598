"""The subject list of BU-4DFE (the EST paper's "BU-3DFE" sequences) for BU3DFEDataset, from the
release's ``ROOT/<subject>/<expression>/<frames>`` folders. The layout and the list format are
described for users in ``tools/data/convert_bu4dfe.py --help``.
"""
import os
import os.path as osp
from typing import List, Tuple

from ..emotion_names import basic6_name
from ..subject_fold_dataset import natural_key, write_subject_list
from ..transforms.loading import IMAGE_EXTENSIONS, is_frame_name


def collect(root: str, skip_unknown: bool = False,
            skip_empty: bool = False) -> Tuple[List[Tuple[str, str, str]], List[str]]:
    """``(lines, skipped)``: ``(folder relative to root, label, subject)`` per sequence, and the
    folders passed over."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'BU-4DFE root not found: {root}')
    lines, skipped = [], []
    for subject in sorted(os.listdir(root), key=natural_key):
        subject_dir = osp.join(root, subject)
        if subject.startswith('.') or not osp.isdir(subject_dir):
            continue
        if any(c.isspace() for c in subject):
            raise ValueError(f'{subject_dir}: subject folder names must not contain spaces')
        for expression in sorted(os.listdir(subject_dir), key=natural_key):
            folder = osp.join(subject_dir, expression)
            if expression.startswith('.') or not osp.isdir(folder):
                continue
            label = basic6_name(expression)
            if label is None:
                if skip_unknown:
                    skipped.append(folder)
                    continue
                raise ValueError(f'{folder}: unknown expression folder {expression!r} '
                                 f'(expected Angry, Disgust, Fear, Happy, Sad, Surprise or '
                                 f'AN, DI, FE, HA, SA, SU; see --skip-unknown)')
            if not any(is_frame_name(n) for n in os.listdir(folder)):
                if skip_empty:
                    skipped.append(folder)
                    continue
                raise ValueError(f'{folder}: no {"/".join(IMAGE_EXTENSIONS)} frames '
                                 f'(see --skip-empty)')
            lines.append((f'{subject}/{expression}', label, subject))
    if not lines:
        raise ValueError(f'{root}: no expression sequences found in the layout '
                         f'<subject>/<expression>/<frames>')
    return lines, skipped


def write_bu4dfe_list(root: str, out_list: str, skip_unknown: bool = False,
                      skip_empty: bool = False, overwrite: bool = False) -> List[str]:
    """Write the list of the sequences under ``root`` to ``out_list``; return the lines to show
    (the summary). Raises ``FileNotFoundError``, ``FileExistsError`` or ``ValueError`` (one
    line)."""
    lines, skipped = collect(root, skip_unknown, skip_empty)
    write_subject_list(out_list, lines, [
        f'BU-4DFE sequences under {osp.abspath(root)} (use it as data_root)',
        'written by tools/data/convert_bu4dfe.py; format: <frame folder> <label> <subject>'
    ], overwrite=overwrite)
    subjects = len({s for _, _, s in lines})
    return [f'wrote {len(lines)} sequences of {subjects} subjects to {out_list}'
            + (f'; passed over {len(skipped)} folders (first: {skipped[0]})' if skipped else '')]
