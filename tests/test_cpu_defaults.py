"""tools.argtypes.cpu_defaults, as the tools apply it before torch is imported: sleeping OpenMP
threads (``OMP_WAIT_POLICY=PASSIVE``) in every tool that runs PyTorch, and in the tools that
train and test, freed memory kept for reuse (the next step's activations need no fresh pages);
each unless the user's environment sets its own."""
import os
import subprocess
import sys

import pytest

from helpers.cli import ROOT

TRAINING = ['tools/train.py', 'tools/test.py', 'tools/analysis/benchmark.py']
DEMO = ['tools/demo.py', 'tools/demo_batch.py', 'tools/analysis/video_speed.py']
# runs the tool's main with --help; then prints the wait policy, whether torch was imported, and
# from glibc's malloc statistics (mallinfo2): the bytes in mmap'ed blocks while a 64 MiB block is
# held, and the heap's size after it is freed
PROBE = '''import ctypes, os, runpy, sys
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit:
    pass
torch = 'torch' in sys.modules
import numpy as np

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks',
        'fordblks', 'keepcost')]

libc = ctypes.CDLL('libc.so.6')
libc.mallinfo2.restype = Info
block = np.ones(64 << 20, np.uint8)
mapped = libc.mallinfo2().hblkhd
del block
print(os.environ.get('OMP_WAIT_POLICY'), torch, mapped, libc.mallinfo2().arena)
'''


def _probe(tool, **env):
    base = {k: v for k, v in os.environ.items()
            if k != 'OMP_WAIT_POLICY' and not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
    proc = subprocess.run([sys.executable, '-c', PROBE, tool], cwd=ROOT, capture_output=True,
                          text=True, env=dict(base, PYTHONPATH=ROOT, **env), timeout=120)
    assert proc.returncode == 0, proc.stderr
    policy, torch, mapped, heap = proc.stdout.strip().splitlines()[-1].split()
    return policy, torch, int(mapped), int(heap)


@pytest.mark.parametrize('tool', TRAINING + DEMO)
def test_threads_sleep_before_torch_is_imported_unless_the_user_set_a_policy(tool):
    assert _probe(tool)[:2] == ('PASSIVE', 'False')
    assert _probe(tool, OMP_WAIT_POLICY='ACTIVE')[:2] == ('ACTIVE', 'False')


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc malloc settings')
@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/demo.py'])
def test_training_tools_reuse_freed_memory_unless_the_user_tunes_malloc(tool):
    block = 64 << 20
    _, _, mapped, heap = _probe(tool)
    if tool in TRAINING:  # from the heap, and kept there once freed
        assert mapped < block and heap >= block
        _, _, mapped, heap = _probe(tool, MALLOC_MMAP_THRESHOLD_='131072')  # the user's setting
    # glibc's default: a block this large is mmap'ed and goes back to the system when freed
    assert mapped >= block and heap < block
