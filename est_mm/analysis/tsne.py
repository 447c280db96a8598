"""t-SNE of EST's emotion feature T (the decoder output) coloured by class (paper Fig. 12).

A compact exact t-SNE (van der Maaten & Hinton 2008) in numpy — O(N²) memory and time per
iteration, fine for the few hundred to a couple of thousand points a figure shows — so no
scikit-learn dependency is needed.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np


def _row_probabilities(d2: np.ndarray, perplexity: float, tol: float = 1e-5,
                       max_steps: int = 100) -> np.ndarray:
    """Conditional p_{j|i} [N, N] from squared distances, each row's Gaussian width found by
    bisection so that its entropy is log(perplexity)."""
    n = d2.shape[0]
    target = np.log(perplexity)
    P = np.zeros((n, n))
    for i in range(n):
        d = np.delete(d2[i], i)
        d = d - d.min()  # numerically safer; does not change the normalised row
        beta, lo, hi = 1.0, 0.0, np.inf
        for _ in range(max_steps):
            p = np.exp(-d * beta)
            s = max(p.sum(), 1e-12)
            h = np.log(s) + beta * (d * p).sum() / s
            if abs(h - target) < tol:
                break
            if h > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        P[i, np.arange(n) != i] = p / s
    return P


def tsne(X: np.ndarray, dims: int = 2, perplexity: float = 30.0, iters: int = 1000,
         seed: int = 0, early_exaggeration: float = 12.0, exaggeration_iters: int = 250,
         learning_rate: Optional[float] = None, pca_dims: int = 50) -> np.ndarray:
    """Embeds X [N, D] into Y [N, dims] (exact t-SNE with momentum, gains and early
    exaggeration; perplexity capped at (N - 1) / 3; learning rate max(N / 48, 50) unless
    given, as scikit-learn's 'auto'). Deterministic for ``seed``."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if n < 3:
        raise ValueError(f't-SNE needs at least 3 points, got {n}')
    X = X - X.mean(0)
    if X.shape[1] > pca_dims:  # PCA first, as usual, for speed and noise
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        X = X @ vt[:pca_dims].T
    perplexity = float(min(perplexity, max((n - 1) / 3.0, 1.0)))
    sq = (X ** 2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None] - 2 * X @ X.T, 0)
    P = _row_probabilities(d2, perplexity)
    P = np.maximum((P + P.T) / (2 * n), 1e-12)
    lr = learning_rate or max(n / early_exaggeration / 4, 50.0)
    rng = np.random.default_rng(seed)
    Y = rng.normal(0, 1e-4, (n, dims))
    update, gains = np.zeros_like(Y), np.ones_like(Y)
    for it in range(iters):
        exaggeration = early_exaggeration if it < exaggeration_iters else 1.0
        sy = (Y ** 2).sum(1)
        num = 1.0 / (1.0 + np.maximum(sy[:, None] + sy[None] - 2 * Y @ Y.T, 0))
        np.fill_diagonal(num, 0.0)
        Q = np.maximum(num / num.sum(), 1e-12)
        W = (exaggeration * P - Q) * num
        grad = 4.0 * (W.sum(1)[:, None] * Y - W @ Y)
        same = (grad > 0) == (update > 0)
        gains = np.maximum(np.where(same, gains * 0.8, gains + 0.2), 0.01)
        momentum = 0.5 if it < exaggeration_iters else 0.8
        update = momentum * update - lr * gains * grad
        Y = Y + update
        Y -= Y.mean(0)
    return Y


def plot_tsne(Y: np.ndarray, labels: Sequence[int], classes: Sequence[str], path: str,
              preds: Optional[Sequence[int]] = None, title: Optional[str] = None) -> str:
    """Scatter of the embedding Y [N, 2], one colour per true class (legend with counts);
    misclassified points drawn as crosses when ``preds`` is given. Writes a PNG."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = np.asarray(labels)
    fig = Figure(figsize=(7.5, 6.5), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps['tab10' if len(classes) <= 10 else 'tab20']
    wrong = (np.asarray(preds) != labels) if preds is not None else np.zeros(len(labels), bool)
    for k, name in enumerate(classes):
        sel = labels == k
        if not sel.any():
            continue
        colour = cmap(k % cmap.N)
        ax.scatter(Y[sel & ~wrong, 0], Y[sel & ~wrong, 1], s=16, color=colour, alpha=0.85,
                   label=f'{name} ({int(sel.sum())})', edgecolors='none')
        if (sel & wrong).any():
            ax.scatter(Y[sel & wrong, 0], Y[sel & wrong, 1], s=20, color=colour, marker='x',
                       alpha=0.85, linewidths=1)
    ax.set_xticks([])
    ax.set_yticks([])
    extra = ' — crosses: misclassified' if wrong.any() else ''
    ax.set_title(title or f't-SNE of the emotion feature T ({len(labels)} clips){extra}',
                 fontsize=10)
    ax.legend(fontsize=8, markerscale=1.5, loc='best', framealpha=0.8)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


@dataclass
class TsneOptions:
    """What :func:`tsne_figure` embeds and how; ``tools/analysis/tsne.py`` fills it from its
    options of the same names."""
    split: str = 'test'  # the dataloader whose dataset is embedded (with the test pipeline)
    max_samples: Optional[int] = 1000  # a random subset of at most this many clips
    batch_size: int = 8  # clips per forward pass
    perplexity: float = 30.0  # capped at (N - 1) / 3
    iters: int = 1000  # t-SNE gradient steps
    seed: int = 0  # of the subset and the t-SNE start
    cfg_options: Optional[dict] = None
    device: str = 'cpu'
    num_workers: int = 0  # data loading processes
    features_out: Optional[str] = None  # also save T, logits, labels, ... to this .npz


def tsne_figure(config, checkpoint, out: str, options: Optional[TsneOptions] = None) -> Dict:
    """Extract T for (a random subset of) the split, embed it, plot it; returns a summary."""
    from .features import extract, load_for_analysis, sample_indices
    o = options or TsneOptions()
    model, dataset, classes = load_for_analysis(config, checkpoint, o.split, o.cfg_options,
                                                o.device)
    indices = sample_indices(len(dataset), o.max_samples, o.seed)
    feats = extract(model, dataset, indices, o.batch_size, o.device, o.num_workers)
    Y = tsne(feats['T'], perplexity=o.perplexity, iters=o.iters, seed=o.seed)
    acc = float((feats['preds'] == feats['labels']).mean())
    title = (f"{osp.splitext(osp.basename(str(config)))[0]}, {o.split} split: t-SNE of T "
             f"({len(indices)} clips, accuracy {100 * acc:.1f} %)")
    plot_tsne(Y, feats['labels'], classes, out, feats['preds'], title)
    if o.features_out:
        os.makedirs(osp.dirname(osp.abspath(o.features_out)), exist_ok=True)
        np.savez(o.features_out, embedding=Y, classes=np.array(classes), **feats)
    return dict(out=out, num_samples=len(indices), accuracy=acc, classes=classes)
