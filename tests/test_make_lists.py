"""tools/data/make_lists.py and est_mm.datasets.make_lists: class folders or a CSV become
classes.txt and train/val/test lists FERVideoDataset reads; stratified, seeded and
subject-independent splits; malformed input refused with one line and nothing written; face
extraction first (on real footage)."""
import os
import os.path as osp
import re
import runpy
import sys

import cv2
import numpy as np
import pytest

from est_mm.datasets import FERVideoDataset
from est_mm.datasets.make_lists import SPLITS, ListError, ListOptions, make_lists
from helpers.cli import ROOT as REPO, run
from helpers.media import cut_video, write_h264

TOOL = 'tools/data/make_lists.py'


def frame_folder(path, num=2):
    """A folder of ``num`` tiny PNG frames; returns its path."""
    os.makedirs(path)
    for i in range(1, num + 1):
        cv2.imwrite(osp.join(path, f'{i}.png'), np.full((8, 8, 3), 60 * i, np.uint8))
    return str(path)


def class_tree(root, per_class, subjects=None):
    """``root/<class>/<name>`` frame folders, ``per_class`` = {class: count}; with ``subjects``
    the k-th clip of a class is named ``<subjects[k % len]>_<class><k>``."""
    for name, count in per_class.items():
        for k in range(count):
            who = f'{subjects[k % len(subjects)]}_' if subjects else ''
            frame_folder(osp.join(root, name, f'{who}{name}{k}'))
    return str(root)


def read_lists(out):
    classes = open(osp.join(out, 'classes.txt')).read().split()
    lists = {}
    for split in SPLITS:
        lines = open(osp.join(out, f'{split}.txt')).read().splitlines()
        lists[split] = [(path, int(label)) for path, label in (ln.rsplit(' ', 1) for ln in lines)]
    return classes, lists


def quiet(*_):
    pass


def test_class_folders_become_lists_labelled_by_sorted_class_names(tmp_path):
    root = class_tree(tmp_path / 'videos', {'sad': 3, 'angry': 4, 'happy': 3})
    write_h264(tmp_path / 'videos' / 'happy' / 'clip.mp4',
               [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(3)])
    open(tmp_path / 'videos' / 'happy' / 'notes.txt', 'w').write('not a video')
    out = str(tmp_path / 'lists')
    lines = []
    make_lists(out, root, options=ListOptions(), log=lines.append)
    classes, lists = read_lists(out)
    assert classes == ['angry', 'happy', 'sad']
    listed = [entry for split in SPLITS for entry in lists[split]]
    assert sorted(p for p, _ in listed) == sorted(
        osp.join(root, c, n) for c in classes for n in os.listdir(osp.join(root, c))
        if n != 'notes.txt')
    assert all(classes[label] == osp.basename(osp.dirname(p)) for p, label in listed)
    assert any('left out 1 file(s) that are not videos' in ln for ln in lines)
    # the lists load as configs/est_r18_custom.py reads them (data_root = the list folder)
    ds = FERVideoDataset('train.txt', [], data_root=out, data_prefix=dict(video=''),
                         metainfo=dict(classes=classes), missing='error')
    data = [ds[i] for i in range(len(ds))]
    assert [(d.get('frame_dir') or d['filename'], d['label']) for d in data] == lists['train']


def test_split_is_stratified_and_seeded(tmp_path):
    root = class_tree(tmp_path / 'videos', {'a': 10, 'b': 10, 'c': 20})
    made = {}
    for seed in (0, 0, 1):
        out = str(tmp_path / f'lists{seed}')
        make_lists(out, root, options=ListOptions((0.6, 0.2, 0.2), seed, overwrite=True),
                   log=quiet)
        classes, lists = read_lists(out)
        counts = {s: [sum(lab == i for _, lab in lists[s]) for i in range(3)] for s in SPLITS}
        assert counts == {'train': [6, 6, 12], 'val': [2, 2, 4], 'test': [2, 2, 4]}
        if seed in made:
            assert lists == made[seed]
        made[seed] = lists
    assert made[0] != made[1]


