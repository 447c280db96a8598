# BU-3DFE as the paper uses it (the BU-4DFE video release, DESIGN.md §4): 6 classes,
# subject-independent 10-fold protocol from a list file made by tools/data/convert_bu4dfe.py.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='BU3DFEDataset', data_root='data/BU4DFE', ann_file='bu4dfe_list.txt',
                 num_folds=10, fold=1))
test_dataloader = dict(
    dataset=dict(type='BU3DFEDataset', data_root='data/BU4DFE', ann_file='bu4dfe_list.txt',
                 num_folds=10, fold=1))
