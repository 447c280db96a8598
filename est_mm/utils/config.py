"""Reading a config file and merging ``--cfg-options`` into it, with one line that names the file
or the option when something is wrong. The tools load their configs through :func:`load_config`.

What ``--cfg-options`` may do (mmengine merges anything; these checks run first):

* a key that is in the config: the new value must be of a usable kind (a number where the config
  has a number, true/false where it has a boolean, not a word where it has a group of settings);
* a new key in a group with a ``type`` whose class is known (model parts, datasets, transforms,
  hooks, loops, optimizers, schedulers, metrics) or in a ``*_dataloader``: refused when that class
  takes no such argument (``did you mean ...?``); model parts are built once to be sure;
* any other new key is added, with a ``note:`` line on stderr naming it (it may be a typo);
* list entries by index (``pipeline.2.scale=...``) within the list's length.
"""
import difflib
import inspect
import os.path as osp
import sys
from typing import Mapping, Optional, Sequence

from .errors import first_line

CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')

# DataLoader keywords mmengine's Runner.build_dataloader takes out before calling DataLoader
_LOADER_KEYS = {'dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn'}


class ConfigError(ValueError):
    """A config file or a ``--cfg-options`` entry that cannot work; ``str(err)`` is one line."""


def read_config(path):
    """``mmengine.Config.fromfile(path)``; :class:`ConfigError` (one line naming ``path``) for a
    missing file, a folder, a file that is not a config (.py/.json/.yaml/.yml) or one that cannot
    be read."""
    from mmengine.config import Config
    path = str(path)
    if osp.isdir(path):
        raise ConfigError(f'{path}: is a folder, not a config file')
    if not osp.isfile(path):
        raise ConfigError(f'{path}: no such config file')
    if not path.lower().endswith(CONFIG_SUFFIXES):
        raise ConfigError(f'{path}: not a config file (configs are .py, .json, .yaml or .yml '
                          'files, e.g. configs/est_r18_dfew.py)')
    try:
        return Config.fromfile(path)
    except Exception as err:  # noqa: BLE001 - any failure of the file becomes one line
        raise ConfigError(f'{path}: cannot read the config: {type(err).__name__}: '
                          f'{first_line(err)}') from None


def load_config(path, cfg_options: Optional[Mapping] = None, require: Sequence[str] = ('model',),
                classes_files: bool = True):
    """:func:`read_config` with ``cfg_options`` merged (:func:`merge_cfg_options`), then the
    datasets' ``classes_file`` read (:func:`apply_classes_files`; ``classes_files=False`` for a
    caller that merges more options first and calls it itself); refuses a config without the
    top-level keys in ``require``."""
    cfg = read_config(path)
    missing = [key for key in require if key not in cfg]
    if missing:
        raise ConfigError(f'{path}: has no {" or ".join(missing)}: not an mmaction2 config '
                          '(e.g. configs/est_r18_dfew.py)')
    cfg = merge_cfg_options(cfg, cfg_options, str(path))
    return apply_classes_files(cfg, str(path)) if classes_files else cfg


def apply_classes_files(cfg, name: Optional[str] = None):
    """Class names and the head's ``num_classes`` from the datasets' ``classes_file``
    (:func:`~est_mm.utils.classes_file.apply_classes_files`), after every option is merged so
    they follow an overridden ``data_root``; :class:`ConfigError` naming the config and the
    file. Returns ``cfg``."""
    from .classes_file import apply_classes_files as apply
    try:
        apply(cfg)
    except (OSError, ValueError) as err:
        name = name or getattr(cfg, 'filename', None) or 'the config'
        raise ConfigError(f'{name}: {first_line(err)}') from None
    return cfg


def merge_cfg_options(cfg, options: Optional[Mapping], name: Optional[str] = None):
    """Merges ``options`` (``{dotted.key: value}``, as mmengine's DictAction parses them) into
    ``cfg`` after checking each (see the module docstring); :class:`ConfigError` naming the option
    otherwise. Returns ``cfg``."""
    if not options:
        return cfg
    name = name or getattr(cfg, 'filename', None) or 'the config'
    notes = [note for key, value in options.items()
             for note in [_check_option(cfg, key, value, name)] if note]
    followers = _data_root_followers(cfg, options)
    try:
        cfg.merge_from_dict(dict(options))
    except Exception as err:  # noqa: BLE001 - one line naming the option mmengine refused
        raise ConfigError(f'--cfg-options: {type(err).__name__}: {first_line(err)}') from None
    if followers:
        cfg.merge_from_dict({key: options['data_root'] for key in followers})
        notes.append(f'note: data_root={options["data_root"]} also sets {", ".join(followers)}')
    for note in notes:
        print(note, file=sys.stderr, flush=True)
    return cfg