def test_subjects_are_never_on_both_sides(tmp_path):
    people = [f'P{i:02d}' for i in range(10)]
    root = class_tree(tmp_path / 'videos', {'a': 20, 'b': 20, 'c': 30}, people)
    out = str(tmp_path / 'lists')
    lines = []
    make_lists(out, root, options=ListOptions(subject_regex=r'^(P\d+)_'), log=lines.append)
    _, lists = read_lists(out)
    subjects = {s: {osp.basename(p)[:3] for p, _ in lists[s]} for s in SPLITS}
    assert not (subjects['train'] & subjects['val'] or subjects['train'] & subjects['test']
                or subjects['val'] & subjects['test'])
    assert set.union(*subjects.values()) == set(people)
    assert all(len({lab for _, lab in lists[s]}) == 3 for s in SPLITS)  # every class everywhere
    counts = ', '.join(f'{s} {len(subjects[s])}' for s in SPLITS)
    assert f'subjects per split: {counts} (no subject in two splits)' in lines


def test_csv_paths_subjects_and_given_splits(tmp_path):
    data = tmp_path / 'data'
    rows = []
    for k, (split, subject) in enumerate([('train', 's1'), ('train', 's2'), ('val', 's3'),
                                          ('test', 's4')]):
        for label in ('pain', 'calm'):
            rows.append(f'clips/{label}{k},{label},{subject},{split}')
            frame_folder(data / 'clips' / f'{label}{k}')
    absolute = frame_folder(tmp_path / 'elsewhere' / 'x')
    rows.append(f'{absolute},pain,s1,train')
    (data / 'labels.csv').write_text('path,label,subject,split\n' + '\n'.join(rows) + '\n')
    out = str(tmp_path / 'lists')
    make_lists(out, csv_file=str(data / 'labels.csv'), log=quiet)
    classes, lists = read_lists(out)
    assert classes == ['calm', 'pain']
    assert sorted(lists['val']) == [(str(data / 'clips' / 'calm2'), 0),
                                    (str(data / 'clips' / 'pain2'), 1)]
    assert (absolute, 1) in lists['train'] and len(lists['train']) == 5


def corrupt_video(root):
    for k in range(3):
        frame_folder(root / 'a' / f'a{k}')
        frame_folder(root / 'b' / f'b{k}')
    (root / 'b' / 'broken.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42' + bytes(500))
    return [str(root)], 'unreadable clip', 'broken.mp4'


def empty_class(root):
    class_tree(root, {'a': 3, 'b': 3})
    os.makedirs(root / 'c')
    return [str(root)], 'empty class folder', osp.join(str(root), 'c')


def too_few(root):
    class_tree(root, {'a': 3, 'b': 2})
    return [str(root)], "class 'b' has 2 clip(s)", 'at least 3 per class'


def duplicate_in_csv(root):
    class_tree(root, {'a': 3, 'b': 3})
    rows = [f'{c}/{c}{k},{c}' for c in 'ab' for k in range(3)] + ['a/../a/a1,b']
    (root / 'list.csv').write_text('\n'.join(rows))
    return ['--csv', str(root / 'list.csv')], 'list.csv:7: duplicate path', 'list.csv:2'


def subject_in_two_splits(root):
    class_tree(root, {'a': 3, 'b': 3})
    rows = [f'{c}/{c}{k},{c},p{k},{SPLITS[k]}' for c in 'ab' for k in range(3)]
    rows[4] = 'b/b1,b,p0,val'
    (root / 'list.csv').write_text('\n'.join(rows))
    return ['--csv', str(root / 'list.csv')], "subject 'p0' is in val and in train", 'list.csv:5'


def faces_inside_root(root):
    class_tree(root, {'a': 3, 'b': 3})
    return ([str(root), '--extract-faces', str(root / 'faces')], 'must be outside',
            str(root / 'faces'))


@pytest.mark.parametrize('malformed', [corrupt_video, empty_class, too_few, duplicate_in_csv,
                                       subject_in_two_splits, faces_inside_root])
