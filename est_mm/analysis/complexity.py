"""Parameters, MACs and throughput of an EST (or any mmaction2 recognizer) config at its real input
shape, per part: backbone / AA-SFE / Transformer / classifier / SSOP (paper Table 6, Table 10).

MACs come from tracing ``model.extract_feat(inputs, stage='head')`` with mmengine's
:class:`~mmengine.analysis.FlopAnalyzer` (fvcore's conventions: one multiply-add per MAC for conv,
linear, matmul and attention; norm layers as mmengine counts them; element-wise ops such as ReLU,
residual adds and pooling are not counted), so any backbone that traces works. The SSOP branch
only runs in training: it is traced on its own, on R [B, n, d] and T [B, d] of the right shapes.
"""
import math
import os.path as osp
import time
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ..inference_spec import spec_from_config
from .common import build_model, frames_per_clip, load_config, machine_info

#: The parts of a model the report breaks down: (label, module-name prefixes).
PARTS = (
    ('backbone', ('backbone', )),
    ('AA-SFE', ('neck', )),
    ('Transformer', ('cls_head.transformer', 'cls_head.query')),
    ('classifier', ('cls_head.classifier', 'cls_head.fc_cls')),
    ('SSOP', ('cls_head.ssop', )),
)

#: Paper Table 6 (ResNet-18, 35 × 224² input): config file name → (params M, MACs G).
PAPER_TABLE6 = {
    'transformer-baseline_r18_dfew.py': (34.37, 63.85),
    'est-aasfe_r18_dfew.py': (34.37, 63.88),
    'est_r18_dfew.py': (42.78, 63.89),
}


def part_of(name: str, parts=PARTS) -> str:
    """The label of the part a parameter/module name belongs to ('other' if none)."""
    for label, prefixes in parts:
        if any(name == p or name.startswith(p + '.') for p in prefixes):
            return label
    return 'other'


def count_params(model: nn.Module) -> Dict[str, int]:
    """Parameters per part (all parameters, trainable or not), plus 'total'."""
    out = OrderedDict((label, 0) for label, _ in PARTS)
    out['other'] = 0
    for name, p in model.named_parameters():
        out[part_of(name)] += p.numel()
    out['total'] = sum(p.numel() for p in model.parameters())
    return out


