"""Resuming only the run a checkpoint belongs to: compare the configuration mmengine stored in a
checkpoint (``meta['cfg']``, the config's text) with the configuration of the run about to resume
it, over what makes a training run (model, training data, schedule, optimizer, seeds), and raise
:class:`ResumeConfigError` naming what differs.

The stored text is parsed with :mod:`ast`, never executed (a checkpoint is not trusted code).
Settings that do not change what is trained (work dir, logging, hooks, launcher, data loader
workers, validation/test settings, pretrained-weight paths that resuming replaces) are not
compared."""
import ast
import os.path as osp
from typing import Any, List, Optional, Tuple

from ..utils.safe_checkpoint import safe_load_checkpoint

# The top-level config keys that make a training run what it is.
COMPARED = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
            'randomness', 'auto_scale_lr')
# Keys at any depth that do not make another run: loader processes, the initial weights (a
# resumed run takes all weights from its checkpoint), and what to do about an unreadable clip (a
# run stopped by one is resumed with on_bad_sample='skip').
IGNORED = frozenset({'num_workers', 'persistent_workers', 'pin_memory', 'prefetch_factor',
                     'pretrained', 'torchvision_pretrain', 'init_cfg', 'on_bad_sample'})
MAX_SHOWN = 3  # differences named in the message


class _Absent:
    def __repr__(self):
        return '(absent)'


ABSENT = _Absent()  # the value of a key one of the two configurations does not have

Difference = Tuple[str, Any, Any]  # (dotted key, checkpoint's value, current value)


class ResumeConfigError(ValueError):
    """A checkpoint was written under another configuration; ``str(err)`` is one line naming the
    checkpoint and the first differences (``differences`` holds them all)."""

    def __init__(self, path: str, differences: List[Difference]):
        self.path, self.differences = str(path), differences
        shown = [f'{key} {_show(old)} -> {_show(new)}' for key, old, new in differences[:MAX_SHOWN]]
        more = len(differences) - MAX_SHOWN
        if more > 0:
            shown.append(f'and {more} more')
        super().__init__(f'{self.path} was written under another configuration: '
                         f'{", ".join(shown)}')


def _show(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _literal(node: ast.AST):
    """The value of a pretty-printed config expression: literals, ``dict(k=v)``, containers; any
    other expression (a name, a call) stands for itself as its source text."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args and all(k.arg for k in node.keywords):
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float, complex)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    return f'<{ast.unparse(node)}>'


def parse_config_text(text: str) -> Optional[dict]:
    """The top-level assignments of a config's text (mmengine's ``Config.pretty_text``) as plain
    values, without running it; None if the text is not Python made of such assignments."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    values = {}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            return None
        values[stmt.targets[0].id] = _literal(stmt.value)
    return values


def config_differences(old: dict, new: dict, keys=COMPARED) -> List[Difference]:
    """The ``(key, old value, new value)`` leaves that differ between two parsed configs, over
    the top-level ``keys`` (keys in :data:`IGNORED` skipped at every depth), in key order;
    :data:`ABSENT` stands for a missing key."""
    found: List[Difference] = []

    def walk(a, b, where):
        if a is ABSENT and isinstance(b, dict) or b is ABSENT and isinstance(a, dict):
            a, b = ({} if a is ABSENT else a), ({} if b is ABSENT else b)  # leaves named
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                if key not in IGNORED:
                    walk(a.get(key, ABSENT), b.get(key, ABSENT), f'{where}.{key}')
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f'{where}.{i}')
        elif a != b or type(a) is not type(b) and not _same_number(a, b):
            found.append((where, a, b))

    for key in sorted(keys):
        walk(old.get(key, ABSENT), new.get(key, ABSENT), key)
    return found


def _same_number(a, b) -> bool:
    """1 and 1.0 are the same setting; True and 1 are not."""
    return not isinstance(a, bool) and not isinstance(b, bool) and \
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b


def stored_config(path: str) -> Optional[dict]:
    """The parsed configuration a checkpoint was written under (``meta['cfg']``); None when it
    holds none that can be read. A bad checkpoint raises ``CheckpointError`` (one line)."""
    path = osp.expanduser(str(path))
    try:
        with open(path, 'rb') as f:
            is_zip = f.read(4) == b'PK\x03\x04'  # torch's zip format: map the tensors, not read
    except OSError:
        is_zip = False
    checkpoint = safe_load_checkpoint(path, map_location='cpu', mmap=is_zip)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    text = (meta or {}).get('cfg') or (meta or {}).get('config')
    return parse_config_text(text) if isinstance(text, str) else None


def check_resume_config(path: str, cfg) -> bool:
    """Before resuming ``path`` under ``cfg`` (an mmengine Config): raises
    :class:`ResumeConfigError` if the checkpoint was written under another configuration.
    Returns True when the configurations were compared (and agree), False when the checkpoint
    holds no configuration to compare with. Reads files only, no process group: safe to call
    on every rank of a distributed run (all ranks reach the same answer)."""
    old = stored_config(path)
    if old is None:
        return False
    new = parse_config_text(cfg.pretty_text)
    if new is None:  # a config whose values print as no Python (e.g. objects, not dicts)
        return False
    differences = config_differences(old, new)
    if differences:
        raise ResumeConfigError(path, differences)
    return True
