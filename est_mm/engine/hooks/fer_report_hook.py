"""Writes the confusion-matrix report files of :class:`FERConfusionMatrix` after evaluation."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmaction.registry import HOOKS
from ...evaluation.metrics.fer_confusion_matrix import FERConfusionMatrix, write_fer_report


@HOOKS.register_module()
class FERReportHook(Hook):
    """After each test and val epoch, on rank 0: for every :class:`FERConfusionMatrix` of that
    loop's evaluator with ``save_files=True``, writes its ``last_report`` as
    confusion_matrix.png / .csv and fer_report.json into the metric's ``out_dir`` or else the run's
    log folder (``runner.log_dir``), and records the paths in its ``last_report_paths``. Does
    nothing for evaluators without that metric."""

    priority = 'BELOW_NORMAL'

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._write(runner, runner.val_loop)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._write(runner, runner.test_loop)

    @staticmethod
    def _write(runner, loop) -> None:
        if not is_main_process():
            return
        for metric in getattr(getattr(loop, 'evaluator', None), 'metrics', ()):
            if not isinstance(metric, FERConfusionMatrix):
                continue
            metric.last_report_paths = []
            if metric.save_files and metric.last_report is not None:
                metric.last_report_paths = write_fer_report(
                    metric.last_report, metric.out_dir or runner.log_dir, metric.overwrite)
