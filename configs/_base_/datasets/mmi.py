# MMI: 6 classes, subject-independent 10-fold protocol from a list file made by
# tools/data/convert_mmi.py.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='MMIDataset', data_root='data/MMI', ann_file='mmi_list.txt', num_folds=10,
                 fold=1))
test_dataloader = dict(
    dataset=dict(type='MMIDataset', data_root='data/MMI', ann_file='mmi_list.txt', num_folds=10,
                 fold=1))
