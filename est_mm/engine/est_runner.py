"""``ESTRunner``: mmengine's Runner that first takes the config steps est_mm's tools take after
``--cfg-options`` are merged (:func:`~est_mm.utils.config.load_config`), so that mmaction2's own
``tools/train.py`` and ``tools/test.py`` (what ``mim train`` and ``mim test`` run) build the same
model and datasets from a config that sets ``runner_type = 'ESTRunner'``:

* a top-level ``data_root`` changed on the command line also moves the datasets whose
  ``data_root`` the config wrote from it (:func:`~est_mm.utils.config.follow_data_root`);
* the datasets' ``classes_file`` gives their class names and, where it is None, the head's
  ``num_classes`` (:func:`~est_mm.utils.config.apply_classes_files`).

Both steps change nothing in a config est_mm's tools have loaded already.
"""
import copy

from mmengine.runner import Runner

from mmaction.registry import RUNNERS
from ..utils.config import apply_classes_files, follow_data_root


@RUNNERS.register_module()
class ESTRunner(Runner):
    """:class:`mmengine.runner.Runner` built from a config resolved as est_mm's tools resolve it."""

    @classmethod
    def from_cfg(cls, cfg) -> 'ESTRunner':
        cfg = copy.deepcopy(cfg)
        follow_data_root(cfg)
        apply_classes_files(cfg)
        return super().from_cfg(cfg)
