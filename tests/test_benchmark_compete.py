"""tools/analysis/benchmark.py --compete: the competing PyTorch process starts, loads the cores,
and is gone after the timings, after Ctrl-C and after the benchmark's own process is killed."""
import os
import signal
import subprocess
import sys
import time

import pytest

from est_mm.analysis import benchmark
from est_mm.analysis.benchmark import BenchmarkOptions, Competitor, format_benchmark


def running(pid: int) -> bool:
    """The process exists and is not a zombie (an exited orphan that init has not reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


def competitors() -> list:
    """Pids of this process's running children that run the competing loop."""
    pids = []
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read()
        except (OSError, ValueError):
            continue
        if (fields[0] != 'Z' and int(fields[1]) == os.getpid()
                and benchmark._COMPETITOR_SOURCE.encode() in cmdline):
            pids.append(int(entry))
    return pids


def test_competitor_runs_until_stopped(monkeypatch):
    monkeypatch.setenv('OMP_WAIT_POLICY', 'PASSIVE')  # the benchmark's, not the other job's
    competitor = Competitor(1, size=4).start()
    pid = competitor.pid
    assert competitors() == [pid]
    with open(f'/proc/{pid}/environ', 'rb') as f:
        assert not any(v.startswith(b'OMP_') for v in f.read().split(b'\0'))
    record = competitor.stop()
    assert not running(pid)
    assert record['pid'] == pid and record['threads'] == 1
    assert record['iterations'] >= 1 and record['seconds'] > 0


class _Step:
    """Stands in for a model's Stepper: records the competing processes running during each
    step, and is interrupted (Ctrl-C) at its second training step."""

    def __init__(self):
        self.seen = []

    def train_step(self):
        self.seen.append(competitors())
        if len(self.seen) == 2:
            raise KeyboardInterrupt
        return 1.0

    infer = train_step


def test_ctrl_c_during_the_timings_stops_it():
    options = BenchmarkOptions(iters=3, warmup=0, compete=1, compete_size=4)
    step = _Step()
    with pytest.raises(KeyboardInterrupt):
        benchmark._time_pair({'EST': step}, options, log=lambda m: None)
    assert len(step.seen) == 2 and len(step.seen[0]) == 1 and step.seen[0] == step.seen[1]
    assert not running(step.seen[0][0]) and competitors() == []


def test_it_dies_with_a_killed_benchmark():
    # a parent that starts the competing loop and is then killed without cleaning up
    parent = ('import os, subprocess, sys\n'
              'p = subprocess.Popen([sys.executable, "-c", sys.argv[1], "1", "4", '
              'str(os.getpid())], stdout=subprocess.PIPE, start_new_session=True)\n'
              'assert p.stdout.readline().strip() == b"ready"\n'
              'print(p.pid, flush=True)\n'
              'os.kill(os.getpid(), 9)\n')
    proc = subprocess.run([sys.executable, '-c', parent, benchmark._COMPETITOR_SOURCE],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    pid = int(proc.stdout)
    deadline = time.monotonic() + 60  # a liveness bound, not a timing measurement
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(pid)


@pytest.mark.slow
def test_run_benchmark_times_beside_it_and_stops_it():
    options = BenchmarkOptions(frame_size=16, iters=1, warmup=0, memory=False, loading=False,
                               compete=1, compete_size=4,
                               cfg_options={'model.cls_head.ffn_channels': 32,
                                            'model.cls_head.ssop.hidden': (32, 16)})
    report = benchmark.run_benchmark('configs/est_r18_dfew.py', options, log=lambda m: None)
    record = report['competitor']
    assert record['iterations'] >= 1 and not running(record['pid'])
    assert 'busy: a competing PyTorch process (1 thread(s)' in format_benchmark(report)
    assert len(report['models']['EST']['train_step_all_s']) == 1
    assert report['models']['EST']['train_step_cpu_s'] > 0


def test_compete_needs_threads():
    with pytest.raises(ValueError, match='--compete'):
        BenchmarkOptions(compete=-1)
    with pytest.raises(ValueError, match='threads and size'):
        Competitor(0)