def follow_data_root(cfg) -> list:
    """For a ``cfg`` merged by another tool (mmaction2's own ``train.py``/``test.py``, which merge
    ``--cfg-options`` as they are): when its top-level ``data_root`` differs from the one in its
    file, the datasets whose ``data_root`` the file wrote from that variable and that still hold
    it follow the new value, as :func:`merge_cfg_options` does. Returns the keys moved."""
    new, filename = cfg.get('data_root'), getattr(cfg, 'filename', None)
    if not isinstance(new, str) or not filename or not osp.isfile(filename):
        return []
    written = read_config(filename)
    old = written.get('data_root')
    if not isinstance(old, str) or old == new:
        return []
    keys = [key for key in _data_root_followers(written, {'data_root': new})
            if _dotted(cfg, key) == old]
    if keys:
        cfg.merge_from_dict({key: new for key in keys})
        print(f'note: data_root={new} also sets {", ".join(keys)}', file=sys.stderr, flush=True)
    return keys


def _dotted(cfg, key: str):
    node = cfg
    for part in key.split('.'):
        try:
            node = node[part]
        except (KeyError, TypeError):
            return None
    return node


def _data_root_followers(cfg, options: Mapping) -> list:
    """With ``data_root=...`` among ``options`` and a top-level ``data_root`` in ``cfg``: the
    dotted keys of the dataloaders' ``data_root`` settings that hold the same value (the config
    wrote them from that variable, which mmengine resolved when it read the file), less those
    the options set themselves. Merging the option alone would leave the datasets unchanged."""
    old = cfg.get('data_root')
    if 'data_root' not in options or not isinstance(old, str):
        return []
    found = []

    def walk(node, key):
        if isinstance(node, Mapping):
            for name, value in node.items():
                if name == 'data_root' and value == old:
                    found.append(f'{key}.{name}')
                else:
                    walk(value, f'{key}.{name}')

    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        walk(cfg.get(loader), loader)
    return [key for key in found if key not in options]


def option_in_error(options: Optional[Mapping], err: BaseException) -> Optional[str]:
    """The ``--cfg-options key=value`` whose last name part ``err``'s first line names (an error
    that a value given there caused while the runner built something), else None."""
    text = first_line(err)
    for key, value in (options or {}).items():
        leaf = key.rsplit('.', 1)[-1]
        word = str(value) if leaf == 'type' else leaf  # "type" alone is in too many messages
        if not leaf.isdigit() and _names(text, word):
            return f'{key}={_show(value)}'
    return None


def _names(text: str, word: str) -> bool:
    import re
    return re.search(rf'(?<![\w.]){re.escape(word)}(?!\w)', text) is not None


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        inner = ','.join(_show(v) for v in value)
        return f'({inner})' if isinstance(value, tuple) else f'[{inner}]'
    return str(value)


def _kind(value) -> str:
    if isinstance(value, bool):
        return 'true or false'
    if isinstance(value, (int, float)):
        return 'a number'
    return type(value).__name__


def _check_option(cfg, key: str, value, name: str) -> Optional[str]:
    """Raises :class:`ConfigError` for an option that cannot work; returns a note for a new key
    that was not checked against a class, else None."""
    option = f'--cfg-options {key}={_show(value)}'
    parts = key.split('.')
    if not all(parts):
        raise ConfigError(f'{option}: {key!r} has an empty part (write a.b.c=value)')
    node = dict(cfg.items())
    for i, part in enumerate(parts):
        where = '.'.join(parts[:i])
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f'{option}: {where} is a list of {len(node)}: index its '
                                  f'entries 0..{len(node) - 1}')
            node = node[int(part)]
            continue
        if not isinstance(node, Mapping):
            raise ConfigError(f'{option}: {where} is {node!r} in {name}, not a group of '
                              'settings')
        if part not in node:
            return _new_key(parts, i, node, option, value, name)
        node = node[part]
    if parts[-1] == 'type' and isinstance(value, str) and len(parts) > 1:
        _check_type(parts[:-1], value, option)
    if value is None or node is None:
        return None
    if isinstance(node, bool):
        wrong = not isinstance(value, bool)
    elif isinstance(node, (int, float)):
        wrong = isinstance(value, bool) or not isinstance(value, (int, float))
    elif isinstance(node, Mapping):
        wrong = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if wrong:
            raise ConfigError(f'{option}: {key} is a group of settings in {name}; set its '
                              f'entries (e.g. {key}.{next(iter(node), "type")}=...)')
    else:
        wrong = False
    if wrong:
        raise ConfigError(f'{option}: must be {_kind(node)} ({name} has {_show(node)})')
    return None


