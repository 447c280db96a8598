# EST-R18 on the built-in toy dataset (tools/data/make_toy_dataset.py): 64×64 frames, a short
# schedule that trains on 2 CPU cores in minutes. Everything else is the paper's recipe.
_base_ = ['./est_r18_dfew.py']

data_root = 'data/toy_dfew'
frame_size = 64
max_epochs = 16
warmup_epochs = 2  # the paper's 10 warm-up epochs would swallow a short toy run

train_pipeline = [
    dict(type='VideoOrFramesInit'),
    {{_base_.snippet_sampling}},  # _base_/snippet.py
    dict(type='VideoOrFramesDecode'),
    dict(type='Resize', scale=(frame_size, frame_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='VideoOrFramesInit'),
    {{_base_.test_sampling}},
    dict(type='VideoOrFramesDecode'),
    dict(type='Resize', scale=(frame_size, frame_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
test_dataloader = dict(
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [  # the official per-epoch formula (schedules/adam_cosine_160e.py), shorter
    dict(type='LinearLR', start_factor=1 / warmup_epochs, end_factor=1.0, by_epoch=True,
         begin=0, end=warmup_epochs),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
default_hooks = dict(
    checkpoint=dict(interval=4, max_keep_ckpts=1),
    logger=dict(interval=7))
