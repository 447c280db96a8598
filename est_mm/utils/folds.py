"""k-fold protocol helpers for ``tools/run_folds.py``: which config keys select a fold, and the
per-fold / mean ± std WAR-UAR table that DFEW, MAFW, BU-3DFE and MMI results are reported with."""
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from .files import atomic_write

SPLITS = ('train', 'val', 'test')


def fold_options(cfg, fold: int) -> List[str]:
    """``--cfg-options`` entries that point every dataloader of ``cfg`` that has a ``fold`` at
    ``fold``. Raises ValueError if no dataloader of the config has folds."""
    opts = []
    for split in SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        if loader and 'fold' in loader.get('dataset', {}):
            opts.append(f'{split}_dataloader.dataset.fold={fold}')
    if not opts:
        raise ValueError('the config\'s datasets have no `fold` argument: it is not a k-fold '
                         'dataset (FERV39k and AFEW have fixed train/test splits)')
    return opts


def num_folds(cfg) -> int:
    """The number of folds of the config's training dataset (``num_folds``; 5 if not given)."""
    return int(cfg.train_dataloader.dataset.get('num_folds', 5))


def summarise(fold_metrics: Dict[int, Dict]) -> Dict:
    """Per-fold WAR/UAR (in %) plus their mean and sample standard deviation (n - 1)."""
    rows = [dict(fold=k, WAR=100 * m['acc/top1'], UAR=100 * m['acc/mean1'])
            for k, m in sorted(fold_metrics.items())]
    summary = dict(folds=rows)
    for key in ('WAR', 'UAR'):
        values = np.array([r[key] for r in rows])
        summary[key] = dict(mean=float(values.mean()),
                            std=float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return summary


def markdown_table(summary: Dict, title: str = '') -> str:
    lines = [f'### {title}' if title else '', '| fold | WAR (%) | UAR (%) |', '|---|---|---|']
    lines += [f"| {r['fold']} | {r['WAR']:.2f} | {r['UAR']:.2f} |" for r in summary['folds']]
    war, uar = summary['WAR'], summary['UAR']
    lines.append(f"| mean ± std | {war['mean']:.2f} ± {war['std']:.2f} | "
                 f"{uar['mean']:.2f} ± {uar['std']:.2f} |")
    return '\n'.join(line for line in lines if line) + '\n'


def write_summary(work_dir: str, summary: Dict, title: str) -> List[str]:
    """Writes ``folds_summary.{md,json,csv}`` into ``work_dir`` (each via a temp name + rename)."""
    outputs = {
        'folds_summary.md': markdown_table(summary, title),
        'folds_summary.json': json.dumps(summary, indent=2),
        'folds_summary.csv': 'fold,WAR,UAR\n' + ''.join(
            f"{r['fold']},{r['WAR']:.4f},{r['UAR']:.4f}\n" for r in summary['folds']) +
        f"mean,{summary['WAR']['mean']:.4f},{summary['UAR']['mean']:.4f}\n"
        f"std,{summary['WAR']['std']:.4f},{summary['UAR']['std']:.4f}\n",
    }
    paths = []
    for name, text in outputs.items():
        path = osp.join(work_dir, name)
        with atomic_write(path) as tmp, open(tmp, 'w') as f:
            f.write(text)
        paths.append(path)
    return paths


def fold_dirs(work_dir: str, folds: Sequence[int]) -> Dict[int, str]:
    return {k: osp.join(work_dir, f'fold_{k}') for k in folds}
