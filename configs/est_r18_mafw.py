# EST-R18 on MAFW (11 classes, 5 folds; not in the paper): the DFEW recipe with only the data part
# and the class count changed.
_base_ = [
    '_base_/models/est_r18.py', '_base_/datasets/mafw.py',
    '_base_/schedules/adam_cosine_160e.py', '_base_/default_runtime.py'
]

model = dict(
    neck=dict(num_snippets={{_base_.snippet.num_snippets}},  # from _base_/snippet.py
              frames_per_snippet={{_base_.snippet.frames_per_snippet}}),
    cls_head=dict(num_classes=11, num_snippets={{_base_.snippet.num_snippets}}))