def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """MACs of ``aten::scaled_dot_product_attention``: q [.., L, E], k [.., S, E], v [.., S, Ev]
    → QKᵀ (L·S·E) + attention × V (L·S·Ev) per batch×head."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = math.prod(q[:-2])
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def native_mha_flop_jit(inputs: List, outputs: List) -> int:
    """MACs of ``aten::_native_multi_head_attention`` (nn.MultiheadAttention's inference fast
    path): q/k/v in-projections, QKᵀ, attention × V and the out-projection."""
    from mmengine.analysis.jit_handles import get_shape
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    batch, lq, e = math.prod(q[:-2]), q[-2], q[-1]
    lk = k[-2]
    return batch * (lq * e * e + 2 * lk * e * e + 2 * lq * lk * e + lq * e * e)


class _Traced(nn.Module):
    """Wraps a callable of a model so FlopAnalyzer can trace it; modules keep their names."""

    def __init__(self, model: nn.Module, fn):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *args):
        out = self.fn(*args)
        return out[0] if isinstance(out, tuple) else out


def _analyze(model: nn.Module, fn, inputs: tuple):
    from mmengine.analysis import FlopAnalyzer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer warnings about Python bools of shapes
        analyzer = FlopAnalyzer(_Traced(model, fn), inputs)
        analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit,
                               'aten::_native_multi_head_attention', native_mha_flop_jit)
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = analyzer.total()
        by_module = {k[len('model.'):]: v for k, v in analyzer.by_module().items()
                     if k.startswith('model.')}
        unsupported = dict(analyzer.unsupported_ops())
    return total, by_module, unsupported


def count_macs(model: nn.Module, shape: Sequence[int]) -> Dict:
    """MACs of one inference forward on inputs of ``shape`` ([N, F, 3, H, W]), per part.

    Returns dict(total=int, parts={label: int}, unsupported={op: count}) where the parts are
    summed over the top-level modules of each part ('other' = the rest of the total)."""
    inputs = torch.zeros(*shape)
    model.eval()
    with torch.no_grad():
        total, by_module, unsupported = _analyze(
            model, lambda x: model.extract_feat(x, stage='head'), (inputs, ))
    parts = OrderedDict((label, 0) for label, _ in PARTS)
    for label, prefixes in PARTS:
        parts[label] = sum(by_module.get(p, 0) for p in prefixes)
    parts['other'] = total - sum(parts.values())
    return dict(total=int(total), parts=parts, unsupported=unsupported)


def count_ssop_macs(model: nn.Module, batch: int = 1) -> int:
    """MACs of the SSOP branch (training only) on R [batch, n, d] and T [batch, d]; 0 without
    one."""
    head = getattr(model, 'cls_head', None)
    ssop = getattr(head, 'ssop', None)
    if ssop is None:
        return 0
    n, d = head.num_snippets, head.in_channels
    R, T = torch.zeros(batch, n, d), torch.zeros(batch, d)
    ssop.eval()  # BatchNorm in eval mode traces with a batch of 1
    with torch.no_grad():
        total, _, _ = _analyze(ssop, lambda r, t: ssop(r, t), (R, T))
    return int(total)


@torch.no_grad()
def measure_throughput(model: nn.Module, shape: Sequence[int], iters: int = 3,
                       warmup: int = 1, device: str = 'cpu') -> Dict:
    """Eval-mode, no-grad inference speed on random inputs of ``shape``: median seconds per
    forward, clips/s and frames/s (frames = F of [N, F, 3, H, W])."""
    model.eval().to(device)
    x = torch.rand(*shape, device=device)
    times = []
    for i in range(warmup + iters):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        t = time.perf_counter()
        model.extract_feat(x, stage='head')
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    sec = sorted(times)[len(times) // 2]
    return dict(iters=iters, seconds_per_forward=sec, clips_per_s=shape[0] / sec,
                frames_per_s=shape[0] * shape[1] / sec, device=device)


def paper_attention_params(cfg) -> Optional[int]:
    """For a neck in ``mode='mean'`` (Table 6 row 1): the parameters the AA-SFE attention would
    add (the paper's 34.37 M for that row counts them). None for other necks."""
    from mmaction.registry import MODELS
    neck = cfg.model.get('neck')
    if not neck or neck.get('type') != 'AASFE' or neck.get('mode') != 'mean':
        return None
    mean = MODELS.build(dict(neck))
    attention = MODELS.build(dict(neck, mode='attention'))
    return sum(p.numel() for p in attention.parameters()) - sum(
        p.numel() for p in mean.parameters())


def complexity_report(config, shape: Optional[Sequence[int]] = None,
                      cfg_options: Optional[dict] = None, throughput_iters: int = 3,
                      device: str = 'cpu') -> Dict:
    """Everything :func:`format_report` prints, as a JSON-ready dict.

    ``shape`` defaults to [1, T, 3, H, W]: the config's :class:`InferenceSpec` clip length (35)
    and frame size (224×224 without a fixed-size Resize). ``throughput_iters=0`` skips the
    speed measurement."""
    cfg = load_config(config, cfg_options)
    torch.manual_seed(0)
    model, _ = build_model(cfg)
    if shape is None:
        try:
            spec = spec_from_config(cfg)
            frames, size = spec.clip_len, spec.frame_size
        except ValueError:  # not an EST config (no SnippetSampling)
            frames, size = frames_per_clip(model), None
        h, w = size or (224, 224)
        shape = (1, frames, 3, h, w)
    shape = tuple(int(s) for s in shape)
    t = time.perf_counter()
    macs = count_macs(model, shape)
    ssop = count_ssop_macs(model, shape[0])
    trace_s = time.perf_counter() - t
    report = dict(
        config=str(config) if not hasattr(config, 'filename') else config.filename,
        shape=list(shape),
        params=count_params(model),
        macs=dict(inference=macs['total'], parts=macs['parts'], ssop_training=ssop,
                  with_ssop=macs['total'] + ssop,
                  not_counted_ops=macs['unsupported']),
        trace_seconds=trace_s,
    )
    extra = paper_attention_params(cfg)
    if extra is not None:
        report['paper_style_params'] = dict(
            unused_attention=extra, total=report['params']['total'] + extra,
            note=("neck mode='mean' (Table 6 row 1): the model builds "
                  f"{report['params']['total'] / 1e6:.2f} M parameters; the paper's figure for "
                  f"this row evidently also counts the unused AA-SFE attention (+{extra / 1e6:.2f}"
                  f" M) = {(report['params']['total'] + extra) / 1e6:.2f} M"))
    paper = PAPER_TABLE6.get(osp.basename(report['config']))
    if paper is not None and shape[1:] == (35, 3, 224, 224) and shape[0] == 1:
        params_m = report.get('paper_style_params', {}).get('total',
                                                          report['params']['total']) / 1e6
        macs_g = report['macs']['with_ssop'] / 1e9
        report['paper_table6'] = dict(
            params_m=paper[0], macs_g=paper[1], ours_params_m=params_m, ours_macs_g=macs_g,
            params_diff_pct=100 * (params_m - paper[0]) / paper[0],
            macs_diff_pct=100 * (macs_g - paper[1]) / paper[1])
    if throughput_iters > 0:
        report['throughput'] = measure_throughput(model, shape, throughput_iters, device=device)
    report['machine'] = machine_info()
    return report


def format_report(report: Dict) -> str:
    """The report as a plain-text table."""
    p, m = report['params'], report['macs']
    shape = 'x'.join(str(s) for s in report['shape'])
    lines = [f"{report['config']}  input [N, F, 3, H, W] = {shape}",
             f"{'part':<12} {'params (M)':>11} {'MACs (G)':>10}"]
    for label in [label for label, _ in PARTS] + ['other']:
        macs = m['ssop_training'] if label == 'SSOP' else m['parts'].get(label, 0)
        if p.get(label, 0) == 0 and macs == 0:
            continue
        note = '  (training only)' if label == 'SSOP' else ''
        lines.append(f'{label:<12} {p.get(label, 0) / 1e6:>11.3f} {macs / 1e9:>10.4f}{note}')
    lines.append(f"{'total':<12} {p['total'] / 1e6:>11.3f} {m['inference'] / 1e9:>10.4f}"
                 '  (inference)')
    if m['ssop_training']:
        lines.append(f"{'':<12} {'':>11} {m['with_ssop'] / 1e9:>10.4f}  (with SSOP, training "
                     'graph)')
    if report.get('paper_style_params'):
        lines.append('note: ' + report['paper_style_params']['note'])
    if report.get('paper_table6'):
        t = report['paper_table6']
        lines.append(f"paper Table 6: {t['params_m']:.2f} M, {t['macs_g']:.2f} G MACs; here "
                     f"{t['ours_params_m']:.2f} M ({t['params_diff_pct']:+.2f} %), "
                     f"{t['ours_macs_g']:.2f} G ({t['macs_diff_pct']:+.2f} %)")
    ops = ', '.join(sorted(m['not_counted_ops']))
    lines.append(f'not counted (element-wise / pooling, fvcore convention): {ops or "none"}')
    if report.get('throughput'):
        t = report['throughput']
        lines.append(f"throughput ({t['device']}, eval, no grad, batch {report['shape'][0]}, "
                     f"median of {t['iters']}): {t['seconds_per_forward'] * 1e3:.0f} ms/forward"
                     f", {t['clips_per_s']:.2f} clips/s, {t['frames_per_s']:.1f} frames/s")
    from .common import machine_line
    lines.append(machine_line(report['machine']))
    return '\n'.join(lines)
