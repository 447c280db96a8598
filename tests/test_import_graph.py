"""The package's layers (README "Architecture"): no import cycle among module-level imports, no
cycle between sub-packages (``est_mm.apis``, ``est_mm.streaming``, ...) counting every import at
any depth of the code (function-level imports run too), and no import, at any depth, from a
lower layer to a higher one. Read from the source with ``ast``; nothing is imported."""
import ast
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# bottom first; a module belongs to the last (longest) prefix that names it
LAYERS = (
    ('est_mm.snippet_geometry', 'est_mm.inference_spec', 'est_mm.deploy.onnx_backend',
     'est_mm.results', 'est_mm.utils.errors'),  # the torch-free core
    ('est_mm.compat', 'est_mm.utils'),
    ('est_mm.video', ),
    ('est_mm.faces', ),
    ('est_mm.datasets', ),
    ('est_mm.models', ),
    ('est_mm.evaluation', ),
    ('est_mm.engine', ),
    ('est_mm.streaming', ),  # below deploy: the export checks its part graphs with the engine
    ('est_mm.apis', 'est_mm.deploy', 'est_mm.analysis', 'est_mm.convert'),
)
EXEMPT = 'est_mm'  # est_mm/__init__.py imports every layer to register them
# (module, import) kept for callers not yet moved; each entry names what ends it
TRANSITIONAL = set()  # upward edges allowed for now: none


def layer_of(module):
    """Index in :data:`LAYERS` of the most specific prefix naming ``module``; ``est_mm`` itself
    (which imports every layer) is in the top one."""
    if module == EXEMPT:
        return len(LAYERS) - 1
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + '.'):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), index)
    assert best is not None, f'{module}: in no layer of tests/test_import_graph.py'
    return best[1]


def est_mm_modules():
    """``{dotted module name: file path}`` of every module under est_mm/."""
    modules = {}
    for folder, _, files in os.walk(osp.join(REPO, 'est_mm')):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                dotted = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
                modules[dotted.removesuffix('.__init__')] = path
    return modules


def import_edges(modules):
    """``[(module, imported est_mm module, module_level)]``; ``from a import b`` is an edge to
    ``a.b`` when that is a module, otherwise to ``a``."""
    edges = []
    for module, path in modules.items():
        package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
        tree = ast.parse(open(path, encoding='utf-8').read(), filename=path)
        top_level = {id(node) for node in tree.body}
        top_level |= {id(n) for node in tree.body if isinstance(node, (ast.If, ast.Try))
                      for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    parts = package.split('.')
                    base = '.'.join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                names = [f'{base}.{a.name}' if f'{base}.{a.name}' in modules else base
                         for a in node.names]
            else:
                continue
            for name in names:
                while name and name not in modules:
                    name = name.rpartition('.')[0]
                if name and name != module:
                    edges.append((module, name, id(node) in top_level))
    return edges


def test_every_module_is_in_a_layer():
    for module in est_mm_modules():
        if module != EXEMPT:
            layer_of(module)


def test_no_module_imports_a_higher_layer():
    edges = import_edges(est_mm_modules())
    upward = {(m, d) for m, d, _ in edges if m != EXEMPT and layer_of(d) > layer_of(m)}
    assert sorted(upward - TRANSITIONAL) == []


def subpackage(module):
    """``est_mm.<first part>`` of ``module`` (a sub-package or a top-level module); None for
    ``est_mm`` itself, which imports every sub-package to register them."""
    parts = module.split('.')
    return '.'.join(parts[:2]) if len(parts) > 1 else None


def find_cycles(graph):
    """Every cycle through each node of ``{node: {nodes it imports}}`` as 'a -> b -> a'."""
    cycles = []
    for start in sorted(graph):
        todo, seen = [(start, (start, ))], set()
        while todo:
            module, path = todo.pop()
            for dep in sorted(graph.get(module, ())):
                if dep == start:
                    cycles.append(' -> '.join(path + (start, )))
                elif dep not in seen:
                    seen.add(dep)
                    todo.append((dep, path + (dep, )))
    return cycles


def test_find_cycles_finds_a_cycle_through_three_nodes():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert find_cycles(graph) == ['a -> b -> c -> a', 'b -> c -> a -> b', 'c -> a -> b -> c']


def test_no_import_cycle_among_module_level_imports():
    graph = {}
    for module, dep, module_level in import_edges(est_mm_modules()):
        if module_level:
            graph.setdefault(module, set()).add(dep)
    assert find_cycles(graph) == []


def test_no_import_cycle_between_subpackages_at_any_depth():
    """apis -> deploy -> streaming -> apis through imports inside functions is a cycle too."""
    graph = {}
    for module, dep, _ in import_edges(est_mm_modules()):
        a, b = subpackage(module), subpackage(dep)
        if a and b and a != b:
            graph.setdefault(a, set()).add(b)
    assert find_cycles(graph) == []
