# Robustness to missing frames (paper §4.4.2, Table 9): the test pipeline of est_r18_dfew.py with
# the middle `missing_frames` of the 35 sampled frames zeroed (ZeroFillFrames, after decoding).
# The paper does not say how many frames it zeroes; other counts without a new file:
#   --cfg-options test_dataloader.dataset.pipeline.3.num_frames=20
# A checkpoint trained without SSOP (configs/ablation/est-aasfe_r18_dfew.py) is tested with
#   --cfg-options model.cls_head.ssop=None
_base_ = ['../est_r18_dfew.py']

missing_frames = 10

test_pipeline = [
    dict(type='VideoOrFramesInit'),
    {{_base_.test_sampling}},  # _base_/snippet.py
    dict(type='VideoOrFramesDecode'),
    dict(type='ZeroFillFrames', num_frames=missing_frames, position='middle'),  # index 3
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
