"""README.md, CHANGELOG.md and docs/ cannot rot: every tools/ command in a shell fence parses with
that tool's own argparse parser and names configs, tools and Makefile targets that exist; every
relative link and #anchor resolves, and links from README.md reach every guide (what counts and
how: tests/helpers/docs_check.py). The first tests check the checker on small markdown strings;
the last ones check the real files, one case per file, each problem as ``file:line: what``."""
import os.path as osp

import pytest

from helpers.docs_check import (ROOT, Repo, check_docs, check_markdown, commands, doc_files,
                                known_options, option_mentions, shell_lines, shell_words,
                                simple_commands, slug, unknown_mentions, unreachable)

TOY = 'configs/est_r18_toy.py'


def problems(text):
    return [f'{p.line}: {p.message}' for p in check_markdown(text)]


def bash(*lines):
    return '# Title\n\n```bash\n' + '\n'.join(lines) + '\n```\n'


# ---------------------------------------------------------------- commands


GOOD = [  # correct commands, with shell syntax around them
    '# a comment; the line below has env assignments, a continuation, --opt=value, a pipe',
    f'OMP_NUM_THREADS=2 FOO="a b" .venv/bin/python tools/train.py {TOY} \\',
    '    --work-dir=work_dirs/x --resume --cfg-options train_dataloader.batch_size=2  # why',
    f'cat $FEAT/clip.mp4 | python tools/demo.py - {TOY} CKPT --detect-every 10 --jsonl - 2>&1',
    f'make demo && $(PY) tools/test.py {TOY} "$(cat work_dirs/x/last_checkpoint)" > out.txt',
    f'for b in 1 2; do python tools/test.py {TOY} CKPT \\',
    '    --cfg-options train_dataloader.batch_size=$b; done',
    f'bash tools/dist_train.sh {TOY} 2 [train.py options] --amp',
    f'GPUS=16 bash tools/slurm_test.sh PARTITION JOB {TOY} CKPT --work-dir w',
    f'mim train mmaction {TOY} --gpus 2',
    'python tools/data/extract_faces.py path/to/videos --out data/f --workers N']
WRONG = [  # (command, what the one problem reported for it says)
    (f'python tools/train.py {TOY} --no-such-option', 'tools/train.py: unknown option '
     '--no-such-option'),
    (f'python tools/train.py {TOY} --work-dri w', 'did you mean --work-dir?'),
    (f'python tools/demo.py v.mp4 {TOY} CKPT --detect-ev 5',
     '--detect-ev abbreviates --detect-every'),
    (f'python tools/demo.py v.mp4 {TOY} CKPT --detect-every 0', 'argument --detect-every: must '
     'be >= 1, got 0'),
    (f'python tools/demo.py v.mp4 {TOY} CKPT --backend tensorrt', "invalid choice: 'tensorrt'"),
    (f'python tools/test.py {TOY}', 'the following arguments are required: checkpoint'),
    (f'python tools/test.py {TOY} CKPT extra', 'unrecognized arguments: extra'),
    ('python tools/train.py configs/est_r18_nothere.py', 'configs/est_r18_nothere.py does not '
     'exist'),
    (f'python tools/no_such_tool.py {TOY}', 'tools/no_such_tool.py does not exist'),
    (f'python tools/demo_batch.py videos --config configs/nope.py --checkpoint C',
     'configs/nope.py does not exist'),
    ('python tools/train.py est_r18_toy.py', 'the config est_r18_toy.py does not exist'),
    ('make no-such-target', 'make no-such-target: no such target in the Makefile'),
    ('mim train mmaction configs/missing.py', 'configs/missing.py does not exist'),
    ('mim test mmaction own_config.py', 'own_config.py does not exist'),
    (f'bash tools/dist_train.sh {TOY} 2 --no-such-option', 'tools/dist_train.sh -> '
     'tools/train.py: unknown option --no-such-option'),
    (f'bash tools/dist_test.sh {TOY} CKPT 2 --resume', 'tools/dist_test.sh -> tools/test.py: '
     'unknown option --resume'),
    (f'bash tools/dist_train.sh {TOY} zero', "the GPU count 'zero' is not a whole number"),
    (f'bash tools/dist_test.sh {TOY} 2', 'tools/dist_test.sh takes at least 3 arguments, 2 '
     'given'),
    (f'tools/slurm_train.sh P J {TOY} --work-dir', 'argument --work-dir: expected one argument'),
    (f'python tools/train.py {TOY} --cfg-options model.backbone.pretraind=x.pth',
     "--cfg-options model.backbone.pretraind=x.pth: ResNet (model.backbone) takes no argument "
     "'pretraind'; did you mean model.backbone.pretrained?"),
    (f'python tools/test.py {TOY} CKPT --cfg-options test_dataloader.dataset.pipeline.99.x=1',
     'pipeline.99'),
    (f'NNODES=2 python -m torch.distributed.run --nproc_per_node 2 tools/train.py {TOY} --bad',
     'unknown option --bad'),
]


