# EST with ResNet-18 on DFEW, the paper's recipe (§4.2, Table 5). Choose the fold and data root with
#   --cfg-options train_dataloader.dataset.fold=2 test_dataloader.dataset.fold=2
#   --cfg-options train_dataloader.dataset.data_root=/path/DFEW test_dataloader.dataset.data_root=/path/DFEW
_base_ = [
    '_base_/models/est_r18.py', '_base_/datasets/dfew.py',
    '_base_/schedules/adam_cosine_160e.py', '_base_/default_runtime.py'
]

model = dict(
    neck=dict(num_snippets={{_base_.snippet.num_snippets}},  # from _base_/snippet.py
              frames_per_snippet={{_base_.snippet.frames_per_snippet}}),
    cls_head=dict(num_snippets={{_base_.snippet.num_snippets}}))
