# The snippet geometry (paper §4.2), declared once for the data pipelines and the model
# (fields: est_mm/snippet_geometry.py, SnippetGeometry). Who reads it:
# - datasets/fer_base.py inherits this file: SnippetSampling in train_pipeline / test_pipeline;
# - every runnable config that combines a model and a dataset base (est_r18_<data>.py) sets
#   model.neck.num_snippets / frames_per_snippet and model.cls_head.num_snippets from it. The
#   model base cannot: mmengine forbids the same key in two sibling bases, so only one of them
#   (the dataset chain) can hold `snippet`;
# - configs that rewrite a pipeline reuse {{_base_.snippet_sampling}} / {{_base_.test_sampling}}.
# tests/test_snippet_geometry.py checks that sampler, neck and head agree in every config.
#
# mmengine resolves a base's values when it loads it, so neither a child's `snippet = ...` nor
# `--cfg-options snippet.num_snippets=...` re-derives them. To change the geometry, write a child
# of a runnable config that redefines `snippet` and what was derived from it (SSOP also needs
# permutations of range(num_snippets): None draws a fixed max-Hamming set; Eq. 7 weight is 1/n):
#   _base_ = ['../est_r18_dfew.py']
#   snippet = dict(num_snippets=5, frames_per_snippet=4, snippet_len=15, snippet_stride=10,
#                  unified_len=105, max_start=29, test_start=15, test_offsets=(0, 4, 8, 12))
#   snippet_sampling = dict(type='SnippetSampling', **snippet)
#   test_sampling = dict(snippet_sampling, test_mode=True)
#   train_pipeline = [snippet_sampling if s['type'] == 'SnippetSampling' else s
#                     for s in _base_.train_pipeline]
#   test_pipeline = [test_sampling if s['type'] == 'SnippetSampling' else s
#                    for s in _base_.test_pipeline]
#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
#   test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
#   model = dict(neck=dict(num_snippets=snippet['num_snippets'],
#                          frames_per_snippet=snippet['frames_per_snippet']),
#                cls_head=dict(num_snippets=snippet['num_snippets'],
#                              ssop=dict(permutations=None),
#                              loss_ssop=dict(loss_weight=1 / snippet['num_snippets'])))
# (configs/*_val.py: val_dataloader's pipeline too). `--cfg-options` must name every copy, e.g.
#   model.neck.num_snippets=5 model.cls_head.num_snippets=5 model.cls_head.ssop.permutations=None
#   train_dataloader.dataset.pipeline.1.num_snippets=5
#   test_dataloader.dataset.pipeline.1.num_snippets=5
snippet = dict(
    num_snippets=7,  # §4.2: 7 sub-videos
    frames_per_snippet=5,  # §4.2: 5 frames sampled from each
    snippet_len=15,  # §4.2: 15 frames each, overlapping by 5
    snippet_stride=10,
    unified_len=105,  # §4.2: every video unified to 105 frames
    max_start=29,  # §4.2: start frame drawn from the first 30 (official randint(0, 29))
    test_start=15,  # official test-time values
    test_offsets=(0, 3, 6, 9, 12))

snippet_sampling = dict(type='SnippetSampling', **snippet)
test_sampling = dict(snippet_sampling, test_mode=True)
