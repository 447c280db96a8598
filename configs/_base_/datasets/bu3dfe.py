# BU-3DFE as the paper uses it: 606 sequences of 101 subjects, i.e. the BU-4DFE video release
# (BU-3DFE itself is static images): 6 classes,
# subject-independent 10-fold protocol from a list file made by tools/data/convert_bu4dfe.py.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='BU3DFEDataset', data_root='data/BU4DFE', ann_file='bu4dfe_list.txt',
                 num_folds=10, fold=1))
test_dataloader = dict(
    dataset=dict(type='BU3DFEDataset', data_root='data/BU4DFE', ann_file='bu4dfe_list.txt',
                 num_folds=10, fold=1))
