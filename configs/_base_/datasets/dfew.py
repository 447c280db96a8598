# DFEW, official release layout (Clip/clip_224x224/<5-digit id>/ frame folders, split files
# EmoLabel_DataSplit/{train,test}(single-labeled)/set_<fold>.csv): 7 classes, 5 folds.
_base_ = ['./fer_base.py']

train_dataloader = dict(
    dataset=dict(type='DFEWDataset', data_root='data/DFEW', fold=1,
                 frames_dir='Clip/clip_224x224'))
test_dataloader = dict(
    dataset=dict(type='DFEWDataset', data_root='data/DFEW', fold=1,
                 frames_dir='Clip/clip_224x224'))
