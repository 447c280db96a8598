"""The command-line tools as a new user meets them: ``--help`` answers without importing torch; a
missing or looping data folder, a checkpoint that cannot be written and Ctrl-C end with one line
(exit codes 1 and 130); printed commands run in bash as printed; the shell wrappers explain their
arguments; the demo's output folder stays out of git."""
import os
import os.path as osp
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'


def run(cmd, **kwargs):
    return subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                          text=True, timeout=600, **kwargs)


def one_line_failure(proc, returncode=1):
    """Exit code ``returncode``, no traceback; returns the last line of stderr."""
    assert proc.returncode == returncode, (proc.stdout + proc.stderr)[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr.strip().splitlines()[-1]


def train_options(root, *extra):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'train_dataloader.batch_size=3', 'default_hooks.logger.interval=1', *extra]


# --- --help before any heavy import --------------------------------------------------------------

@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/run_folds.py'])
def test_help_does_not_import_torch(tool):
    proc = run([sys.executable, '-X', 'importtime', tool, '--help'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith('usage: ')
    imported = {line.rsplit('|', 1)[-1].strip().split('.')[0]
                for line in proc.stderr.splitlines() if line.startswith('import time:')}
    assert 'argparse' in imported  # -X importtime did report
    heavy = imported & {'torch', 'est_mm', 'mmaction'}
    assert not heavy, heavy


# --- one line instead of a traceback -------------------------------------------------------------

def data_folder(kind, tmp_path, toy_root):
    """A data_root that is missing, a symbolic link loop, a file; or a copy of the toy set in
    which one listed clip folder is a link to itself. Returns (data_root, expected line)."""
    key = 'train_dataloader.dataset.data_root'
    root = str(tmp_path / 'data')
    if kind == 'missing':
        return root, f'{root}: data folder not found ({key})'
    if kind == 'loop':
        os.symlink(root, root)
        return root, f'{root}: data folder is a symbolic link loop ({key})'
    if kind == 'file':
        open(root, 'w').close()
        return root, f'{root}: data folder is a file, not a folder ({key})'
    shutil.copytree(toy_root, root)
    clip = osp.join(root, 'Clip', 'clip_224x224', '00004')
    shutil.rmtree(clip)
    os.symlink(clip, clip)
    return root, clip


@pytest.mark.parametrize('kind', ['missing', 'loop', 'file', 'loop inside'])
def test_train_with_a_bad_data_folder_is_one_line(kind, toy_root, tmp_path):
    root, expected = data_folder(kind, tmp_path, toy_root)
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'),
                *train_options(root)])
    line = one_line_failure(proc)
    if kind == 'loop inside':  # the dataset's own message, naming the clip folder
        assert expected in line, line
    else:
        assert line == expected


def test_checkpoint_that_cannot_be_written_is_one_line(toy_root, tmp_path):
    """A file-size limit (ulimit -f) fails the checkpoint write as a full disk would."""
    limit = 4 << 20  # the logs fit, a checkpoint does not

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    work = tmp_path / 'work'
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work),
                *train_options(toy_root, 'train_dataloader.batch_size=7',  # 1 iteration
                               'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1')],
               preexec_fn=limit_file_size)
    line = one_line_failure(proc)
    assert str(work / 'epoch_1.pth') in line, line
    assert 'Epoch(train)' in proc.stdout + proc.stderr  # it trained, then failed saving
    assert not [f for f in os.listdir(work) if f.endswith(('.pth', '.tmp'))]


def test_ctrl_c_is_one_line_with_exit_code_130(toy_root, tmp_path):
    """Ctrl-C in a terminal signals the whole process group. Also: ``num_workers=0`` given without
    ``persistent_workers=False`` (the config has True) trains, with a one-line note."""
    log = str(tmp_path / 'train.log')
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'),
           '--cfg-options', f'train_dataloader.dataset.data_root={toy_root}',
           'train_dataloader.num_workers=0', 'train_dataloader.batch_size=3',
           'default_hooks.logger.interval=1']
    with open(log, 'w') as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1'),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
        try:
            deadline = time.time() + 600
            while not re.search(r'Epoch\(train\)', open(log).read()):
                assert proc.poll() is None, open(log).read()[-3000:]
                assert time.time() < deadline, open(log).read()[-3000:]
                time.sleep(0.1)
            os.killpg(proc.pid, signal.SIGINT)
            returncode = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = open(log).read()
    assert returncode == 130, text[-3000:]
    assert 'Traceback' not in text, text[-3000:]
    assert text.strip().splitlines()[-1] == 'interrupted (Ctrl-C); continue with --resume'
    assert ('note: train_dataloader.num_workers=0, so train_dataloader.persistent_workers=False '
            '(persistent workers need workers)') in text


