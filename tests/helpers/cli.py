"""Running the command-line tools as a user does: ``python tools/...`` from the repository root,
with the repository on PYTHONPATH."""
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = 'configs/est_r18_toy.py'


def run(*argv, timeout=300, stdin=None):
    """``python <argv>`` from the repository root: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, stdin=stdin, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def one_line(stderr):
    """The last line of ``stderr``, after checking there is no traceback in it."""
    assert 'Traceback' not in stderr, stderr[-3000:]
    return stderr.strip().splitlines()[-1]


def demo(*args, stdin=None):
    """``tools/demo.py <args>``: (exit code, stdout, stderr)."""
    return run('tools/demo.py', *args, stdin=stdin, timeout=600)


def demo_batch(*args):
    """``tools/demo_batch.py <args>``: (exit code, stdout, stderr)."""
    return run('tools/demo_batch.py', *args, timeout=600)
