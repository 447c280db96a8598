"""Confusion matrix, per-class recall and UAR for video facial-expression recognition.

WAR (weighted average recall) is the overall accuracy and UAR (unweighted average recall) the
mean of the per-class recalls; mmaction2's ``AccMetric`` reports them as ``acc/top1`` and
``acc/mean1``. :class:`FERConfusionMatrix` adds what FER papers show next to them (e.g. the EST
paper's Fig. 4): the confusion matrix as a PNG and as numbers, and the per-class recalls.
"""
import csv
import json
import logging
import math
import os
import os.path as osp
from itertools import product
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log

from mmaction.evaluation import ConfusionMatrix
from mmaction.registry import METRICS

#: The report files, in the order (png, csv, json).
REPORT_FILES = ('confusion_matrix.png', 'confusion_matrix.csv', 'fer_report.json')


def fer_statistics(matrix) -> Dict:
    """Per-class support and recall, WAR and UAR of a confusion matrix.

    Args:
        matrix (array-like): ``(C, C)`` counts, rows = true class, columns = predicted class.

    Returns:
        dict: ``support`` (``(C,)`` int64, samples per true class), ``recall`` (``(C,)`` float64,
        NaN for a class with no ground-truth sample), ``normalized`` (``(C, C)`` row-normalised
        fractions, NaN rows for such classes), ``war`` (trace / total) and ``uar`` (mean recall
        over the classes present in the ground truth). Both are NaN when there is no sample.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    assert counts.ndim == 2 and counts.shape[0] == counts.shape[1], counts.shape
    support = counts.sum(axis=1)
    total = int(support.sum())
    with np.errstate(invalid='ignore', divide='ignore'):
        normalized = counts / support[:, None].astype(np.float64)
    normalized[support == 0] = np.nan
    recall = np.diag(normalized).copy()
    present = support > 0
    war = float(np.trace(counts) / total) if total else float('nan')
    uar = float(recall[present].mean()) if present.any() else float('nan')
    return dict(support=support, recall=recall, normalized=normalized, war=war, uar=uar)


def plot_fer_confusion_matrix(matrix,
                              class_names: Sequence[str],
                              path: Optional[str] = None,
                              title: Optional[str] = None,
                              cmap: str = 'Blues'):
    """Draw a row-normalised (percent) confusion matrix with annotated cells.

    Uses matplotlib's object API (``Figure`` with the Agg canvas), so it needs no display and
    leaves pyplot's global state and backend alone.

    Args:
        matrix (array-like): ``(C, C)`` counts, rows = true class, columns = predicted class.
        class_names (Sequence[str]): ``C`` names for the axes.
        path (str, optional): Where to save the figure (format from the suffix). Defaults to None
            (not saved).
        title (str, optional): Defaults to WAR and UAR of ``matrix``.
        cmap (str): Colour map. Rows of classes absent from the ground truth are grey.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    stats = fer_statistics(counts)
    num_classes = counts.shape[0]
    assert len(class_names) == num_classes, (len(class_names), num_classes)
    percent = np.ma.masked_invalid(stats['normalized'] * 100.0)
    if title is None:
        title = (f"WAR {stats['war'] * 100:.2f}%   UAR {stats['uar'] * 100:.2f}%   "
                 f'(N={int(counts.sum())})')

    side = max(5.0, 0.75 * num_classes + 3.0)
    fig = Figure(figsize=(side + 1.0, side), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colormap = matplotlib.colormaps[cmap].copy()
    colormap.set_bad('lightgrey')
    image = ax.imshow(percent, interpolation='nearest', cmap=colormap, vmin=0.0, vmax=100.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='% of true class')

    if num_classes <= 30:
        fontsize = 10 if num_classes <= 10 else 7
        for i, j in product(range(num_classes), range(num_classes)):
            if stats['support'][i] == 0:
                text, color = '-', 'dimgrey'
            else:
                value = percent[i, j]
                text, color = f'{value:.1f}', ('white' if value > 50.0 else 'black')
            ax.text(j, i, text, ha='center', va='center', color=color, fontsize=fontsize)

    ticks = np.arange(num_classes)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(n) for n in class_names], rotation=45, ha='right',
                       rotation_mode='anchor')
    ax.set_yticks(ticks)
    ax.set_yticklabels([f'{n} (n={s})' for n, s in zip(class_names, stats['support'])])
    ax.set_xlabel('Predicted class')
    ax.set_ylabel('True class')
    ax.set_title(title)
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches='tight')
    return fig


def _json_number(value):
    """``float`` for JSON: NaN becomes ``None`` (``null``), as strict JSON has no NaN."""
    value = float(value)
    return None if math.isnan(value) else value


