# Cross-dataset evaluation (paper Table 11, DFEW → AFEW): the DFEW model, tested on AFEW's Val set
# without fine-tuning. AFEW's labels are re-indexed by name onto DFEW's class order (the model's);
# the evaluators report DFEW's class names. Test a DFEW checkpoint with
#   python tools/test.py configs/analysis/est_r18_dfew_to_afew.py \
#       work_dirs/est_r18_dfew/epoch_160.pth \
#       --cfg-options test_dataloader.dataset.data_root=/path/AFEW
# The baseline Transformer row: a checkpoint of
# configs/ablation/transformer-baseline_r18_dfew.py, tested with
#   --cfg-options model.neck.mode=mean model.cls_head.ssop=None
_base_ = ['../est_r18_dfew.py']

dfew_classes = ('Happy', 'Sad', 'Neutral', 'Angry', 'Surprise', 'Disgust', 'Fear')

test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='AFEWDataset',
        data_root='data/AFEW',
        split='val',  # AFEW's test labels are not public
        source='videos',
        target_classes=dfew_classes,  # the model's classes, in its index order
        pipeline={{_base_.test_pipeline}},
        test_mode=True))
