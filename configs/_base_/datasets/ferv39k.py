# FERV39k, official release: face-crop frame folders, All_scenes train/test setup, 7 classes.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='FERV39kDataset', data_root='data/FERV39k', scene='All_scenes',
                 source='frames'))
test_dataloader = dict(
    dataset=dict(type='FERV39kDataset', data_root='data/FERV39k', scene='All_scenes',
                 source='frames'))
