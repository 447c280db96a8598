# Paper Table 6 row 1: the baseline Transformer. Snippet feature = mean of its 5 frame features
# (no AA-SFE attention), no SSOP. Builds 33.32 M parameters; the paper's 34.37 M evidently counts
# the unused AA-SFE attention (1.05 M) as well — we do not pad the model to match.
_base_ = ['../est_r18_dfew.py']

model = dict(
    neck=dict(mode='mean'),
    cls_head=dict(ssop=None))
