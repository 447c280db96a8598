"""Evaluation metrics for video facial-expression recognition (registered into mmaction2's METRICS);
their files are written by ``est_mm.engine.hooks.FERReportHook``."""
from .metrics import (FERConfusionMatrix, fer_statistics, plot_fer_confusion_matrix,
                      write_fer_report)

__all__ = ['FERConfusionMatrix', 'fer_statistics', 'plot_fer_confusion_matrix', 'write_fer_report']
