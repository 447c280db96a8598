# Paper §4.2 + official recipe: Adam lr 1e-4, weight decay 1e-4, cosine annealing with warm-up.
max_epochs = 160  # official
warmup_epochs = 10  # official (pytorch-warmup LinearWarmup, warmup_period=10)

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = None
test_cfg = dict(type='TestLoop')

# torch's default Adam: foreach gives the same bits but is slower on CPU; fused changes the bits
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))

# official: the lr is set once per epoch e (0-based) to
#   1e-4 · ½(1 + cos(π e / max_epochs)) · min(1, (e + 1) / warmup_epochs)
# i.e. a cosine over all epochs times a linear warm-up factor; mmengine multiplies the two.
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / warmup_epochs, end_factor=1.0, by_epoch=True,
         begin=0, end=warmup_epochs),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]

# paper §4.2: mini-batch 8 (one GPU); scale the lr linearly if the total batch changes.
auto_scale_lr = dict(enable=False, base_batch_size=8)
