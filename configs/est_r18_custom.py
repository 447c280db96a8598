# EST-R18 on your own clips and classes: point `data_root` at the list folder that
# tools/data/make_lists.py writes (classes.txt, train.txt, val.txt, test.txt; each list line
# "<video file or frame folder> <0-based label>", paths relative to the list folder or absolute).
# The class names and the head's num_classes come from classes.txt alone: the datasets read it
# (classes_file) and the tools set num_classes from it after --cfg-options are merged, so they
# follow another folder given on the command line: --cfg-options data_root=DIR (which the tools
# pass on to the train/val/test datasets' data_root; each can also be set on its own).
# mmaction2's own tools (`mim train mmaction configs/est_r18_custom.py`, `mim test ...`) take
# the same two steps through the Runner named here (est_mm/engine/est_runner.py).
# Everything else is the paper's recipe (configs/est_r18_dfew.py), on a shorter schedule.
_base_ = [
    '_base_/models/est_r18.py', '_base_/datasets/fer_base.py',
    '_base_/schedules/adam_cosine_160e.py', '_base_/default_runtime.py'
]

data_root = 'data/custom'  # the list folder
runner_type = 'ESTRunner'  # classes.txt and data_root, as above

# A few hundred clips: 30 epochs instead of the paper's 160 (DFEW's ~9,000 training clips per
# fold), and 3 warm-up epochs instead of 10, which would take a third of such a run; fine-tuning
# from a trained model needs fewer passes than training from a face-pretrained backbone.
max_epochs = 30
warmup_epochs = 3

# Fine-tune from a trained model (recommended with few clips). The final classifier layer is
# fitted to classes.txt: the same names in another order are re-mapped row by row, other classes
# re-initialised (rows of shared names kept), with one line in the log; the rest, SSOP branch
# included, loads as it is (est_mm/engine/class_mapping.py). Either the authors' DFEW model,
# converted by tools/convert/official_est.py:
#   load_from = 'checkpoints/est_r18_dfew_official.pth'
# or any est_mm checkpoint of an EST-R18 config, e.g.
#   load_from = 'work_dirs/est_r18_dfew/epoch_160.pth'
# (or --cfg-options load_from=PATH). None: train from the backbone's `pretrained` weights.
load_from = None

model = dict(
    neck=dict(num_snippets={{_base_.snippet.num_snippets}},  # from _base_/snippet.py
              frames_per_snippet={{_base_.snippet.frames_per_snippet}}),
    # None: the number of names in classes.txt (set when the config is loaded)
    cls_head=dict(num_classes=None, num_snippets={{_base_.snippet.num_snippets}}))


def _dataset(split, test_mode=False, pipeline=None):
    return dict(type='FERVideoDataset', data_root=data_root, ann_file=f'{split}.txt',
                classes_file='classes.txt', data_prefix=dict(video=''), missing='error',
                test_mode=test_mode, pipeline=pipeline)


train_dataloader = dict(
    dataset=dict(_delete_=True, **_dataset('train', pipeline={{_base_.train_pipeline}})))
val_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_dataset('val', True, {{_base_.test_pipeline}}))
test_dataloader = dict(
    dataset=dict(_delete_=True, **_dataset('test', True, {{_base_.test_pipeline}})))
del _dataset  # a config keeps no functions

# Validate on val.txt after every epoch and keep the best checkpoint by UAR (mean class recall,
# fair to small classes); test.txt is only for the final tools/test.py.
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
val_cfg = dict(_delete_=True, type='ValLoop')
val_evaluator = {{_base_.test_evaluator}}
default_hooks = dict(checkpoint=dict(save_best='acc/mean1', rule='greater', max_keep_ckpts=1))

param_scheduler = [  # the official per-epoch formula (schedules/adam_cosine_160e.py), shorter
    dict(type='LinearLR', start_factor=1 / warmup_epochs, end_factor=1.0, by_epoch=True,
         begin=0, end=warmup_epochs),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]

# With few clips, a pre-trained backbone can be trained more gently or kept as it is:
#   lower its learning rate to a tenth:
#     optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
#     (--cfg-options "optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=0.1")
#   freeze it (no updates; its BatchNorm statistics still adapt unless norm_eval=True):
#     optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0,
#                                                                         decay_mult=0)}))
#   or freeze its stem and first stages (ResNet: -1 none, 0 the stem, 1..4 + that many stages;
#   4 freezes the whole ResNet-18 and, unlike lr_mult=0, computes no gradients for it):
#     model = dict(backbone=dict(frozen_stages=2))
