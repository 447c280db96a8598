# EST with a ResNet-50 backbone (mmaction2's ResNet): 2048-d frame features are projected to the
# Transformer's d = 512 inside AA-SFE.
_base_ = ['./est_r18_dfew.py']

model = dict(
    backbone=dict(depth=50),
    neck=dict(in_channels=2048))
