# EST-R18 on DFEW with model selection that does not peek at the test split: 10 % of each class of
# the training fold is held out (deterministic, val_seed), the model is validated on it every epoch
# and the checkpoint with the best validation UAR is kept as best_acc_mean1_epoch_<n>.pth.
# Test it, or run all folds with: tools/run_folds.py configs/est_r18_dfew_val.py --checkpoint best
_base_ = ['./est_r18_dfew.py']

holdout = dict(val_ratio=0.1, val_seed=0)

train_dataloader = dict(dataset=dict(subset='train', **holdout))
val_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DFEWDataset', data_root='data/DFEW', fold=1, split='train', subset='val',
                 frames_dir='Clip/clip_224x224', pipeline={{_base_.test_pipeline}},
                 test_mode=True, **holdout))
val_evaluator = dict(_delete_=True, type='AccMetric', metric_list=('top_k_accuracy', 'mean_class_accuracy'),
                     metric_options=dict(top_k_accuracy=dict(topk=(1, ))))
val_cfg = dict(_delete_=True, type='ValLoop')
default_hooks = dict(checkpoint=dict(save_best='acc/mean1', rule='greater'))
