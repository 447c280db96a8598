"""The authors' released EST checkpoint (github DreamMr/EST) → an est_mm state dict.

The official file is ``{'epoch', 'state_dict', 'prec1'}`` with DataParallel's ``module.`` prefix
and 244 tensors (``tests/data/official_est_keys.txt`` lists their names and shapes). Every
official tensor is either mapped to exactly one est_mm key (:data:`KEY_RULES`) or checked: the
stored positional table must equal ours. The classifier's rows are re-ordered from the official
alphabetical class order to the target class order, so a prediction's name stays right.
Anything unexpected raises :class:`OfficialCheckpointError`, one line naming the file and the
key.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch

from ..datasets.emotion_names import emotion_key
from ..utils.files import OutputExistsError, refuse_existing
from ..utils.safe_checkpoint import CheckpointError, atomic_torch_save

# official utils.py cate2label: the classifier rows of a model trained on each dataset (the
# classifier always has 7 outputs; 6-class models leave the last row unused)
OFFICIAL_CLASSES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise')
OFFICIAL_CLASS_ORDERS = {
    'DFEW': OFFICIAL_CLASSES,
    'AFEW': OFFICIAL_CLASSES,
    'MMI': ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise'),
    'BU3D': ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise'),
}
POS_KEY = 'pos_enc.pos_enc.weight'
QUERY_KEY = 'query_embed.weight'
CLASSIFIER_OUT = 'classifier.5.0.'
# est_mm keys no official tensor fills: the SSOP permutations come from the config
NOT_IN_OFFICIAL = ('cls_head.ssop.permutations', )

# (official name, est_mm name); {l}: a ResNet block (layer2.0), {n}/{h}: an index, {w}: a tensor
# name. First match wins, in both directions.
KEY_RULES: Tuple[Tuple[str, str], ...] = (
    ('conv1.weight', 'backbone.conv1.conv.weight'),
    ('bn1.{w}', 'backbone.conv1.bn.{w}'),
    ('{l}.conv{n}.weight', 'backbone.{l}.conv{n}.conv.weight'),
    ('{l}.bn{n}.{w}', 'backbone.{l}.conv{n}.bn.{w}'),
    ('{l}.downsample.0.weight', 'backbone.{l}.downsample.conv.weight'),
    ('{l}.downsample.1.{w}', 'backbone.{l}.downsample.bn.{w}'),
    ('attn.{w}', 'neck.self_attn.{w}'),
    ('norm1.{w}', 'neck.norm.{w}'),
    ('transformer.encoder.layers.{n}.self_attn.{w}', 'cls_head.transformer.encoder.{n}.self_attn.{w}'),
    ('transformer.encoder.layers.{n}.linear{n2}.{w}',
     'cls_head.transformer.encoder.{n}.ffn.linear{n2}.{w}'),
    ('transformer.encoder.layers.{n}.norm{n2}.{w}', 'cls_head.transformer.encoder.{n}.norm{n2}.{w}'),
    ('transformer.encoder.norm.{w}', 'cls_head.transformer.encoder_norm.{w}'),
    ('transformer.decoder.layers.{n}.self_attn.{w}', 'cls_head.transformer.decoder.{n}.self_attn.{w}'),
    ('transformer.decoder.layers.{n}.multihead_attn.{w}',
     'cls_head.transformer.decoder.{n}.cross_attn.{w}'),
    ('transformer.decoder.layers.{n}.linear{n2}.{w}',
     'cls_head.transformer.decoder.{n}.ffn.linear{n2}.{w}'),
    ('transformer.decoder.layers.{n}.norm{n2}.{w}', 'cls_head.transformer.decoder.{n}.norm{n2}.{w}'),
    ('transformer.decoder.norm.{w}', 'cls_head.transformer.decoder_norm.{w}'),
    (QUERY_KEY, 'cls_head.query'),
    ('per_branch.classifier.{n}.{w}', 'cls_head.ssop.classifier.{n}.{w}'),
    (CLASSIFIER_OUT + '{w}', 'cls_head.classifier.5.{w}'),
    ('classifier.{h}.{w}', 'cls_head.classifier.{h}.{w}'),  # 0 and 2: the hidden layers
)
_FIELDS = {'l': r'layer[1-4]\.\d+', 'n': r'\d+', 'n2': r'\d+', 'h': '[0-4]',
           'w': r'[A-Za-z_]+(?:\.[A-Za-z_]+)?'}


class OfficialCheckpointError(ValueError):
    """The file is not the authors' EST checkpoint as est_mm knows it; one line naming it."""


# the exceptions :func:`convert_official_file` refuses with (one line each)
CONVERT_ERRORS = (OutputExistsError, CheckpointError, OfficialCheckpointError, FileNotFoundError)


def _regex(template: str) -> 're.Pattern':
    parts = re.split(r'\{(\w+)\}', template)
    return re.compile(''.join(re.escape(p) if i % 2 == 0 else f'(?P<{p}>{_FIELDS[p]})'
                              for i, p in enumerate(parts)) + '$')


