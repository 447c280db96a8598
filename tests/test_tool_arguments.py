"""Option values that cannot work are refused by the argument parser (exit 2, one line naming the
option) before anything is loaded, instead of a traceback or a meaningless result later."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = 'configs/est_r18_toy.py'

REFUSED = [
    (['tools/analysis/tsne.py', CFG, 'x.pth', '--out', 'x.png', '--perplexity', '-3'],
     '--perplexity'),
    (['tools/analysis/tsne.py', CFG, 'x.pth', '--out', 'x.png', '--iters', '0'], '--iters'),
    (['tools/analysis/tsne.py', CFG, 'x.pth', '--out', 'x.png', '--max-samples', '0'],
     '--max-samples'),
    (['tools/analysis/attention.py', CFG, 'x.pth', '--out-dir', 'o', '--indices', '-1'],
     '--indices'),
    (['tools/deployment/export_onnx.py', CFG, 'x.pth', '--atol', '-1'], '--atol'),
    (['tools/deployment/export_onnx.py', CFG, 'x.pth', '--batch', '0'], '--batch'),
    (['tools/deployment/export_onnx.py', CFG, 'x.pth', '--frame-size', '0', '0'], '--frame-size'),
    (['tools/deployment/export_onnx.py', CFG, 'x.pth', '--opset', '5'], '--opset'),
    (['tools/deployment/export_onnx.py', CFG, 'x.pth', '--verify-clips', '0', '--verify-frames',
      'a.mp4'], '--verify-frames'),
    (['tools/run_folds.py', CFG, '--folds', '0'], '--folds'),
    (['tools/run_folds.py', CFG, '--gpus', '-1'], '--gpus'),
]


@pytest.mark.parametrize('argv,option', REFUSED, ids=[' '.join(a[:1] + a[-2:]) for a, _ in REFUSED])
def test_invalid_values_are_refused_by_the_parser(argv, option):
    proc = subprocess.run([sys.executable] + argv, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert 'error:' in last and option in last and 'Traceback' not in proc.stderr


@pytest.mark.parametrize('gpus', ['0', 'abc', '-2'])
def test_dist_scripts_refuse_a_gpu_count_that_is_not_a_positive_number(gpus):
    proc = subprocess.run(['bash', 'tools/dist_train.sh', CFG, gpus], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("dist_train.sh: GPUS must be a whole number >= 1 (processes "
                                   f"per node), got '{gpus}'")


def test_test_py_with_a_missing_data_folder_is_one_line(tmp_path):
    import torch
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {}, 'meta': {}}, ckpt)
    missing = tmp_path / 'no_such_dfew'
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', 'configs/est_r18_dfew.py', str(ckpt), '--work-dir',
         str(tmp_path / 'wd'), '--cfg-options', f'test_dataloader.dataset.data_root={missing}'],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f'{missing}: data folder not found (test_dataloader.dataset.data_root)')
