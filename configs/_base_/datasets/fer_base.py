# What every video-FER dataset config shares: snippet sampling, frame pipeline, loaders, metrics.
# A dataset config (dfew.py, mafw.py, ...) only adds `dataset=dict(type=..., data_root=..., ...)`.
# The snippet geometry and the SnippetSampling steps come from ../snippet.py.
_base_ = ['../snippet.py']

train_pipeline = [
    dict(type='VideoOrFramesInit'),
    {{_base_.snippet_sampling}},
    dict(type='VideoOrFramesDecode'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),  # §4.2: 224×224 face crops
    # official: no flip or other augmentation; opt in with e.g. dict(type='Flip', flip_ratio=0.5)
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='VideoOrFramesInit'),
    {{_base_.test_sampling}},
    dict(type='VideoOrFramesDecode'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=8,  # §4.2: mini-batch 8
    num_workers=4,
    persistent_workers=True,
    drop_last=True,  # a last batch of 1 cannot pass the SSOP head's BatchNorm in training
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(split='train', pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='test', pipeline=test_pipeline, test_mode=True))

# WAR = acc/top1, UAR = acc/mean1 (mean per-class recall); per-class recall and the confusion
# matrix (PNG, CSV, JSON in the run's log folder) come from FERConfusionMatrix (paper Fig. 4).
test_evaluator = [
    dict(type='AccMetric', metric_list=('top_k_accuracy', 'mean_class_accuracy'),
         metric_options=dict(top_k_accuracy=dict(topk=(1, )))),
    dict(type='FERConfusionMatrix')
]

# Model selection: none by default (last epoch is reported). See configs/*_val.py for a
# validation subset held out of the training fold.
val_dataloader = None
val_evaluator = None
