"""The ``--detector`` choices written out in the tools (so that ``--help`` needs no import of
est_mm) are the detectors est_mm.faces can build."""
import ast
import os.path as osp

import pytest

from est_mm.faces import FACE_DETECTORS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def detector_choices(path):
    """The ``choices`` of every ``add_argument('--detector', ...)`` call in the file ``path``."""
    tree = ast.parse(open(path, encoding='utf-8').read(), filename=path)
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, 'attr', None) == 'add_argument'
                and any(isinstance(a, ast.Constant) and a.value == '--detector'
                        for a in node.args)):
            choices = [k.value for k in node.keywords if k.arg == 'choices']
            assert choices, f'{path}: --detector has no choices'
            found.append(ast.literal_eval(choices[0]))
    return found


@pytest.mark.parametrize('tool', ['tools/demo.py', 'tools/data/extract_faces.py'])
def test_detector_choices_are_the_face_detectors(tool):
    choices = detector_choices(osp.join(REPO, tool))
    assert choices and all(sorted(c) == sorted(FACE_DETECTORS) for c in choices), choices
