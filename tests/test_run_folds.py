"""tools/run_folds.py: every fold trained and tested, the mean ± std table, finished folds skipped."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from helpers.data import data_options

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_folds(*args):
    proc = subprocess.run([sys.executable, 'tools/run_folds.py', *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=1200)
    out = proc.stdout + proc.stderr
    return proc.returncode, out


@pytest.mark.slow  # ten training and test runs: ~75 s on 2 cores
def test_five_fold_toy_run_table_and_resume(toy_root, tmp_path):
    work = str(tmp_path / 'folds')
    # drop the leading --cfg-options; weights-only checkpoints keep the 5 folds quick
    options = data_options(toy_root)[1:] + ['default_hooks.checkpoint.save_optimizer=False']
    rc, out = run_folds('configs/est_r18_toy.py', '--work-dir', work, '--cfg-options', *options)
    assert rc == 0, out[-4000:]
    summary = json.load(open(osp.join(work, 'folds_summary.json')))
    assert [r['fold'] for r in summary['folds']] == [1, 2, 3, 4, 5]
    for row in summary['folds']:
        metrics = json.load(open(osp.join(work, f"fold_{row['fold']}", 'test_metrics.json')))
        assert row['WAR'] == pytest.approx(100 * metrics['acc/top1'])
        assert row['UAR'] == pytest.approx(100 * metrics['acc/mean1'])
    wars = [r['WAR'] for r in summary['folds']]
    assert summary['WAR']['mean'] == pytest.approx(np.mean(wars))
    assert summary['WAR']['std'] == pytest.approx(np.std(wars, ddof=1))
    table = open(osp.join(work, 'folds_summary.md')).read()
    assert table.count('\n| ') == 7 and 'mean ± std' in table  # header + 5 folds + mean row
    assert 'mean ± std' in out

    # a finished run is not redone; a fold whose test result is gone is tested again (its
    # training is already complete, so --resume adds no epoch)
    os.remove(osp.join(work, 'fold_3', 'test_metrics.json'))
    rc, out = run_folds('configs/est_r18_toy.py', '--work-dir', work, '--cfg-options', *options)
    assert rc == 0, out[-4000:]
    assert out.count('skipped') == 4 and 'fold 3: training' in out
    assert 'Epoch(train)' not in out
    assert osp.isfile(osp.join(work, 'fold_3', 'test_metrics.json'))


def test_print_commands_and_non_fold_config(tmp_path):
    rc, out = run_folds('configs/est_r18_dfew.py', '--folds', '2', '--print-commands',
                        '--work-dir', str(tmp_path))
    assert rc == 0, out
    assert 'train_dataloader.dataset.fold=2' in out and 'test_dataloader.dataset.fold=2' in out
    assert not os.listdir(tmp_path)  # nothing ran
