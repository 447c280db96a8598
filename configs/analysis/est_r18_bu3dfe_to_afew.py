# Cross-dataset evaluation (paper Table 11, BU-3DFE → AFEW): the 6-class BU-3DFE model tested on
# AFEW's Val set without fine-tuning. AFEW's labels are re-indexed by name onto the model's classes;
# AFEW's Neutral videos have no counterpart and are dropped (counted in a warning). Test with
#   python tools/test.py configs/analysis/est_r18_bu3dfe_to_afew.py CHECKPOINT \
#       --cfg-options test_dataloader.dataset.data_root=/path/AFEW
# The baseline Transformer row: --cfg-options model.neck.mode=mean model.cls_head.ssop=None
_base_ = ['../est_r18_bu3dfe.py']

bu3dfe_classes = ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise')

test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='AFEWDataset',
        data_root='data/AFEW',
        split='val',
        source='videos',
        target_classes=bu3dfe_classes,  # the model's classes, in its index order
        pipeline={{_base_.test_pipeline}},
        test_mode=True))
