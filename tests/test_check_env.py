"""tools/check_env.py notices an environment that no longer has the pinned versions (checked against
requirement files written here, so .venv itself is never touched), and the Makefile runs it, with
the reinstall of the pins, before the demo and the tests."""
import os.path as osp
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def check_env(*files):
    proc = subprocess.run([sys.executable, 'tools/check_env.py', *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr.splitlines()


def test_wrong_pins_are_named_one_line_each(tmp_path):
    numpy, setuptools = metadata.version('numpy'), metadata.version('setuptools')
    req = tmp_path / 'requirements.txt'
    req.write_text('# pins\nnumpy==1.0.0\nsetuptools>=999,<1000  # as openmim leaves it, inverted\n'
                   f'pytest=={metadata.version("pytest")}\nno-such-package-est-mm==1.0\n')
    rc, out, err = check_env(req)
    assert rc == 1 and out == ''
    assert err == [f'numpy: {numpy} installed, requirements.txt:2 pins numpy==1.0.0',
                   f'setuptools: {setuptools} installed, requirements.txt:3 pins '
                   'setuptools>=999,<1000',
                   'no-such-package-est-mm: not installed (requirements.txt:5 pins '
                   'no-such-package-est-mm==1.0)']


def test_matching_pins_pass_silently(tmp_path):
    a, b = tmp_path / 'a.txt', tmp_path / 'b.txt'
    a.write_text(f'numpy=={metadata.version("numpy")}\nsetuptools>=1\n')
    b.write_text(f'pytest=={metadata.version("pytest")}\n'
                 'no-such-package-est-mm==1.0; python_version < "3"\n')  # not for this Python
    assert check_env(a, b) == (0, '', [])


def test_unreadable_requirement_file_is_one_line(tmp_path):
    rc, _, err = check_env(tmp_path / 'missing.txt')
    assert rc == 1 and len(err) == 1 and str(tmp_path / 'missing.txt') in err[0]


@pytest.mark.parametrize('target,command', [('demo', 'tools/train.py'), ('test', 'pytest')])
def test_make_checks_the_environment_first(target, command):
    if shutil.which('make') is None:
        pytest.skip('make not installed')
    proc = subprocess.run(['make', '-n', target], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    check = next(i for i, line in enumerate(lines) if 'tools/check_env.py ||' in line)
    assert 'pip install' in lines[check + 1] and '-r requirements.txt' in lines[check + 1]
    assert check < next(i for i, line in enumerate(lines) if command in line)


def test_make_demo_fixes_the_thread_count():
    """The toy run is bitwise reproducible for one thread count and instruction set, and the
    thread count would otherwise follow the machine's cores."""
    if shutil.which('make') is None:
        pytest.skip('make not installed')
    out = subprocess.run(['make', '-n', 'demo'], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout
    runs = [line for line in out.splitlines()
            if 'tools/train.py' in line or 'tools/test.py' in line]
    assert len(runs) == 2 and all(line.startswith('OMP_NUM_THREADS=2 ') for line in runs), runs


@pytest.mark.parametrize('pip_ok', [True, False])
def test_restoring_the_pins_is_quiet_unless_it_fails(pip_ok, tmp_path):
    """make check-env's restore with stand-ins for python and pip: pip's resolver complaints
    (printed even when the restore works) stay in a log unless the restore fails."""
    if shutil.which('make') is None:
        pytest.skip('make not installed')
    fixed, python, log = tmp_path / 'fixed', tmp_path / 'python', tmp_path / 'restore.log'
    python.write_text(f'#!/bin/sh\n[ -f {fixed} ] && exit 0\n'
                      'echo "setuptools: 60.2.0 installed, requirements.txt:3 pins '
                      'setuptools==80.9.0" >&2\nexit 1\n')
    python.chmod(0o755)
    noise = ("echo 'ERROR: openmim 0.3.9 requires setuptools<70, but you have setuptools 80.9.0 "
             "which is incompatible.' >&2")
    pins = f'{noise}; touch {fixed}' if pip_ok else f'{noise}; false'
    proc = subprocess.run(['make', '-s', '-o', '.venv/.installed', 'check-env', f'PY={python}',
                           f'INSTALL_PINS={pins}', f'RESTORE_LOG={log}'], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert 'requires setuptools<70' in log.read_text()
    if pip_ok:
        assert proc.returncode == 0 and proc.stdout == ''
        assert proc.stderr.splitlines() == [
            'setuptools: 60.2.0 installed, requirements.txt:3 pins setuptools==80.9.0',
            'restoring the pinned versions in .venv']
    else:
        assert proc.returncode != 0
        assert 'requires setuptools<70' in proc.stderr
        assert 'restoring the pinned versions failed: pip output above' in proc.stderr
