"""Per-sample attention figures (in the spirit of paper Fig. 9): the 35 sampled frames as a
7 × 5 grid (one row per snippet), each frame's AA-SFE weight drawn under it, the decoder's
attention over the 7 snippets as bars beside the rows, the most attended snippet framed in
green, true and predicted label in the title."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch


def run_pipeline(dataset, index: int) -> Dict:
    """Runs ``dataset``'s pipeline on sample ``index`` step by step; returns the packed result
    plus ``frame_inds`` (the sampled frame numbers of the source) and ``source`` (its path)."""
    results = dataset.get_data_info(index)
    source = results.get('frame_dir') or results.get('filename') or str(index)
    frame_inds = None
    for t in dataset.pipeline.transforms:
        results = t(results)
        if isinstance(results, dict) and 'frame_inds' in results:
            frame_inds = np.asarray(results['frame_inds']).reshape(-1)
    results['frame_inds'] = frame_inds
    results['source'] = source
    return results


def plot_attention(frames: np.ndarray, frame_weights: np.ndarray, snippet_attention: np.ndarray,
                   path: str, title: str = '', frame_inds: Optional[Sequence[int]] = None,
                   probs: Optional[np.ndarray] = None, classes: Optional[List[str]] = None) -> str:
    """Draws one sample. frames [n·J, H, W, 3] uint8 RGB in snippet order; frame_weights [n, J]
    (rows sum to 1); snippet_attention [n] (sums to 1). Writes a PNG."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    n, J = frame_weights.shape
    best = int(np.argmax(snippet_attention))
    cmap = matplotlib.colormaps['viridis']
    wmax = max(float(frame_weights.max()), 1e-6)
    fig = Figure(figsize=(1.45 * J + 3.6, 1.55 * n + 1.0), layout='constrained')
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(n, J + 1, width_ratios=[1] * J + [2.2])
    bar_ax = fig.add_subplot(grid[:, J])
    for i in range(n):
        for j in range(J):
            ax = fig.add_subplot(grid[i, j])
            k = i * J + j
            ax.imshow(frames[k], interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            w = float(frame_weights[i, j])
            colour = cmap(w / wmax)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(1 + 4 * w / wmax)
            label = f'w={w:.2f}'
            if frame_inds is not None:
                label = f'#{int(frame_inds[k])}  ' + label
            ax.set_xlabel(label, fontsize=7, labelpad=1)
            if j == 0:
                ax.set_ylabel(f'snippet {i + 1}', fontsize=8,
                              color='green' if i == best else 'black',
                              fontweight='bold' if i == best else 'normal')
            if i == best:
                ax.add_patch(Rectangle((-0.03, -0.03), 1.06, 1.06, transform=ax.transAxes,
                                       fill=False, edgecolor='limegreen', linewidth=2.5,
                                       clip_on=False, zorder=5))
    ys = np.arange(n)
    colours = ['limegreen' if i == best else 'tab:blue' for i in range(n)]
    bar_ax.barh(ys, snippet_attention, color=colours)
    bar_ax.set_ylim(n - 0.5, -0.5)
    bar_ax.set_yticks(ys)
    bar_ax.set_yticklabels([str(i + 1) for i in ys], fontsize=8)
    bar_ax.set_xlim(0, max(float(snippet_attention.max()) * 1.25, 1e-6))
    for i, a in enumerate(snippet_attention):
        bar_ax.text(float(a), i, f' {a:.2f}', va='center', fontsize=7)
    bar_ax.set_xlabel('decoder attention', fontsize=8)
    bar_ax.set_title('snippet attention', fontsize=9)
    bar_ax.tick_params(labelsize=7)
    top = ''
    if probs is not None and classes is not None:
        top = '\ntop classes: ' + ', '.join(f'{classes[c]} {100 * probs[c]:.0f} %'
                                            for c in np.argsort(probs)[::-1][:3])
    fig.suptitle(title + top + '\nframe border and w: AA-SFE weight of the frame within its '
                 'snippet; green: most attended snippet', fontsize=9)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


@torch.no_grad()
def attention_figures(config, checkpoint, out_dir: str, indices: Optional[Sequence[int]] = None,
                      split: str = 'test', cfg_options: Optional[dict] = None,
                      device: str = 'cpu') -> List[Dict]:
    """One PNG per sample index (default: the first 4) in ``out_dir``; returns per-sample
    summaries (path, true and predicted class, snippet attention)."""
    from .features import explain, load_for_analysis
    model, dataset, classes = load_for_analysis(config, checkpoint, split, cfg_options, device)
    if indices is None:
        indices = list(range(min(4, len(dataset))))
    n, J = model.neck.num_snippets, model.neck.frames_per_snippet
    out = []
    for idx in indices:
        idx = int(idx)
        if not 0 <= idx < len(dataset):
            raise IndexError(f'sample index {idx} outside the {split} split '
                             f'(0..{len(dataset) - 1})')
        packed = run_pipeline(dataset, idx)
        data = model.data_preprocessor(dict(inputs=[packed['inputs']],
                                            data_samples=[packed['data_samples']]), False)
        res = explain(model, data['inputs'].to(device))
        probs = res['logits'][0].float().softmax(-1).cpu().numpy()
        weights = res['frame_weights'][0].float().cpu().numpy().reshape(n, J)
        attention = res['snippet_attention'][0].float().cpu().numpy()
        frames = packed['inputs'].reshape(-1, *packed['inputs'].shape[-3:])[:n * J]
        frames = frames.permute(0, 2, 3, 1).cpu().numpy().astype(np.uint8)  # [n·J, H, W, 3]
        true = int(packed['data_samples'].gt_label.item())
        pred = int(probs.argmax())
        name = osp.basename(str(packed['source']).rstrip('/'))
        title = (f'{split} #{idx} ({name}): true {classes[true]} — predicted {classes[pred]} '
                 f'({100 * probs[pred]:.0f} %)' + ('' if pred == true else '  ✗'))
        path = osp.join(out_dir, f'{split}_{idx:05d}_{osp.splitext(name)[0]}.png')
        plot_attention(frames, weights, attention, path, title, packed['frame_inds'], probs,
                       classes)
        out.append(dict(index=idx, path=path, source=str(packed['source']),
                        true=classes[true], pred=classes[pred],
                        snippet_attention=attention.tolist(), frame_weights=weights.tolist()))
    return out
