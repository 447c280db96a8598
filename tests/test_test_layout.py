"""The test suite's own shape: test modules are named after what they test, not after when or why
they were written, and share code only through conftest.py fixtures and the tests/helpers
package, never by importing another test module or conftest. Read with ``ast``; nothing is
imported."""
import ast
import glob
import os.path as osp

import pytest

TESTS = osp.dirname(osp.abspath(__file__))
# words that say when or why a module was written, not what it tests
HISTORY_WORDS = {'review', 'fix', 'fixes', 'more', 'misc', 'new', 'extra', 'old', 'other',
                 'regression', 'regressions', 'issue', 'followup', 'again', 'pass', 'round'}


def module_files():
    return sorted(glob.glob(osp.join(TESTS, 'test_*.py')))


def history_words(module_name):
    """The words of ``test_<words>`` that name history (issue numbers included)."""
    words = module_name[len('test_'):].split('_')
    return [w for w in words if w in HISTORY_WORDS or w.rstrip('0123456789') == 'issue']


def imported_test_modules(source):
    """Names of test modules and conftest that ``source`` imports, at any depth of the code."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n.split('.')[0] == 'conftest'
                  or n.split('.')[0].startswith('test_')]
    return found


def test_no_test_module_imports_another_or_conftest():
    files = module_files() + sorted(glob.glob(osp.join(TESTS, 'helpers', '*.py')))
    assert len(files) > 10
    offenders = {}
    for path in files:
        with open(path) as f:
            imported = imported_test_modules(f.read())
        if imported:
            offenders[osp.relpath(path, TESTS)] = imported
    assert not offenders, (f'{offenders}: share helpers through tests/conftest.py fixtures or '
                           'the tests/helpers package, not by importing a test module')


def test_no_test_module_is_named_by_its_history():
    named = {osp.basename(p)[:-3]: history_words(osp.basename(p)[:-3]) for p in module_files()}
    assert not {name: words for name, words in named.items() if words}, \
        'name test modules after their subject (tests/test_<module or feature>.py)'


@pytest.mark.parametrize('source,expected', [
    ('from test_demo import compose', ['test_demo']),
    ('import conftest', ['conftest']),
    ('from conftest import write_h264 as w', ['conftest']),
    ('def f():\n    from test_x.y import z\n', ['test_x.y']),  # inside a function too
    ('import os, test_a', ['test_a']),
    ('from helpers.media import write_h264\nimport pytest\nfrom . import test_a', []),
    ('from est_mm.utils import testing', []),
])
def test_the_import_check_finds_test_modules_and_conftest(source, expected):
    assert imported_test_modules(source) == expected


@pytest.mark.parametrize('name,expected', [
    ('test_review_fixes', ['review', 'fixes']), ('test_errors_more', ['more']),
    ('test_issue14_pass2', ['issue14']), ('test_misc', ['misc']),
    ('test_demo_batch', []), ('test_config_loading', []), ('test_newton', []),
])
def test_history_words(name, expected):
    assert history_words(name) == expected