@pytest.fixture(scope='module')
def synthetic():
    """``{line: [message]}`` of one document holding GOOD in a fence, then each WRONG command in
    a fence of its own (line 6 + len(GOOD) + 3 * i): checked at once, so the tools' parsers and
    the configs are loaded once for all."""
    text = bash(*GOOD) + ''.join(f'```bash\n{line}\n```\n' for line, _ in WRONG)
    found = {}
    for problem in check_markdown(text):
        found.setdefault(problem.line, []).append(problem.message)
    return found


def test_correct_commands_with_shell_syntax_around_them_pass(synthetic):
    assert [(line, m) for line, m in synthetic.items() if line < 4 + len(GOOD)] == []


@pytest.mark.parametrize('i', range(len(WRONG)), ids=[line for line, _ in WRONG])
def test_a_wrong_command_is_reported_with_its_line(i, synthetic):
    found = synthetic.get(6 + len(GOOD) + 3 * i, [])
    assert len(found) == 1 and WRONG[i][1] in found[0], found


def test_the_line_of_a_continued_command_is_where_it_starts():
    found = problems(bash('echo first', f'python tools/train.py {TOY} \\', '    --bad'))
    assert [f.split(':')[0] for f in found] == ['5']


def test_console_fences_check_prompt_lines_and_python_fences_only_paths():
    text = ('```console\n$ python tools/train.py configs/est_r18_toy.py --bad\n'
            'python tools/train.py this is output, --not checked\n```\n'
            '```python\nos.system("python tools/train.py --bad")\n'
            "ESTInferencer('configs/est_r18_toy.py', 'configs/gone.py')\n```\n")
    found = problems(text)
    assert found[0].startswith('2: ') and '--bad' in found[0]
    assert found[1:] == ['7: configs/gone.py does not exist'], found


def test_a_tool_command_in_an_unlabeled_fence_is_reported():
    found = problems(f'```\ntools/train.py       a layout line\npython runs tools/x.py\n'
                     f'python tools/train.py {TOY}\n```\n')
    assert found == ['4: a tools/ command in a fence that is not labeled as shell: label it '
                     '```bash so it is checked']


def test_code_spans_in_the_text_are_checked_as_fragments():
    text = ('# T\n\nSee `tools/test.py --dump/--metrics-out`, `tools/demo.py … --detect-evry 5`, '
            '`make demo`, `est_mm/apis/demo.py::run_demo`, `configs/` and `--cfg-options`.\n'
            'But `tools/gone.py`, `make nothing`, `est_mm/gone.py:12` and `mim train mmaction '
            'configs/gone.py` are not there.\n')
    assert problems(text) == [
        '3: `--detect-evry` is an option of no tool (nor of a program a shell fence of the docs '
        'runs)',
        '3: tools/demo.py: no option --detect-evry (`tools/demo.py … --detect-evry 5`)',
        '4: configs/gone.py does not exist', '4: est_mm/gone.py does not exist',
        '4: make nothing: no such target in the Makefile', '4: tools/gone.py does not exist']


def test_an_option_in_a_code_span_must_be_one_of_some_tool():
    text = ('| option | sets |\n|---|---|\n| `--detect-every K`, `--detect-evry` | x |\n'
            'Install with `--no-deps`, see `--help`, `pip --no-cache`, `--cfg-options a=1`.\n'
            '```bash\npip install --no-deps -r requirements.txt  # `--not-a-span`\n```\n')
    known = known_options(commands('docs/x.md', text)[0])
    found = unknown_mentions('docs/x.md', option_mentions('docs/x.md', text), known)
    assert [f'{p.line}: {p.message.split()[0]}' for p in found] == [
        '3: `--detect-evry`', '4: `--no-cache`']


def test_a_guide_no_link_reaches_is_found(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'README.md').write_text('[guides](docs/README.md#x) [web](https://x.org/a.md)\n')
    (tmp_path / 'docs' / 'README.md').write_text('[a](a.md) [self](#top)\n')
    (tmp_path / 'docs' / 'a.md').write_text('[back](../README.md)\n')
    (tmp_path / 'docs' / 'orphan.md').write_text('[a](a.md)\n')
    files = [p for p, _ in doc_files(str(tmp_path))]
    assert unreachable(files, str(tmp_path)) == ['docs/orphan.md']


def test_changelog_commands_are_not_checked_but_its_links_are(tmp_path):
    (tmp_path / 'CHANGELOG.md').write_text(bash('python tools/gone.py') + '[x](gone.md)\n')
    (tmp_path / 'README.md').write_text('# R\n')
    (tmp_path / 'Makefile').write_text('')
    found = check_docs(doc_files(str(tmp_path)), root=str(tmp_path))
    assert [str(p) for p in found['CHANGELOG.md']] == [
        "CHANGELOG.md:6: link 'gone.md': gone.md does not exist"]


