# EST with torchvision's MobileNetV3-Small (any `torchvision.<model>` works the same way; its
# classifier is dropped and the `features` output pooled). 576-d features projected to d = 512.
_base_ = ['./est_r18_dfew.py']

model = dict(
    backbone=dict(_delete_=True, type='torchvision.mobilenet_v3_small', weights=None),
    neck=dict(in_channels=576))
