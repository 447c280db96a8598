# AFEW (EmotiW 7.0/8.0): Train_AFEW/<Class>/*.avi for training, evaluated on Val_AFEW (the test
# labels are not public). 7 classes in the release's (alphabetical) folder order.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='AFEWDataset', data_root='data/AFEW', split='train', source='videos'))
test_dataloader = dict(
    dataset=dict(type='AFEWDataset', data_root='data/AFEW', split='val', source='videos'))
