"""The tools that train, test, benchmark and run the demo start PyTorch with sleeping OpenMP
threads (``OMP_WAIT_POLICY=PASSIVE``, set before torch is imported) unless the user's
environment says otherwise (tools.argtypes.sleeping_openmp_threads)."""
import os
import subprocess
import sys

import pytest

from helpers.cli import ROOT

TOOLS = ['tools/train.py', 'tools/test.py', 'tools/analysis/benchmark.py', 'tools/demo.py',
         'tools/demo_batch.py', 'tools/analysis/video_speed.py']
# runs the tool's main with --help, then prints the policy and whether torch was imported
PROBE = '''import os, runpy, sys
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit:
    pass
print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)
'''


def _probe(tool, policy):
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    if policy:
        env['OMP_WAIT_POLICY'] = policy
    proc = subprocess.run([sys.executable, '-c', PROBE, tool], cwd=ROOT, capture_output=True,
                          text=True, env=dict(env, PYTHONPATH=ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize('tool', TOOLS)
def test_the_policy_is_passive_before_torch_unless_the_user_set_one(tool):
    assert _probe(tool, None) == 'PASSIVE False'
    assert _probe(tool, 'ACTIVE') == 'ACTIVE False'