def test_shell_words_split_like_the_shell():
    words = shell_words('A=1 python x.py "a b" \'c $d\' e\\ f $(cmd "(x)")/y 2>/dev/null '
                        '--k="[1,2]" # gone')
    assert words == ['A=1', 'python', 'x.py', 'a b', 'c $d', 'e f', '$(cmd "(x)")/y', '--k=[1,2]']
    assert simple_commands(shell_words('a 1 | b 2 && c; d || e & f')) == [
        ['a', '1'], ['b', '2'], ['c'], ['d'], ['e'], ['f']]
    lines = [(1, 'a \\'), (2, '  b'), (3, 'cat <<EOF'), (4, 'x --y'), (5, 'EOF'), (6, 'c')]
    assert shell_lines('bash', lines) == [(1, 'a    b'), (3, 'cat <<EOF'), (6, 'c')]


def test_launcher_scripts_are_read_from_their_own_lines():
    call = Repo().script('tools/dist_test.sh')
    assert call.min_args == 3 and call.tool == 'test.py'
    assert call.expand(['C', 'K', '4', '--x']) == ('4', ['C', 'K', '--launcher', 'pytorch', '--x'])
    assert Repo().script('tools/launch.sh') is None
    assert {'demo', 'test', 'install', 'check-env'} <= Repo().make_targets()


# ---------------------------------------------------------------- links and anchors


@pytest.mark.parametrize('heading,anchor', [
    ('Train and test', 'train-and-test'),
    ("Use the authors' trained model", 'use-the-authors-trained-model'),
    ('Cameras, streams and stdin: a label per face every 10 frames, as JSON Lines',
     'cameras-streams-and-stdin-a-label-per-face-every-10-frames-as-json-lines'),
    ('Streaming (`est_mm.streaming`)', 'streaming-est_mmstreaming'),
    ('**Bold** and [a link](x.md) -- twice', 'bold-and-a-link----twice'),
    ('Größe & Ü', 'größe--ü'),
])
def test_heading_slugs_are_githubs(heading, anchor):
    assert slug(heading) == anchor


def test_links_and_anchors():
    text = ('# Demo\n## Demo ##\n<a id="custom"></a>\n\nSetext\n---\n'
            '[a](#demo) [b](#demo-1) [c](#custom) [d](#setext) [e](https://x.org/#nothing)\n'
            '[f](#demo-2) ![g](../docs/missing.png) [h](../README.md#no-such-heading)\n'
            '`[not a link](#in-code)`\n```\n[nor](#this)\n```\n[ref]: ./nothing.md\n'
            '[i](../Makefile) [j](/README.md) <img src="nope.png">\n'
            '[![badge](gone.svg)](../README.md "title") [k](<../docs/x y.md>) [l](%20x.md)\n'
            '### C# and F#\n[m](#c-and-f) [n](#c-and-f-1)\n')
    assert problems(text) == [
        "8: link '#demo-2': no heading or anchor #demo-2 in docs/synthetic.md",
        "8: link '../README.md#no-such-heading': no heading or anchor #no-such-heading in "
        "README.md",
        "8: link '../docs/missing.png': ../docs/missing.png does not exist",
        "13: link './nothing.md': ./nothing.md does not exist",
        "14: link 'nope.png': nope.png does not exist",
        "15: link '%20x.md':  x.md does not exist",
        "15: link '../docs/x y.md': ../docs/x y.md does not exist",
        "15: link 'gone.svg': gone.svg does not exist",
        "17: link '#c-and-f-1': no heading or anchor #c-and-f-1 in docs/synthetic.md"]


# ---------------------------------------------------------------- the repository's documents

FILES = doc_files()


@pytest.fixture(scope='module')
def doc_problems():
    return check_docs(FILES)


def test_the_documents_are_found_and_their_commands_seen():
    paths = [p for p, _ in FILES]
    assert 'README.md' in paths and any(p.startswith('docs/') for p in paths)
    seen = set()
    for path, with_commands in FILES:
        if with_commands:
            with open(osp.join(ROOT, path), encoding='utf-8') as f:
                seen.update(' '.join(c.argv[:2]) for c in commands(path, f.read())[0])
    assert {'make demo', 'python tools/train.py', 'python tools/test.py'} <= seen, seen


@pytest.mark.parametrize('path', [p for p, _ in FILES])
def test_document(path, doc_problems):
    found = doc_problems[path]
    assert not found, f'{len(found)} problem(s):\n' + '\n'.join(map(str, found))


def test_every_document_is_reached_by_links_from_the_readme():
    assert unreachable([p for p, _ in FILES]) == []
