"""Every tool's ``--detector`` offers exactly the detectors est_mm.faces can build (the names are
read from the registry, tools/argtypes.detector_names, without importing est_mm)."""
import os.path as osp
import re
import subprocess
import sys

import pytest

from est_mm.faces import FACE_DETECTORS
from est_mm.faces.detectors import detector_names

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.mark.parametrize('tool', ['tools/demo.py', 'tools/demo_batch.py',
                                  'tools/data/extract_faces.py',
                                  'tools/analysis/stream_memory.py'])
def test_detector_choices_are_the_face_detectors(tool):
    proc = subprocess.run([sys.executable, tool, '--detector', 'no-such-detector'], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    choices = re.search(r"invalid choice: 'no-such-detector' \(choose from (.*)\)", proc.stderr)
    assert choices, proc.stderr
    assert sorted(re.findall(r"'([^']+)'", choices.group(1))) == sorted(FACE_DETECTORS)


def test_the_tools_read_the_registry_names_in_its_order():
    sys.path.insert(0, REPO)
    try:
        from tools.argtypes import detector_names as read_names
    finally:
        sys.path.remove(REPO)
    assert read_names() == detector_names() == list(FACE_DETECTORS)
