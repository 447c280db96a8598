"""est_mm: the Expression Snippet Transformer as mmaction2 components.

``import est_mm`` (or ``custom_imports = dict(imports=['est_mm'])`` in a config) applies the
version workarounds in :mod:`est_mm.compat` and registers every component into mmaction2's
registries.
"""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration side effects)

__version__ = '0.1.0'
