# MAFW, official release: clips data/clips/<id>.mp4, single-label 5-fold splits, 11 classes.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='MAFWDataset', data_root='data/MAFW', fold=1, source='videos'))
test_dataloader = dict(
    dataset=dict(type='MAFWDataset', data_root='data/MAFW', fold=1, source='videos'))
