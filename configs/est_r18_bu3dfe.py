# EST-R18 on BU-3DFE (paper Table 2, 6 classes, 10 folds): the DFEW recipe with only the data part
# and the class count changed.
_base_ = [
    '_base_/models/est_r18.py', '_base_/datasets/bu3dfe.py',
    '_base_/schedules/adam_cosine_160e.py', '_base_/default_runtime.py'
]

model = dict(
    neck=dict(num_snippets={{_base_.snippet.num_snippets}},  # from _base_/snippet.py
              frames_per_snippet={{_base_.snippet.frames_per_snippet}}),
    cls_head=dict(num_classes=6, num_snippets={{_base_.snippet.num_snippets}}))
