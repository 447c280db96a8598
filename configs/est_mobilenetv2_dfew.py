# EST with mmaction2's MobileNetV2 backbone (1280-d frame features, projected to d = 512).
_base_ = ['./est_r18_dfew.py']

model = dict(
    backbone=dict(_delete_=True, type='MobileNetV2', pretrained=None, widen_factor=1.0),
    neck=dict(in_channels=1280))
