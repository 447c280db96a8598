"""est_mm: the Expression Snippet Transformer as mmaction2 components.

``import est_mm`` (or ``custom_imports = dict(imports=['est_mm'])`` in a config) applies the
version workarounds in :mod:`est_mm.compat` and registers every component into mmaction2's
registries. Without torch only the torch-free parts import (``est_mm.deploy.ONNXModel``,
``est_mm.snippet_geometry``, ``est_mm.inference_spec``): the registration is skipped.
"""
import importlib.util

__version__ = '0.1.0'


def _torch_importable() -> bool:
    import sys
    if 'torch' in sys.modules:
        return sys.modules['torch'] is not None
    return importlib.util.find_spec('torch') is not None


if _torch_importable():
    from . import compat

    compat.apply()

    from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration)
