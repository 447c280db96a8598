from .fer_confusion_matrix import (FERConfusionMatrix, fer_statistics, plot_fer_confusion_matrix,
                                   write_fer_report)

__all__ = ['FERConfusionMatrix', 'fer_statistics', 'plot_fer_confusion_matrix', 'write_fer_report']
