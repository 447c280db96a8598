# Paper §4.2 + official recipe: Adam lr 1e-4, weight decay 1e-4, cosine annealing with warm-up.
max_epochs = 160  # official
warmup_epochs = 10  # official

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = None
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]

# paper §4.2: mini-batch 8 (one GPU); scale the lr linearly if the total batch changes.
auto_scale_lr = dict(enable=False, base_batch_size=8)