# --- printed commands run as printed -------------------------------------------------------------

def bash_words(line):
    """The words bash makes of ``line`` (expansions done, nothing run)."""
    proc = subprocess.run(['bash', '-c', f'set -- {line}\nprintf "%s\\0" "$@"'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split('\0')[:-1]


@pytest.mark.parametrize('which,gpus', [('last', '1'), ('best', '1'), ('last', '2')])
def test_print_commands_expand_in_bash(which, gpus, tmp_path):
    work = str(tmp_path / 'my runs')  # a space, as in a real path
    fold = osp.join(work, 'fold_2')
    proc = run([sys.executable, 'tools/run_folds.py', 'configs/est_r18_dfew.py', '--folds', '2',
                '--work-dir', work, '--checkpoint', which, '--gpus', gpus, '--print-commands',
                '--cfg-options', 'train_cfg.max_epochs=3'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    train_line, test_line = proc.stdout.strip().splitlines()
    assert not os.path.exists(work)  # nothing ran
    # what training would leave behind
    os.makedirs(fold)
    checkpoint = osp.join(fold, 'epoch 160.pth' if which == 'last' else 'best_acc_top1_epoch_7.pth')
    open(checkpoint, 'wb').close()
    open(osp.join(fold, 'last_checkpoint'), 'w').write(checkpoint)
    options = ['--cfg-options', 'train_dataloader.dataset.fold=2', 'test_dataloader.dataset.fold=2',
               'train_cfg.max_epochs=3']
    train, test = bash_words(train_line), bash_words(test_line)
    if gpus == '1':
        assert train == [sys.executable, osp.join(ROOT, 'tools/train.py'),
                         'configs/est_r18_dfew.py', '--work-dir', fold, '--resume', *options]
        assert test[:4] == [sys.executable, osp.join(ROOT, 'tools/test.py'),
                            'configs/est_r18_dfew.py', checkpoint]
    else:
        assert train[:4] == ['bash', osp.join(ROOT, 'tools/dist_train.sh'),
                             'configs/est_r18_dfew.py', '2']
        assert test[:5] == ['bash', osp.join(ROOT, 'tools/dist_test.sh'),
                            'configs/est_r18_dfew.py', checkpoint, '2']
    assert test[-len(options) - 4:] == ['--work-dir', fold, '--metrics-out',
                                        osp.join(fold, 'test_metrics.json'), *options]


# --- shell wrappers ------------------------------------------------------------------------------

@pytest.mark.parametrize('script,args', [
    ('tools/dist_train.sh', 'CONFIG GPUS'), ('tools/dist_test.sh', 'CONFIG CHECKPOINT GPUS'),
    ('tools/slurm_train.sh', 'PARTITION JOB_NAME CONFIG'),
    ('tools/slurm_test.sh', 'PARTITION JOB_NAME CONFIG CHECKPOINT')])
def test_shell_wrappers_print_their_usage(script, args):
    helped = run(['bash', script, '--help'])
    assert helped.returncode == 0 and not helped.stderr, helped.stderr
    assert f'bash {script} {args} [' in helped.stdout.splitlines()[0]
    bare = run(['bash', script])
    assert bare.returncode == 2
    assert bare.stderr.splitlines()[0] == helped.stdout.splitlines()[0]
    assert 'unbound variable' not in bare.stderr


def test_demo_output_folder_is_ignored_by_git():
    if shutil.which('git') is None or not osp.isdir(osp.join(ROOT, '.git')):
        pytest.skip('not a git clone')
    proc = run(['git', 'check-ignore', '-q', 'demo_out/clip.json'])
    assert proc.returncode == 0  # tools/demo.py's default --out-dir