def test_malformed_input_is_one_line_and_nothing_written(tmp_path, malformed, capfd,
                                                         monkeypatch):
    args, *expected = malformed(tmp_path / 'videos')
    out = tmp_path / 'lists'
    # the tool as ``python tools/data/make_lists.py`` runs it, in this process (no start-up)
    monkeypatch.setattr(sys, 'argv', [TOOL, *args, '--out', str(out)])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(osp.join(REPO, TOOL), run_name='__main__')
    line = exit_.value.code  # a string: Python prints it to stderr and exits with status 1
    assert isinstance(line, str) and line.startswith('error: ') and '\n' not in line
    assert all(text in line for text in expected), line
    assert capfd.readouterr().err == ''  # no decoder noise around the one line
    assert not out.exists()


def test_existing_lists_are_kept_without_overwrite(tmp_path):
    root = class_tree(tmp_path / 'videos', {'a': 3, 'b': 3})
    out = tmp_path / 'lists'
    os.makedirs(out)
    (out / 'train.txt').write_text('mine\n')
    with pytest.raises(FileExistsError, match='--overwrite'):
        make_lists(str(out), root, log=quiet)
    assert os.listdir(out) == ['train.txt'] and (out / 'train.txt').read_text() == 'mine\n'
    with pytest.raises(ListError, match='three numbers > 0'):
        ListOptions(ratios=(0.8, 0.2, 0))


def test_extract_faces_first_and_resume(tmp_path, pyfeat_video, pyfeat_media):
    root = tmp_path / 'raw'
    for name, clips in {'smile': 3, 'frown': 3}.items():
        os.makedirs(root / name)
        for k in range(clips):
            cut_video(pyfeat_video, str(root / name / f'{name}{k}.mp4'), 2 + k % 2)
    cut_video(pyfeat_media('no_face.mp4'), str(root / 'frown' / 'empty_room.mp4'), 2)
    faces, out = tmp_path / 'faces', str(tmp_path / 'lists')
    lines = []
    rc, stdout, stderr = run(TOOL, str(root), '--out', out, '--extract-faces', str(faces))
    assert rc == 0, stderr[-3000:]
    assert re.search(r'done 6, skipped as finished 0, no face 1, failed 0', stdout), stdout
    assert f'no face found, left out of the lists: {root / "frown" / "empty_room.mp4"}' in stdout
    classes, lists = read_lists(out)
    listed = sorted(p for s in SPLITS for p, _ in lists[s])
    assert listed == sorted(str(faces / c / f'{c}{k}') for c in classes for k in range(3))
    assert all(sorted(os.listdir(p))[0] == '1.jpg' for p in listed)
    # a rerun extracts nothing again
    make_lists(out, str(root), options=ListOptions(overwrite=True), face_dir=str(faces),
               extract_options=_extract_options(), log=lines.append)
    assert any(ln.startswith('done 0, skipped as finished 6, no face 1') for ln in lines), lines
    assert read_lists(out) == (classes, lists)


def _extract_options():
    from est_mm.datasets.face_extraction import ExtractOptions
    return ExtractOptions(progress=False)


def test_help_is_quick_and_bad_options_are_refused_while_parsing():
    rc, stdout, stderr = run('-X', 'importtime', TOOL, '--help')
    imported = {line.split('|')[-1].strip().split('.')[0] for line in stderr.splitlines()
                if line.startswith('import time:')}
    assert rc == 0 and 'sorted by name' in ' '.join(stdout.split()).lower()
    assert 'argparse' in imported and not imported & {'torch', 'est_mm', 'mmengine'}
    for args, message in [(['v', '--split', '0.8', '0.2', '0'], 'argument --split: must be > 0'),
                          (['v', '--subject-regex', '(P'], 'argument --subject-regex: not a '),
                          (['v', '--csv', 'a.csv'], 'give either ROOT or --csv FILE'),
                          ([], 'give either ROOT or --csv FILE')]:
        rc, _, stderr = run(TOOL, *args, '--out', 'lists')
        assert rc == 2 and message in stderr.strip().splitlines()[-1], stderr
