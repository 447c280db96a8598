"""The package in small named pieces: no function in est_mm/ over 80 lines, and none with more
than 10 parameters except the ``__init__`` of a config-built component (a class decorated with a
registry's ``register_module()``: its parameters are the config keys users write). Read from the
source with ``ast``; nothing is imported."""
import ast
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MAX_LINES = 80
MAX_PARAMS = 10


def _sources():
    for folder, dirs, files in os.walk(osp.join(REPO, 'est_mm')):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(files):
            if name.endswith('.py'):
                path = osp.join(folder, name)
                with open(path, encoding='utf-8') as f:
                    yield osp.relpath(path, REPO), ast.parse(f.read(), path)


def _registered(cls):
    """``@X.register_module()`` (or ``@X.register_module``) on the class."""
    for deco in cls.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Attribute) and target.attr == 'register_module':
            return True
    return False


def _functions(tree):
    """(qualified name, function node, whether it is a registered class's ``__init__``)."""
    def walk(node, prefix, cls):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from walk(child, f'{prefix}{child.name}.', child)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                config_built = (cls is not None and child.name == '__init__'
                                and _registered(cls))
                yield f'{prefix}{child.name}', child, config_built
                yield from walk(child, f'{prefix}{child.name}.', None)
            else:
                yield from walk(child, prefix, cls)
    yield from walk(tree, '', None)


def _params(fn):
    """Parameters a caller can pass: all but ``self``/``cls``; ``*args``/``**kwargs`` count one."""
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    if names and names[0] in ('self', 'cls'):
        names = names[1:]
    return len(names)


def _lines(fn):
    """From the ``def`` (decorators not counted) to the last line of the body."""
    return fn.end_lineno - fn.lineno + 1


def _offenders():
    long, wide = [], []
    for path, tree in _sources():
        for name, fn, config_built in _functions(tree):
            if _lines(fn) > MAX_LINES:
                long.append(f'{path}::{name} ({_lines(fn)} lines)')
            if _params(fn) > MAX_PARAMS and not config_built:
                wide.append(f'{path}::{name} ({_params(fn)} parameters)')
    return long, wide


def test_no_function_over_80_lines():
    long, _ = _offenders()
    assert not long, 'split these functions:\n' + '\n'.join(long)


def test_no_function_over_10_parameters_but_config_built_inits():
    _, wide = _offenders()
    assert not wide, ('pass these settings as a dataclass:\n' + '\n'.join(wide))


def test_the_rule_sees_what_it_should():
    src = ('from x import MODELS\n'
           '@MODELS.register_module()\n'
           'class Head:\n'
           '    def __init__(self, a, b, c, d, e, f, g, h, i, j, k):\n        pass\n'
           '    def forward(self, a, b, c, d, e, f, g, h, i, j, k):\n        pass\n'
           'class Plain:\n'
           '    def __init__(self, a, b, c, d, e, f, g, h, i, j, k):\n        pass\n'
           'def long(*args, **kwargs):\n' + '    x = 1\n' * 80)
    found = {name: (_lines(fn), _params(fn), built)
             for name, fn, built in _functions(ast.parse(src))}
    assert found['Head.__init__'][1:] == (11, True)
    assert found['Head.forward'][1:] == (11, False)
    assert found['Plain.__init__'][1:] == (11, False)
    assert found['long'][:2] == (81, 2)
