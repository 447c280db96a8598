"""Converters of checkpoints written by other code into est_mm checkpoints:
:mod:`.official_est` (the authors' released EST weights; ``tools/convert/official_est.py``)."""
