"""EST model components: shapes, AA-SFE weights, SSOP permutations and labels, parameter counts."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.models import AASFE, ESTHead, max_hamming_permutations
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
register_all_modules()


def build_from(config):
    return MODELS.build(Config.fromfile(osp.join(ROOT, 'configs', config)).model)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('config,paper_m', [
    ('est_r18_dfew.py', 42.78),  # Table 6 row 3
    ('ablation/est-aasfe_r18_dfew.py', 34.37),  # Table 6 row 2
])
def test_parameter_counts_match_paper(config, paper_m):
    assert n_params(build_from(config)) / 1e6 == pytest.approx(paper_m, rel=0.01)


def test_baseline_parameter_count_is_the_paper_minus_unused_attention():
    baseline = n_params(build_from('ablation/transformer-baseline_r18_dfew.py'))
    aasfe = n_params(build_from('ablation/est-aasfe_r18_dfew.py'))
    # the paper reports 34.37 M for both rows; our baseline lacks the (unused) 512-d attention + LN
    assert aasfe - baseline == 4 * 512 * 512 + 4 * 512 + 2 * 512
    assert baseline / 1e6 == pytest.approx(33.32, abs=0.01)


@pytest.mark.slow  # the 224x224 forward of the DFEW config
def test_full_size_input_gives_seven_scores():
    model = build_from('est_r18_dfew.py').eval()
    with torch.no_grad():
        scores, _ = model.extract_feat(torch.rand(1, 35, 3, 224, 224), stage='head')
    assert scores.shape == (1, 7)
    assert torch.isfinite(scores).all()


def test_aasfe_weights_sum_to_one_and_output_is_their_mix():
    torch.manual_seed(0)
    neck = AASFE(in_channels=32, embed_dims=16, num_heads=2).eval()
    x = torch.randn(3, 35, 32)
    out, w = neck(x, return_weights=True)
    assert out.shape == (3, 7, 16) and w.shape == (3, 7, 5)
    assert torch.allclose(w.sum(-1), torch.ones(3, 7), atol=1e-5)
    assert (w > 0).all()
    # R is a convex combination of the attended frame features: recompute it independently
    r = neck.proj(x).view(21, 5, 16)
    r = neck.norm(r + neck.self_attn(r, r, r)[0])
    g = r.max(1, keepdim=True).values
    alpha = F.cosine_similarity(r, g, dim=-1).clamp(min=1e-8)
    ref = (alpha[..., None] * r).sum(1) / alpha.sum(1, keepdim=True)
    assert torch.allclose(out.view(21, 16), ref, atol=1e-5)


def test_aasfe_mean_mode_is_the_baseline_mean():
    neck = AASFE(in_channels=8, embed_dims=8, mode='mean')
    x = torch.randn(2, 35, 8)
    assert torch.allclose(neck(x), x.view(2, 7, 5, 8).mean(2))
    assert not any(True for _ in neck.parameters())


def test_aasfe_rejects_wrong_frame_count():
    with pytest.raises(ValueError, match='7×5=35 frames'):
        AASFE(in_channels=8, embed_dims=8, num_heads=2)(torch.randn(1, 30, 8))


def test_permutations_are_fixed_distinct_and_exclude_identity():
    p = max_hamming_permutations(7, 10, seed=0)
    assert p.shape == (10, 7)
    assert np.array_equal(p, max_hamming_permutations(7, 10, seed=0))
    assert all(sorted(row) == list(range(7)) for row in p.tolist())
    assert len({tuple(row) for row in p.tolist()}) == 10
    assert (p != np.arange(7)).sum(1).min() >= 5  # far from the identity, never the identity
    with pytest.raises(ValueError):
        max_hamming_permutations(3, 6)  # only 5 non-identity permutations of 3 exist


def small_head(ssop=(), **kw):
    """A small ESTHead; ``ssop``: keys of its ``ssop`` entry, or None for no branch."""
    args = dict(num_classes=4, in_channels=32, num_heads=2, ffn_channels=64, mlp_channels=(16, 8),
                ssop=None if ssop is None else dict(dict(hidden=(64, 16)), **dict(ssop)))
    args.update(kw)
    return ESTHead(**args)


def samples(labels):
    return [ActionDataSample().set_gt_label(torch.tensor(lb)) for lb in labels]


def test_ssop_labels_match_the_applied_permutation():
    torch.manual_seed(1)
    head = small_head()
    R, T = torch.randn(16, 7, 32), torch.randn(16, 32)
    O, index = head.ssop.shuffle(R, T)
    perms = head.ssop.permutations
    for b in range(16):
        assert torch.equal(O[b], (R[b] + T[b])[perms[index[b]]])
    assert index.unique().numel() > 1


def test_permutations_are_stored_in_the_checkpoint():
    head = small_head(ssop=dict(seed=3))
    state = head.state_dict()
    assert torch.equal(state['ssop.permutations'],
                       torch.as_tensor(max_hamming_permutations(7, 10, seed=3)))
    other = small_head(ssop=dict(seed=4))
    other.load_state_dict(state)
    assert torch.equal(other.ssop.permutations, head.ssop.permutations)


def ssop_loss_and_grad(head, feats, seed, detach_in_reference=None):
    """loss_ssop from head.loss, or (reference) recomputed by hand; both with the same draws."""
    feats = feats.clone().requires_grad_(True)
    torch.manual_seed(seed)
    if detach_in_reference is None:
        loss = head.loss(feats, samples([0, 1, 2, 3]))['loss_ssop']
    else:
        T, _ = head.encode(feats)
        logits, target = head.ssop.shuffle(feats.detach() if detach_in_reference else feats, T)
        logits = head.ssop.classifier(logits.flatten(1))
        loss = head.loss_ssop.loss_weight * F.cross_entropy(logits, target)
    loss.backward()
    return loss.detach(), feats.grad


def test_ssop_loss_is_weighted_by_loss_ssop_and_the_branch_absent_at_ssop_none():
    torch.manual_seed(0)
    feats, data = torch.randn(4, 7, 32), samples([0, 1, 2, 3])
    loss_ssop = dict(type='CrossEntropyLoss', loss_weight=0.5)
    head = small_head(loss_ssop=loss_ssop).eval()  # eval: no dropout, BN running stats
    loss, _ = ssop_loss_and_grad(head, feats, seed=7)
    ref, _ = ssop_loss_and_grad(head, feats, seed=7, detach_in_reference=True)
    assert loss > 0 and torch.allclose(loss, ref)

    # the weight only weighs: at 0 the branch and its parameters stay
    zero = small_head(loss_ssop=dict(loss_ssop, loss_weight=0.0))
    assert list(zero.state_dict()) == list(head.state_dict())
    assert zero.loss(feats, data)['loss_ssop'] == 0

    plain = small_head(ssop=None)
    assert plain.ssop is None
    assert not any('ssop' in k for k in plain.state_dict())
    assert 'loss_ssop' not in plain.loss(feats, data)


def test_ssop_detach_stops_gradient_through_snippet_features():
    torch.manual_seed(0)
    feats = torch.randn(4, 7, 32)
    loss_ssop = dict(type='CrossEntropyLoss', loss_weight=1.0)
    detached = small_head(ssop=dict(detach=True), loss_ssop=loss_ssop).eval()
    attached = small_head(ssop=dict(detach=False), loss_ssop=loss_ssop).eval()
    attached.load_state_dict(detached.state_dict())
    _, g_det = ssop_loss_and_grad(detached, feats, seed=3)
    _, g_att = ssop_loss_and_grad(attached, feats, seed=3)
    _, g_ref_det = ssop_loss_and_grad(detached, feats, seed=3, detach_in_reference=True)
    _, g_ref_att = ssop_loss_and_grad(detached, feats, seed=3, detach_in_reference=False)
    assert torch.allclose(g_det, g_ref_det, atol=1e-6)  # only the path through T remains
    assert torch.allclose(g_att, g_ref_att, atol=1e-6)
    assert not torch.allclose(g_det, g_att, atol=1e-6)


def test_shuffling_after_transformer_equals_shuffling_its_input():
    """Why SSOP can shuffle inside the head, after the Transformer: with each snippet's
    position code travelling with it, the encoder is permutation-equivariant and the one-query
    decoder invariant, so T does not change when the input snippets are shuffled."""
    torch.manual_seed(0)
    head = small_head().eval()
    R = torch.randn(2, 7, 32)
    src = R + head.pos_embed
    query = head.query.expand(2, -1, -1)
    T, attn = head.transformer(src, query)
    perm = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    T_shuf, attn_shuf = head.transformer(src[:, perm], query)
    assert torch.allclose(T, T_shuf, atol=1e-5)
    assert torch.allclose(attn[..., perm], attn_shuf, atol=1e-6)


def test_snippet_attention_is_a_distribution_over_snippets():
    head = small_head().eval()
    T, attn = head.encode(torch.randn(3, 7, 32))
    assert T.shape == (3, 32) and attn.shape == (3, 7)
    assert torch.allclose(attn.sum(-1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize('config', [
    'est_mobilenetv2_dfew.py', 'est_tv-mobilenetv3s_dfew.py', 'est_r50_dfew.py'])
def test_backbone_swaps_train_by_config_alone(config):
    model = build_from(config)
    data = dict(inputs=[torch.randint(0, 255, (35, 3, 32, 32), dtype=torch.uint8)
                        for _ in range(2)],
                data_samples=samples([1, 5]))
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    assert {'loss_cls', 'loss_ssop'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.neck.proj.weight.grad is not None  # backbone width projected to d = 512


def test_predict_averages_views_into_one_score_per_sample():
    model = build_from('est_r18_dfew.py').eval()
    inputs = torch.rand(2, 2 * 35, 3, 32, 32)  # 2 views per sample
    with torch.no_grad():
        preds = model(inputs, samples([0, 1]), mode='predict')
    assert len(preds) == 2
    for p in preds:
        assert p.pred_score.shape == (7, )
        assert torch.isclose(p.pred_score.sum(), torch.tensor(1.0), atol=1e-5)
