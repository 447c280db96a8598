"""Run a trained EST over a dataset split and keep what the analyses need: the decoder output T,
the predictions, the AA-SFE frame weights and the decoder's snippet attention."""
import copy
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .common import build_model, load_config

SPLITS = ('train', 'val', 'test')


def build_split_dataset(cfg, split: str = 'test'):
    """The ``split`` dataset of the config, read with the *test* pipeline (deterministic snippet
    sampling, no flips) and ``test_mode=True`` whatever the split."""
    from mmaction.registry import DATASETS
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise ValueError(f'the config has no {split}_dataloader')
    spec = copy.deepcopy(loader.dataset)
    spec.pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    spec.test_mode = True
    return DATASETS.build(spec)


@torch.no_grad()
def explain(model, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Normalised clips [N, F, 3, H, W] → dict(T [N, d], logits [N, K],
    frame_weights [N, n, J], snippet_attention [N, n]): :meth:`ESTRecognizer.forward_explain`
    plus the decoder output T."""
    x = model.frame_features(inputs.flatten(0, 1))
    R, frame_weights = model.neck(x.view(inputs.shape[0], -1, x.shape[-1]), return_weights=True)
    T, attention = model.cls_head.encode(R)
    return dict(T=T, logits=model.cls_head.classifier(T), frame_weights=frame_weights,
                snippet_attention=attention)


def sample_indices(length: int, max_samples: Optional[int], seed: int = 0) -> np.ndarray:
    """All of ``range(length)`` or, with ``max_samples`` smaller, a random sorted subset."""
    if max_samples is None or max_samples >= length:
        return np.arange(length)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(length, max_samples, replace=False))


@torch.no_grad()
def extract(model, dataset, indices: Sequence[int], batch_size: int = 8,
            device: str = 'cpu', num_workers: int = 0) -> Dict[str, np.ndarray]:
    """Runs :func:`explain` on ``dataset[i]`` for the given indices; returns numpy arrays T
    [N, d], logits [N, K], frame_weights [N, n, J], snippet_attention [N, n], labels [N],
    preds [N] and indices [N]."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader, Subset
    loader = DataLoader(Subset(dataset, [int(i) for i in indices]), batch_size=batch_size,
                        shuffle=False, num_workers=num_workers, collate_fn=pseudo_collate)
    model.eval().to(device)
    out = {k: [] for k in ('T', 'logits', 'frame_weights', 'snippet_attention', 'labels')}
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        res = explain(model, data['inputs'].to(device))
        for k, v in res.items():
            out[k].append(v.float().cpu().numpy())
        out['labels'].append(np.array([int(s.gt_label.item()) for s in data['data_samples']]))
    result = {k: np.concatenate(v) for k, v in out.items()}
    result['preds'] = result['logits'].argmax(1)
    result['indices'] = np.asarray(indices, dtype=np.int64)
    return result


def load_for_analysis(config, checkpoint: Optional[str], split: str = 'test',
                      cfg_options: Optional[dict] = None, device: str = 'cpu'):
    """(model in eval mode with the checkpoint, the split's dataset read with the test pipeline
    as the checkpoint's spec says, class names)."""
    cfg = load_config(config, cfg_options)
    model, spec = build_model(cfg, checkpoint, device)
    return model, build_split_dataset(cfg, split), list(spec.classes)
