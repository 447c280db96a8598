# mmaction2's runtime (hooks, logging, visualiser), plus est_mm's registration and the paper's seed.
_base_ = 'mmaction::_base_/default_runtime.py'

custom_imports = dict(imports=['est_mm'], allow_failed_imports=False)

randomness = dict(seed=3456, deterministic=False)  # official training seed

# No validation loop by default: the paper's protocol has only train/test splits, and picking the
# best epoch on the test split (as the official code does) would peek. We report the last epoch.
# SafeCheckpointHook = mmengine's CheckpointHook, but an outdated checkpoint is deleted only after
# its successor is completely written (est_mm/engine/hooks/checkpoint_hook.py).
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=1, save_best=None, max_keep_ckpts=3),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False))

# ESTMetaHook: checkpoint['meta']['est'] = test sampling, frame size, classes, preprocessor, so a
# checkpoint says how inference must feed it. EpochSeedHook: each epoch's randomness depends on
# (seed, epoch) only, so a run resumed with --resume ends exactly as the uninterrupted one.
# FERReportHook: writes FERConfusionMatrix's confusion_matrix.png / .csv and fer_report.json into
# the run's log folder after each test / val epoch. DamagedFrameHook: names each damaged frame
# image (truncated, corrupt JPEG data, bad PNG CRC) once in the log and counts them after each
# epoch, from every DataLoader worker. ClassMappingHook: a load_from checkpoint trained on other
# classes re-maps (same names, other order) or re-initialises only the final classifier layer,
# saying so in one line (est_mm/engine/class_mapping.py).
custom_hooks = [dict(type='ESTMetaHook'), dict(type='EpochSeedHook'), dict(type='FERReportHook'),
                dict(type='DamagedFrameHook'), dict(type='ClassMappingHook')]

# A damaged frame is loaded as far as it decodes, named once and counted (DamagedFrameHook);
# True stops the run at the first one instead (--cfg-options strict_frames=True).
strict_frames = False
