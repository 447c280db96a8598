"""Evaluation metrics for video facial-expression recognition (registered into mmaction2's METRICS)."""
from .metrics import FERConfusionMatrix, fer_statistics, plot_fer_confusion_matrix

__all__ = ['FERConfusionMatrix', 'fer_statistics', 'plot_fer_confusion_matrix']