@METRICS.register_module()
class FERConfusionMatrix(ConfusionMatrix):
    """Confusion matrix, per-class recall and UAR, plus PNG/CSV/JSON reports (single-label).

    Use it next to mmaction2's ``AccMetric`` (which gives WAR as ``acc/top1`` and UAR as
    ``acc/mean1``)::

        test_evaluator = [
            dict(type='AccMetric', metric_list=('top_k_accuracy', 'mean_class_accuracy'),
                 metric_options=dict(top_k_accuracy=dict(topk=(1, )))),
            dict(type='FERConfusionMatrix'),
        ]

    Returned metrics (all plain floats, fractions in [0, 1], prefixed ``fer/`` by default):

    - ``fer/war``: overall accuracy, equal to ``acc/top1``.
    - ``fer/uar``: mean recall over the classes present in the ground truth.
    - ``fer/recall/<class name>``: recall of each class; NaN for a class with no ground-truth
      sample (it is then left out of ``uar``).

    UAR vs. ``acc/mean1``: they are equal whenever every class that is predicted also occurs in the
    ground truth (in particular whenever all classes occur in it). mmaction2's
    ``mean_class_accuracy`` averages over the classes that occur in the ground truth *or* the
    predictions, so a class absent from the ground truth but predicted enters ``acc/mean1`` with
    recall 0; here it is left out (its recall is undefined), as in scikit-learn's
    ``balanced_accuracy_score``.

    Report files: the metric only computes the report (``last_report``, on rank 0);
    :class:`~est_mm.engine.hooks.fer_report_hook.FERReportHook` (enabled in
    ``configs/_base_/default_runtime.py``) writes it after each test / val epoch, on rank 0, with
    :func:`write_fer_report`:

    - ``confusion_matrix.png``: row-normalised percentages, annotated cells, class names and
      per-class support on the axes, WAR and UAR in the title.
    - ``confusion_matrix.csv``: counts; header row ``true\\pred,<class names>``, then one row per
      true class starting with its name.
    - ``fer_report.json``: ``classes``, ``num_samples``, ``war``, ``uar``, ``confusion_matrix``
      (counts), ``confusion_matrix_normalized`` (row-normalised fractions), ``recall`` and
      ``support`` (per class name). NaN is written as ``null``.

    Args:
        num_classes (int, optional): Number of classes. Defaults to None: the size of
            ``pred_score`` (as in the parent class), else the number of class names in
            ``dataset_meta``, else the largest label + 1.
        out_dir (str, optional): Folder for the report files (created if missing). Defaults to
            None: the run's log folder (``runner.log_dir``, ``<work_dir>/<timestamp>/``).
        overwrite (bool): Rule for existing report files, in either folder: with ``False``
            (default), if any of the three names exists the files are written as
            ``confusion_matrix_<n>.png``, ``confusion_matrix_<n>.csv``, ``fer_report_<n>.json``
            with the smallest ``n >= 1`` for which none of the three exists, and a one-line
            warning names them (so e.g. evaluating every epoch keeps every report). ``True``
            replaces them.
        save_files (bool): Have the report files written. Defaults to True.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for collecting results across ranks.
        prefix (str, optional): Metric name prefix. Defaults to ``'fer'``.
        collect_dir (str, optional): Folder for collecting results across ranks when
            ``collect_device='cpu'`` (see mmengine's ``BaseMetric``). Defaults to None.

    After :meth:`evaluate`, ``last_report`` holds the JSON report (as a dict, on rank 0); after
    the hook has written it, ``last_report_paths`` holds the files (empty if none).
    """
    default_prefix = 'fer'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 out_dir: Optional[str] = None,
                 overwrite: bool = False,
                 save_files: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(num_classes=num_classes, collect_device=collect_device, prefix=prefix)
        if collect_dir is not None and collect_device != 'cpu':
            raise ValueError("collect_dir needs collect_device='cpu'")
        self.collect_dir = collect_dir  # ConfusionMatrix.__init__ does not forward it
        self.out_dir = out_dir
        self.overwrite = overwrite
        self.save_files = save_files
        self.last_report: Optional[Dict] = None
        self.last_report_paths: List[str] = []

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the predicted and true label (and the score size) of every sample."""
        for data_sample in data_samples:
            gt_label = torch.as_tensor(data_sample['gt_label']).reshape(-1)
            if gt_label.numel() != 1:
                raise ValueError('FERConfusionMatrix is single-label; got a gt_label of '
                                 f'{gt_label.numel()} elements')
            pred_score = data_sample.get('pred_score')
            if pred_score is not None:
                pred_score = torch.as_tensor(pred_score).reshape(-1)
                pred_label = pred_score.argmax(dim=0, keepdim=True)
                score_size = int(pred_score.numel())
            else:
                pred_label = torch.as_tensor(data_sample['pred_label']).reshape(-1)[:1]
                score_size = None
            self.results.append({
                'pred_label': pred_label.detach().cpu().long(),
                'gt_label': gt_label.detach().cpu().long(),
                'num_classes': score_size,
            })

    def _num_classes(self, results: list, pred: torch.Tensor, gt: torch.Tensor,
                     class_names: Optional[Sequence]) -> int:
        score_sizes = {r['num_classes'] for r in results if r.get('num_classes') is not None}
        if len(score_sizes) > 1:
            raise ValueError(f'pred_score sizes differ between samples: {sorted(score_sizes)}')
        if score_sizes:
            num_classes = score_sizes.pop()
            if self.num_classes is not None and self.num_classes != num_classes:
                self._warn(f'num_classes={self.num_classes} but pred_score has {num_classes} '
                           'entries; using the latter')
        elif self.num_classes is not None:
            num_classes = int(self.num_classes)
        elif class_names:
            num_classes = len(class_names)
        else:
            num_classes = int(max(pred.max(), gt.max())) + 1
        for name, labels in (('gt_label', gt), ('pred_label', pred)):
            if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
                raise ValueError(f'{name} outside [0, {num_classes}): '
                                 f'min {int(labels.min())}, max {int(labels.max())}')
        return num_classes

    def _class_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None:
            return [str(i) for i in range(num_classes)]
        names = [str(c) for c in classes]
        if len(names) != num_classes:
            self._warn(f"dataset_meta['classes'] has {len(names)} names but there are "
                       f'{num_classes} classes; using class indices as names')
            return [str(i) for i in range(num_classes)]
        if len(set(names)) != len(names):
            self._warn("dataset_meta['classes'] has duplicate names; using class indices")
            return [str(i) for i in range(num_classes)]
        return names

    def compute_metrics(self, results: list) -> dict:
        """Build the matrix and ``last_report``, return the scalar metrics. mmengine's
        ``BaseMetric.evaluate`` calls this on rank 0 only, with the results of all ranks."""
        self.last_report, self.last_report_paths = None, []
        if not results:
            return {}
        pred = torch.cat([r['pred_label'] for r in results])
        gt = torch.cat([r['gt_label'] for r in results])
        classes = (self.dataset_meta or {}).get('classes')
        num_classes = self._num_classes(results, pred, gt, classes)
        names = self._class_names(num_classes)

        counts = self.calculate(pred, gt, num_classes=num_classes).cpu().numpy().astype(np.int64)
        stats = fer_statistics(counts)

        metrics = {'war': stats['war'], 'uar': stats['uar']}
        for name, recall in zip(names, stats['recall']):
            metrics[f'recall/{name}'] = float(recall)

        self.last_report = {
            'classes': names,
            'num_samples': int(counts.sum()),
            'war': _json_number(stats['war']),
            'uar': _json_number(stats['uar']),
            'layout': 'rows = true class, columns = predicted class',
            'confusion_matrix': counts.tolist(),
            'confusion_matrix_normalized': [[_json_number(v) for v in row]
                                            for row in stats['normalized']],
            'recall': {n: _json_number(r) for n, r in zip(names, stats['recall'])},
            'support': {n: int(s) for n, s in zip(names, stats['support'])},
        }
        return metrics

    @staticmethod
    def _warn(message: str) -> None:
        _warn(message)


def _warn(message: str) -> None:
    print_log(f'FERConfusionMatrix: {message}', logger='current', level=logging.WARNING)


def _report_paths(out_dir: str, overwrite: bool) -> List[str]:
    """The three report paths in ``out_dir``; unless ``overwrite``, with the smallest numeric
    suffix ``_<n>`` for which none of the three exists when any unsuffixed one does."""
    paths = [osp.join(out_dir, f) for f in REPORT_FILES]
    if overwrite or not any(osp.exists(p) for p in paths):
        return paths
    n = 1
    while True:
        suffixed = [osp.join(out_dir, f'{stem}_{n}{ext}')
                    for stem, ext in map(osp.splitext, REPORT_FILES)]
        if not any(osp.exists(p) for p in suffixed):
            _warn(f'report files exist in {out_dir} (overwrite=False); writing '
                  f'{", ".join(osp.basename(p) for p in suffixed)}')
            return suffixed
        n += 1


def write_fer_report(report: Dict, out_dir: str, overwrite: bool = False) -> List[str]:
    """Writes a :class:`FERConfusionMatrix` report (its ``last_report``) into ``out_dir``
    (created if missing) as confusion_matrix.png, confusion_matrix.csv and fer_report.json
    (:data:`REPORT_FILES`; numbered ``_<n>`` instead of replacing existing files unless
    ``overwrite``) and returns the three paths."""
    os.makedirs(out_dir, exist_ok=True)
    png, csv_path, json_path = _report_paths(out_dir, overwrite)
    names, counts = report['classes'], np.asarray(report['confusion_matrix'], dtype=np.int64)
    plot_fer_confusion_matrix(counts, names, path=png)
    with open(csv_path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['true\\pred', *names])
        for name, row in zip(names, counts.tolist()):
            writer.writerow([name, *row])
    with open(json_path, 'w') as f:
        json.dump(report, f, indent=2, allow_nan=False)
    return [png, csv_path, json_path]
