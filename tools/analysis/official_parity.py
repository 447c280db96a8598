"""Numerical parity with the authors' own EST code (github DreamMr/EST), run unmodified from a
checkout outside this repository: their model with random weights is saved in their checkpoint
format, converted with tools/convert/official_est.py's mapping, loaded into est_mm, and both models
run on the same clips.

Compared: eval class probabilities in float32 (after the class re-ordering; --tol), and in
training mode (dropout off, BatchNorm on batch statistics, the same SSOP permutation per clip) the
class logits, the SSOP logits, the loss, every parameter's gradient and the BatchNorm running
statistics. Training mode runs in float64 (--train-tol): the SSOP branch's BatchNorm over a small
batch amplifies float32 rounding (summation order) to ~1e-4, which would hide a real difference.
Exits 1 if any difference exceeds its tolerance.
"""
import argparse
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('official_repo', help='a checkout of github.com/DreamMr/EST (its '
                        'models/Model.py is imported from there; nothing of it is copied)')
    parser.add_argument('--config', default='configs/est_r18_dfew.py',
                        help='est_mm config to compare (default: %(default)s)')
    parser.add_argument('--batch', type=int, default=2, help='clips per batch (default: 2)')
    parser.add_argument('--size', type=int, default=224, help='frame size (default: 224)')
    parser.add_argument('--seed', type=int, default=0, help='seed for weights and clips')
    parser.add_argument('--tol', type=float, default=1e-5,
                        help='largest allowed absolute difference in eval, float32 '
                        '(default: 1e-5)')
    parser.add_argument('--train-tol', type=float, default=1e-7,
                        help='largest allowed absolute difference in training mode, float64 '
                        '(default: 1e-7)')
    return parser.parse_args()


def randomise(model, torch):
    """Random values everywhere (BatchNorm statistics and LayerNorm gains too), so a mapping
    mistake cannot hide behind default ones and zeros; the fixed positional table is kept."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point() or name.startswith('pos_enc'):
                continue
            if name.endswith('running_var'):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            else:
                t.add_(0.05 * torch.randn(t.shape, generator=gen))


def no_dropout(model, torch):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if isinstance(m, torch.nn.MultiheadAttention):
            m.dropout = 0.0


def main():
    args = parse_args()
    from tools.argtypes import load_tool_config
    cfg = load_tool_config(args)  # one line for a config that cannot be read
    import torch
    import torch.nn.functional as F

    import est_mm  # noqa: F401
    from est_mm.convert.official_est import (convert_official_checkpoint, est_mm_key,
                                            official_state_dict)
    if not torch.cuda.is_available():  # the official PosEncoding calls .cuda(); keep it on CPU
        torch.Tensor.cuda = lambda self, *a, **k: self
    sys.path.insert(0, osp.abspath(args.official_repo))
    from models.Model import resnet18_EST  # noqa: E402  (the official code)

    torch.manual_seed(args.seed)
    official = resnet18_EST(clips=7, img_num_per_clip=5, d_model=512, nhead=4, encoder_nums=3,
                            decoder_nums=3, use_norm=True, per_classes=10)
    randomise(official, torch)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'official.pth')
        torch.save({'epoch': 1, 'prec1': 0.0,
                    'state_dict': {f'module.{k}': v for k, v in official.state_dict().items()}},
                   path)
        converted = convert_official_checkpoint(path, cfg)
    from mmaction.registry import MODELS
    ours = MODELS.build(cfg.model)
    ours.load_state_dict(converted['state_dict'], strict=True)
    classes = converted['meta']['dataset_meta']['classes']
    from est_mm.convert.official_est import class_order
    order = class_order(classes, 'parity')
    print(f'official: {sum(p.numel() for p in official.parameters()):,} parameters '
          f'({sum(p.numel() for p in official.parameters() if p.requires_grad):,} trainable); '
          f'est_mm: {sum(p.numel() for p in ours.parameters()):,}')

    B, n, J, S = args.batch, 7, 5, args.size
    clips = torch.rand(B, n, J, 3, S, S, generator=torch.Generator().manual_seed(args.seed))
    identity = torch.arange(n).repeat(B, 1)
    worst = {}

    def report(name, a, b, tol):
        diff = (a - b).abs().max().item()
        worst[name] = (diff, tol)
        print(f'{name:<44} max |diff| {diff:.2e}  (tol {tol:g})')

    # eval: class probabilities
    official.eval()
    ours.eval()
    with torch.no_grad():
        o_logits, _ = official(clips, per=identity)
        m_logits = ours.forward_explain(clips.flatten(1, 2))[0]
    report('eval class probabilities (float32)', F.softmax(o_logits, 1)[:, order],
           F.softmax(m_logits, 1), args.tol)

    # training mode: same permutation per clip, dropout off, batch statistics
    official.train()
    ours.train()
    no_dropout(official, torch)
    no_dropout(ours, torch)
    official.double()
    ours.double()
    clips = clips.double()
    perms = ours.cls_head.ssop.permutations
    index = torch.arange(B) % len(perms)
    order_t = perms[index]
    shuffled = torch.stack([clips[b, order_t[b]] for b in range(B)])
    labels = torch.arange(B) % len(classes)
    o_cls, o_per = official(shuffled, per=order_t)
    o_loss = F.cross_entropy(o_cls, torch.as_tensor(order)[labels]) + \
        0.1428 * F.cross_entropy(o_per, index)
    o_loss.backward()
    R, _ = ours.extract_feat(clips.flatten(1, 2), stage='neck')
    head = ours.cls_head
    T, _ = head.encode(R)
    m_cls = head.classifier(T)
    m_per, _ = head.ssop(R.detach(), T, index)
    m_loss = F.cross_entropy(m_cls, labels) + head.loss_ssop(m_per, index)
    m_loss.backward()
    report('train class logits', o_cls[:, order], m_cls, args.train_tol)
    report('train SSOP logits', o_per, m_per, args.train_tol)
    report('train loss', o_loss.detach(), m_loss.detach(), args.train_tol)
    ours_params = dict(ours.named_parameters())
    grad_diff, stat_diff = 0.0, 0.0
    for name, p in official.named_parameters():
        if not p.requires_grad:
            continue
        mine = ours_params[est_mm_key(name)]
        g, mg = p.grad, mine.grad
        if name.startswith('classifier.5.0'):
            g = g[order]
        if name == 'query_embed.weight':
            mg = mg.reshape(g.shape)
        grad_diff = max(grad_diff, (g - mg).abs().max().item())
    report('train gradients (all parameters)', torch.tensor(grad_diff), torch.tensor(0.0),
           args.train_tol)
    mine_state = ours.state_dict()
    for name, t in official_state_dict({'state_dict': official.state_dict()}, 'x').items():
        if 'running' in name:
            stat_diff = max(stat_diff, (t - mine_state[est_mm_key(name)]).abs().max().item())
    report('BatchNorm running statistics', torch.tensor(stat_diff), torch.tensor(0.0),
           args.train_tol)
    bad = {k: v for k, (v, tol) in worst.items() if not v <= tol}
    if bad:
        raise SystemExit('parity FAILED: ' + ', '.join(f'{k} {v:.2e}' for k, v in bad.items()))
    print('parity OK: every difference within its tolerance')


if __name__ == '__main__':
    main()