_RULES = [(_regex(a), a, _regex(b), b) for a, b in KEY_RULES]


def _translate(key: str, forward: bool):
    for official_re, official, ours_re, ours in _RULES:
        found = (official_re if forward else ours_re).match(key)
        if found:
            return (ours if forward else official).format(**found.groupdict())
    return None


def est_mm_key(official_key: str):
    """The est_mm state-dict key of an official key (without ``module.``), or None."""
    return _translate(official_key, forward=True)


def official_key(est_mm_key_: str):
    """The official key (without ``module.``) that fills an est_mm key, or None."""
    return _translate(est_mm_key_, forward=False)


def official_state_dict(checkpoint, source: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of an official checkpoint (``module.`` prefixes removed)."""
    state = checkpoint.get('state_dict') if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        found = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, dict) \
            else type(checkpoint).__name__
        raise OfficialCheckpointError(
            f"{source}: not an official EST checkpoint (expected a dict with 'state_dict', "
            f'found {found})')
    out = OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str):
            raise OfficialCheckpointError(f'{source}: key {key!r} is not a string')
        if key.startswith(('backbone.', 'cls_head.')):
            raise OfficialCheckpointError(f'{source}: key {key!r} is an est_mm name: this looks '
                                          'like an est_mm checkpoint already, not the official one')
        if not torch.is_tensor(value):
            raise OfficialCheckpointError(f'{source}: key {key!r} holds a '
                                          f'{type(value).__name__}, not a tensor')
        out[key[len('module.'):] if key.startswith('module.') else key] = value
    return out


def class_order(classes: Sequence[str], source: str, trained_on: str = 'DFEW') -> List[int]:
    """For each target class name, the row of the official classifier that scores it, for a
    model the authors trained on ``trained_on`` (a key of :data:`OFFICIAL_CLASS_ORDERS`)."""
    names = OFFICIAL_CLASS_ORDERS[trained_on]
    if len(classes) != len(names):
        raise OfficialCheckpointError(
            f'{source}: the config has {len(classes)} classes, an official {trained_on} model '
            f'scores {len(names)} ({", ".join(names)}); use a {len(names)}-class config or the '
            'matching --trained-on')
    official = [emotion_key(c) for c in names]
    order = []
    for name in classes:
        if emotion_key(name) not in official:
            raise OfficialCheckpointError(
                f'{source}: the config class {name!r} is not one of the official {trained_on} '
                f'classes {list(names)}')
        order.append(official.index(emotion_key(name)))
    if len(set(order)) != len(order):
        raise OfficialCheckpointError(f'{source}: config classes {list(classes)} name an '
                                      'official class twice')
    return order


def _check_pos_table(value: torch.Tensor, pos_table: torch.Tensor, source: str) -> None:
    """The stored positional table must be est_mm's fixed sine/cosine table for the config."""
    want = f"est_mm's fixed sine/cosine table {tuple(pos_table.shape)} (positions x dims)"
    if value.shape != pos_table.shape:
        raise OfficialCheckpointError(f'{source}: {POS_KEY} has shape {tuple(value.shape)}; '
                                      f'expected {want}')
    if not torch.allclose(value.float(), pos_table, rtol=0, atol=1e-6):
        diff = (value.float() - pos_table).abs().max().item()
        raise OfficialCheckpointError(
            f'{source}: {POS_KEY} has the expected shape but other values (largest difference '
            f'{diff:.3g}); expected {want}')


def convert_official(state: Dict[str, torch.Tensor], target: Dict[str, torch.Tensor],
                     classes: Sequence[str], pos_table: torch.Tensor,
                     source: str = 'checkpoint',
                     trained_on: str = 'DFEW') -> 'OrderedDict[str, torch.Tensor]':
    """Official state dict (no prefix) → est_mm state dict with exactly ``target``'s keys and
    shapes. ``target``: the est_mm model's own state dict (its SSOP permutations are kept);
    ``classes``: the target class names; ``pos_table``: est_mm's positional code [n, d];
    ``trained_on``: the dataset whose class order the official classifier rows follow."""
    out = OrderedDict()
    for key, value in state.items():
        if key == POS_KEY:
            _check_pos_table(value, pos_table, source)
            continue
        name = est_mm_key(key)
        if name is not None and name.startswith('cls_head.ssop.') and name not in target:
            raise OfficialCheckpointError(
                f'{source}: key {key!r} belongs to the SSOP branch, which this config leaves out '
                '(model.cls_head.ssop=None); convert with a config that has it')
        if name is None or name not in target or name in NOT_IN_OFFICIAL:
            raise OfficialCheckpointError(f'{source}: unexpected key {key!r} (no est_mm '
                                          'counterpart in this config)')
        if key.startswith(CLASSIFIER_OUT) and value.shape[0] == len(OFFICIAL_CLASSES):
            value = value[class_order(classes, source, trained_on)]
        want = target[name].shape
        if key == QUERY_KEY and value.numel() == target[name].numel():
            value = value.reshape(want)
        if value.shape != want:
            raise OfficialCheckpointError(
                f'{source}: key {key!r} has shape {tuple(value.shape)}, est_mm {name!r} needs '
                f'{tuple(want)}')
        out[name] = value.to(target[name].dtype).clone()
    if POS_KEY not in state:
        raise OfficialCheckpointError(f'{source}: missing key {POS_KEY!r}')
    for name in target:
        if name in NOT_IN_OFFICIAL:
            out[name] = target[name].clone()
        elif name not in out:
            raise OfficialCheckpointError(
                f'{source}: missing key {official_key(name) or name!r} (for est_mm {name!r})')
    return OrderedDict((k, out[k]) for k in target)


def _not_a_torch_file(path: str):
    """What ``path`` is when no torch.save format can start that way (a zip archive ``PK``, a
    pickle ``0x80``, a legacy tar), else None; an empty or ONNX file keeps its own message."""
    from ..utils.safe_checkpoint import is_onnx_file
    try:
        with open(path, 'rb') as f:
            head = f.read(512)
    except OSError:
        return None
    if not head or head.startswith(b'PK') or head[:1] == b'\x80' or head[257:262] == b'ustar' \
            or is_onnx_file(path):
        return None
    text = head.decode('utf-8', 'replace')[:-1]  # the last character may be cut in two
    if all(c.isprintable() or c in '\n\r\t' for c in text) and '\ufffd' not in text:
        return 'a text file'
    return f'it starts with the bytes {head[:4].hex(" ")}'


def config_classes(cfg) -> List[str]:
    """The class names of a config's test dataset (its ``METAINFO``)."""
    from mmaction.registry import DATASETS
    dataset = cfg.test_dataloader.dataset
    while 'type' in dataset and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']  # wrappers (RepeatDataset, ...)
    dataset_cls = DATASETS.get(dataset['type'])
    classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
    if not classes:
        raise OfficialCheckpointError(f"the config's test dataset {dataset['type']} names no "
                                      'classes, so the official class rows cannot be ordered')
    return list(classes)


def convert_official_checkpoint(path: str, cfg, trained_on: str = 'DFEW') -> dict:
    """Reads the official file at ``path`` (safe loading) and returns an est_mm checkpoint
    ``{'meta': {'est', 'dataset_meta', 'converted_from'}, 'state_dict'}`` for ``cfg``'s model,
    verified by a strict ``load_state_dict``. Raises :class:`OfficialCheckpointError` or
    :class:`~est_mm.utils.CheckpointError` (one line naming the file)."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    from ..utils.safe_checkpoint import safe_load_checkpoint
    from ..engine.hooks.est_meta_hook import est_checkpoint_meta
    register_all_modules()
    try:
        checkpoint = safe_load_checkpoint(path)
    except CheckpointError as err:
        not_torch = _not_a_torch_file(path)
        if not_torch:
            raise OfficialCheckpointError(
                f"{path}: not a PyTorch checkpoint ({not_torch}); expected the authors' EST "
                'checkpoint (the .pth / .pth.tar released at github DreamMr/EST)') from err
        raise
    state = official_state_dict(checkpoint, path)
    model = MODELS.build(cfg.model)
    head = model.cls_head
    classes = config_classes(cfg)
    converted = convert_official(state, model.state_dict(), classes,
                                 head.pos_embed.detach().cpu(), path, trained_on)
    model.load_state_dict(converted, strict=True)
    meta = dict(est=est_checkpoint_meta(cfg, classes), dataset_meta=dict(classes=classes),
                converted_from=dict(file=str(path), format='official EST (github DreamMr/EST)',
                                    epoch=checkpoint.get('epoch'), prec1=checkpoint.get('prec1'),
                                    trained_on=trained_on,
                                    official_classes=list(OFFICIAL_CLASS_ORDERS[trained_on])))
    return dict(meta=meta, state_dict=converted)


def convert_official_file(src: str, dst: str, config: str, trained_on: str = 'DFEW',
                          overwrite: bool = False) -> str:
    """tools/convert/official_est.py: converts the official file ``src`` for the est_mm config file
    ``config``, writes ``dst`` atomically (refused if it exists, unless ``overwrite``) and returns
    the one-line summary. Every refusal raises one of :data:`CONVERT_ERRORS` with a one-line
    message naming the file; nothing is written then."""
    from mmengine.config import Config
    refuse_existing([dst], overwrite)
    if not osp.isfile(config):
        raise FileNotFoundError(f'{config}: no such config file')
    checkpoint = convert_official_checkpoint(src, Config.fromfile(config), trained_on)
    atomic_torch_save(checkpoint, dst)
    meta = checkpoint['meta']
    return (f"{dst}: {len(checkpoint['state_dict'])} tensors for {config}; classes "
            f"{', '.join(meta['dataset_meta']['classes'])}; official epoch "
            f"{meta['converted_from']['epoch']}, prec1 {meta['converted_from']['prec1']}")