def _new_key(parts, i, group: Mapping, option: str, value, name: str) -> Optional[str]:
    key, where = parts[i], '.'.join(parts[:i])
    if key == '_delete_':  # mmengine's "replace this group" marker
        return None
    known = {k for k in group if isinstance(k, str)}
    target = _registered(parts[:i], group)
    if target is not None:
        accepted, open_ended = _arguments(target)
        if key in accepted:
            return None
        type_name = group['type'] if isinstance(group['type'], str) else target.__name__
        refuse = not open_ended
        if parts[0] == 'model' and i + 1 == len(parts):  # **kwargs: does the part take it?
            refuse = _model_refuses(group, key, value)
            if refuse is False:
                return None
        if refuse:
            close = difflib.get_close_matches(key, sorted(accepted | known), n=1)
            raise ConfigError(f'{option}: {type_name} ({where}) takes no argument {key!r}'
                              + (f'; did you mean {_join(where, close[0])}?' if close else ''))
    elif i == 0:  # a top-level setting: one of the Runner's (work_dir, load_from, resume, ...)?
        from mmengine.runner import Runner
        if key in inspect.signature(Runner.__init__).parameters:
            return None
    elif i == 1 and parts[0].endswith('_dataloader'):
        from torch.utils.data import DataLoader
        accepted = set(inspect.signature(DataLoader).parameters) | _LOADER_KEYS
        if key not in accepted:
            close = difflib.get_close_matches(key, sorted(accepted), n=1)
            raise ConfigError(f'{option}: a dataloader takes no setting {key!r}'
                              + (f'; did you mean {_join(where, close[0])}?' if close else ''))
        return None
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return (f'note: {option}: {name} has no {".".join(parts[:i + 1])}; added as a new setting'
            + (f' (did you mean {_join(where, close[0])}?)' if close else ''))


def _join(where: str, key: str) -> str:
    return f'{where}.{key}' if where else key


def _registry(parts):
    """The mmaction2 registry that builds the group at ``parts``, or None."""
    from mmaction import registry as r
    root = parts[0] if parts else ''
    if root == 'model':
        # norm_cfg, act_cfg, init_cfg, ...: read by helpers that take keys of their own
        return None if parts[-1].endswith('_cfg') else r.MODELS
    if root.endswith('_dataloader') and len(parts) >= 2:
        if parts[1] == 'dataset':
            return r.TRANSFORMS if 'pipeline' in parts[2:] else r.DATASETS
        return r.DATA_SAMPLERS if parts[1] == 'sampler' else None
    if root == 'optim_wrapper':
        return r.OPTIMIZERS if parts[1:] == ['optimizer'] else (
            r.OPTIM_WRAPPERS if len(parts) == 1 else None)
    return {'param_scheduler': r.PARAM_SCHEDULERS, 'default_hooks': r.HOOKS,
            'custom_hooks': r.HOOKS, 'train_cfg': r.LOOPS, 'val_cfg': r.LOOPS,
            'test_cfg': r.LOOPS, 'val_evaluator': r.METRICS, 'test_evaluator': r.METRICS,
            'visualizer': r.VISUALIZERS}.get(root)


def _registered(parts, group: Mapping):
    """The class (or function) the group's ``type`` names in its registry, or None."""
    kind = group.get('type')
    if kind is None:
        return None
    if not isinstance(kind, str):
        return kind if callable(kind) else None
    registry = _registry(parts)
    if registry is None:
        return None
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)  # est_mm's parts: importing est_mm did
    try:
        return registry.get(kind)
    except Exception:  # noqa: BLE001 - an unknown scope or type: nothing to check against
        return None


def _check_type(parts, name: str, option: str) -> None:
    """Refuses a ``type`` that the registry building the group at ``parts`` does not have."""
    registry = _registry(parts)
    if registry is None or _registered(parts, {'type': name}) is not None:
        return
    known, reg = set(), registry
    while reg is not None:
        known |= set(reg.module_dict)
        reg = reg.parent
    close = difflib.get_close_matches(name, sorted(known), n=1)
    raise ConfigError(f'{option}: no {name!r} among the registered {registry.name} types'
                      + (f'; did you mean {close[0]}?' if close else ''))


def _arguments(target):
    """``(keyword names target accepts, open_ended)``; ``open_ended`` when a ``**kwargs`` goes
    somewhere other than a base class's ``__init__``."""
    names = set()
    if not inspect.isclass(target):
        chain = [target]
    else:
        chain = [k.__dict__['__init__'] for k in target.__mro__
                 if '__init__' in k.__dict__ and k is not object]
    for init in chain:
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return names, True
        names |= {p.name for p in params if p.name != 'self' and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names, False
    return names, not inspect.isclass(target)


def _model_refuses(group: Mapping, key: str, value) -> Optional[bool]:
    """Whether the model part ``group`` takes no ``key``, found by building it with ``key=value``
    (a ``**kwargs`` may take it, e.g. an earlier version's argument name); None when the build
    fails for another reason (the real build reports it)."""
    import copy
    import warnings

    from mmaction.registry import MODELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the real build warns once
            MODELS.build(copy.deepcopy(dict(group, **{key: value})))
    except TypeError as err:
        return True if 'unexpected keyword' in str(err) and f"'{key}'" in str(err) else None
    except Exception:  # noqa: BLE001 - another problem; the real build will report it
        return None
    return False
