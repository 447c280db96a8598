"""Evaluation metrics for video facial-expression recognition (registered into mmaction2's METRICS)."""
from .metrics import (FERConfusionMatrix, fer_statistics, plot_fer_confusion_matrix,
                      write_fer_report)
# registers FERReportHook, which writes FERConfusionMatrix's files (until est_mm/engine/hooks
# imports it)
from ..engine.hooks.fer_report_hook import FERReportHook  # noqa: E402,I001

__all__ = ['FERConfusionMatrix', 'FERReportHook', 'fer_statistics', 'plot_fer_confusion_matrix',
           'write_fer_report']
