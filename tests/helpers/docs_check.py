"""Checks that keep README.md, CHANGELOG.md and docs/ true to the repository (tests/test_docs.py).

**Links.** Every relative link and image (``[t](path)``, ``[t](path#anchor)``, ``[t](#anchor)``,
``[t]: path`` definitions, HTML ``href=``/``src=``) names a file or folder that exists, and every
``#anchor`` into a markdown file names one of its headings (GitHub's slugs) or an explicit
``<a id=...>``/``<a name=...>``. External links (``scheme:`` or ``//``) are not checked. Every
checked file is reached from README.md by a chain of such links.

**Commands.** Fences whose info string is ``bash``, ``sh``, ``shell`` or ``zsh`` are shell
scripts, every line; in ``console`` / ``shell-session`` fences only the ``$ `` lines (and their
``\\`` continuations) are. Other fences (``python``, ``json``, unlabeled: layouts, output) are
not commands; a line in an unlabeled or ``text`` fence that starts a ``tools/`` command is
reported, so that a command cannot escape the check by its fence. In the shell lines:

- ``python|python3|.venv/bin/python|$(PY)|$PY ... tools/<x>.py ARGS`` (also after ``torchrun``
  or ``srun``): the tool exists and ARGS parse with its own argparse parser, taken from the tool
  by ``tests/helpers/tool_argv.py``, abbreviations refused (docs write options in full);
- ``[bash] tools/{dist,slurm}_*.sh ARGS``: the script exists, has at least its usage's number
  of arguments, and what it hands to tools/train.py or tools/test.py parses there (the mapping
  is read from the script's own ``dist_run``/``slurm_run`` line);
- ``make TARGET``: the Makefile has the target; ``mim train|test mmaction CONFIG``: the config
  exists;
- in any command, a word (or the value after ``=``) that is a repository path (``configs/``,
  ``tools/``, ``est_mm/``, ``tests/``, ``docs/``, ``requirements*.txt``) exists;
- ``--cfg-options`` of a command naming an existing config merge into it as the tools merge them
  (``est_mm.utils.config``: no unknown keys, values of the right kind, list indexes in range).

Code spans in the text are fragments (``tools/test.py --dump/--metrics-out``): a span that starts
with a tool names one that exists and only options it has; ``make X`` and ``mim train mmaction X``
spans are checked as in fences; a span that is a repository path (``est_mm/apis/demo.py::run``)
names one that exists; every ``--long-option`` in a span (an options table, prose) is an option of
some tool, or of a program a shell fence runs (``pip install --no-deps``). CHANGELOG.md is
history: only its links are checked.

Paths of data, checkpoints and outputs (``/data/DFEW``, ``work_dirs/...``, ``CKPT``,
``$FEAT/clip.mp4``, ``path/to/...``) are the user's own and not checked for existence; a
placeholder (``N``, ``$K``, ``<n>``) given to an option that wants a number is accepted, any other
bad value is not. Shell handling: quotes, ``\\`` continuations, ``#`` comments, ``$(...)``, env
assignments (``OMP_NUM_THREADS=2 python ...``), ``|``, ``&&``, ``||``, ``;``, ``for ...; do``,
redirections and here-documents; ``[train.py options]`` and ``...`` stand for more arguments.
"""
import glob
import os.path as osp
import re
import shlex
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHELL_FENCES = {'bash', 'sh', 'shell', 'zsh'}
CONSOLE_FENCES = {'console', 'shell-session'}
REPO_PATH = re.compile(r'(?:\./)?(?:(?:configs|tools|est_mm|tests|docs)/\S*|'
                       r'requirements[\w-]*\.txt)$')
TOOL_SCRIPT = re.compile(r'(?:\./)?tools/[\w/.-]+\.py$')
SH_SCRIPT = re.compile(r'(?:\./)?(tools/[\w-]+\.sh)$')
PYTHON = re.compile(r'(?:\S*/)?python[\d.]*$|\$\(PY(THON)?\)$|\$\{?PY(THON)?\}?$')
LAUNCHERS = {'torchrun', 'srun'}
PREFIX_WORDS = {'do', 'then', 'else', 'elif', 'if', 'while', 'until', 'time', '!', '{', 'env',
                'sudo', 'nohup', 'exec', 'command'}
PLACEHOLDER = re.compile(r'.*\$.*|<[^>]*>|[A-Z][A-Z0-9_]*|\.\.\.|…|.*\bpath/to/.*|(?:.*/)?my_\S*')


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self):
        return f'{self.path}:{self.line}: {self.message}'


@dataclass
class Command:
    """One simple shell command of a document: its words (no expansion) and where it starts;
    ``inline``: written in a code span of the text, where it may be a fragment."""
    path: str
    line: int
    argv: list
    inline: bool = False


class Op(str):
    """A shell control operator (``|``, ``&&``, ``;`` ...), as opposed to a word."""


def is_placeholder(word):
    """A word that stands for the user's own value (``CKPT``, ``$FEAT/x.mp4``, ``<n>``...)."""
    return bool(PLACEHOLDER.fullmatch(word))


# ---------------------------------------------------------------- markdown structure


def fences(text):
    """``(info, open line, lines)`` for every fenced block; ``lines`` are ``(line number, text)``
    with the fence's indentation removed. An unclosed block runs to the end, as GitHub shows it."""
    blocks, current = [], None
    for num, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if current is None:
            m = re.match(r'(`{3,}|~{3,})\s*([^`\s]*)', stripped)
            if m:
                current = (m.group(1), m.group(2).lower(), indent, num, [])
        elif re.fullmatch(re.escape(current[0][0]) + '{%d,}\\s*' % len(current[0]), stripped):
            blocks.append((current[1], current[3], current[4]))
            current = None
        else:
            current[4].append((num, line[min(indent, current[2]):]))
    if current is not None:
        blocks.append((current[1], current[3], current[4]))
    return blocks


def prose(text):
    """``(line number, text)`` of the lines outside fenced blocks, inline code spans blanked."""
    code = set()
    for _, start, lines in fences(text):
        code.add(start)
        code.update(num for num, _ in lines)
        code.add(lines[-1][0] + 1 if lines else start + 1)         # the closing fence
    return [(num, re.sub(r'(`+)(.+?)\1', lambda m: ' ' * len(m.group(0)), line))
            for num, line in enumerate(text.splitlines(), 1) if num not in code]


def slug(heading):
    """GitHub's anchor for a heading's text: markup dropped, lowercased, characters other than
    letters, digits, ``_``, ``-`` and spaces removed, spaces to ``-``."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)        # links, images: their text
    text = re.sub(r'<[^>]+>', '', text)                                # HTML tags
    text = text.replace('`', '')
    text = re.sub(r'(\*\*|__|\*|~~)', '', text)                       # emphasis markers
    text = unicodedata.normalize('NFC', text.strip().lower())
    return ''.join(c for c in text if c.isalnum() or c in '_- ').replace(' ', '-')


def anchors(text):
    """Every anchor a markdown file offers: heading slugs (``-1``, ``-2`` ... for repeats) and
    explicit ``id=``/``name=`` attributes."""
    found, seen = set(), {}
    lines = prose(text)
    raw = text.splitlines()
    for i, (num, line) in enumerate(lines):
        m = re.fullmatch(r' {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*', raw[num - 1])
        heading = (m.group(1) or '') if m else None
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if heading is None and line.strip() and nxt and nxt[0] == num + 1 and \
                re.fullmatch(r' {0,3}(=+|-+)\s*', nxt[1]) and not re.match(r'\s*[-*+]\s', line):
            heading = raw[num - 1].strip()                             # setext heading
        if heading is not None:
            base = slug(heading)
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f'{base}-{count}')
    found.update(re.findall(r'<a\s[^>]*?(?:id|name)\s*=\s*["\']([^"\']+)["\']', text))
    found.update(re.findall(r'\sid\s*=\s*["\']([^"\']+)["\']', text))
    return found


# the ``](target "title")`` of every inline link and image, also of an image inside a link's text
LINK = re.compile(r'\]\(\s*(<[^>]*>|[^)\s]+(?:\([^)\s]*\)[^)\s]*)*)(?:\s+["\'(][^)]*)?\s*\)')
REF_DEF = re.compile(r' {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)')
HTML_LINK = re.compile(r'<(?:a|img|source|video)\s[^>]*?(?:href|src)\s*=\s*["\']([^"\']+)["\']')


def link_targets(text):
    """``(line number, target)`` of every link, image, link definition and HTML href/src outside
    code."""
    out = []
    for num, line in prose(text):
        for m in LINK.finditer(line):
            out.append((num, m.group(1).strip('<>')))
        m = REF_DEF.match(line)
        if m:
            out.append((num, m.group(1).strip('<>')))
        out.extend((num, t) for t in HTML_LINK.findall(line))
    return out


def check_links(path, text, root=ROOT, read=None):
    """Problems of the relative links of ``text`` (the file ``path``, relative to ``root``)."""
    read = read or (lambda p: open(p, encoding='utf-8').read())
    problems, cache = [], {}
    for num, target in link_targets(text):
        if re.match(r'[a-zA-Z][\w+.-]*:|//', target):
            continue                                               # external: http:, mailto:
        file_part, _, anchor = target.partition('#')
        file_part = unquote(file_part.split('?')[0])
        if not file_part:
            dest = osp.join(root, path)
        elif file_part.startswith('/'):
            dest = osp.join(root, file_part.lstrip('/'))
        else:
            dest = osp.normpath(osp.join(root, osp.dirname(path), file_part))
        if file_part and not osp.exists(dest):
            problems.append(Problem(path, num, f'link {target!r}: {file_part} does not exist'))
            continue
        if anchor and dest.endswith('.md') and (osp.isfile(dest) or not file_part):
            if dest not in cache:
                cache[dest] = anchors(text if dest == osp.join(root, path) else read(dest))
            if unquote(anchor) not in cache[dest]:
                where = osp.relpath(dest, root)
                problems.append(Problem(path, num, f'link {target!r}: no heading or anchor '
                                        f'#{anchor} in {where}'))
    return problems


# ---------------------------------------------------------------- shell lines and words


def shell_lines(info, lines):
    """``(line number, logical line)`` of a shell fence: ``\\`` continuations joined, console
    prompts ``$ `` removed (other console lines are output), here-document bodies skipped."""
    out, pending, start, heredoc = [], None, 0, None
    for num, line in lines:
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if pending is None:
            if info in CONSOLE_FENCES:
                if not line.startswith('$ '):
                    continue
                line = line[2:]
            pending, start = '', num
        if line.endswith('\\') and not line.endswith('\\\\'):
            pending += line[:-1] + ' '
            continue
        pending += line
        out.append((start, pending))
        m = re.search(r'<<-?\s*["\']?(\w+)', re.sub(r"'[^']*'|\"[^\"]*\"", '', pending))
        heredoc = m.group(1) if m else None
        pending = None
    if pending:
        out.append((start, pending))
    return out


def _closing(line, i):
    """Index just past the ``)`` that closes the ``$(`` at ``line[i]``."""
    depth, j = 0, i + 1
    while j < len(line):
        depth += {'(': 1, ')': -1}.get(line[j], 0)
        j += 1
        if depth == 0:
            break
    return j


def shell_words(line):
    """Words (quotes removed, ``$(...)`` and backquotes kept as written, no expansion) and
    :class:`Op` operators of one logical line; ``#`` comments and redirections with their
    target are dropped."""
    words, word, i, n, drop_next = [], None, 0, len(line), False

    def flush():
        nonlocal word, drop_next
        if word is not None and not drop_next:
            words.append(word)
        elif word is not None:
            drop_next = False
        word = None
    while i < n:
        c = line[i]
        redirect = re.match(r'\d*(?:>>|>&|<&|&>|<<<|<<-?|>|<)(?:\d+|-)?', line[i:])
        if c in ' \t':
            flush()
        elif c == '#' and word is None:
            break
        elif c == '\\':
            word = (word or '') + line[i + 1:i + 2]
            i += 1
        elif c == "'":
            j = line.find("'", i + 1)
            j = n if j < 0 else j
            word, i = (word or '') + line[i + 1:j], j
        elif c == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == '\\' else 1
            word = (word or '') + re.sub(r'\\(["\\$`])', r'\1', line[i + 1:j])
            i = j
        elif line.startswith('$(', i):
            j = _closing(line, i)
            word, i = (word or '') + line[i:j], j - 1
        elif c == '`':
            j = line.find('`', i + 1)
            j = n if j < 0 else j
            word, i = (word or '') + line[i:j + 1], j
        elif redirect and (word is None or word.isdigit()) and (c in '<>' or c.isdigit() or
                                                                 line.startswith('&>', i)):
            if word is not None and word.isdigit():
                word = None
            flush()
            drop_next = not re.search(r'&(\d+|-)$', redirect.group(0))
            i += len(redirect.group(0)) - 1
        elif c in ';&|()':
            flush()
            op = re.match(r'&&|\|\||;;|[;&|()]', line[i:]).group(0)
            words.append(Op(op))
            i += len(op) - 1
        else:
            word = (word or '') + c
        i += 1
    flush()
    return words


def simple_commands(words):
    """The simple commands of a line's words: split at operators, leading keywords (``do``,
    ``time`` ...) and ``NAME=value`` assignments dropped; ``for``/``case`` headers dropped."""
    commands, current = [], []
    for w in words + [Op(';')]:
        if isinstance(w, Op):
            if current:
                commands.append(current)
            current = []
        elif not current and (w in PREFIX_WORDS or re.match(r'[A-Za-z_]\w*=', w)):
            continue
        else:
            current.append(w)
    return [c for c in commands if c[0] not in ('for', 'case', 'select', 'function', 'done',
                                                   'fi', 'esac', '}')]


def inline_commands(path, text):
    """The code spans of the text that start a command (``tools/<x>.py ...``, ``python tools/...``,
    ``make X``, ``mim train mmaction X``) or name a repository path, as inline :class:`Command`."""
    found, outside = [], {n for n, _ in prose(text)}
    for num, line in enumerate(text.splitlines(), 1):
        if num not in outside:
            continue
        for m in re.finditer(r'(`+)(.+?)\1', line):
            span = re.sub(r'(\.py|/)(::\S+|:\d+(-\d+)?)\b', r'\1', m.group(2).strip())
            words = simple_commands(shell_words(span))[:1]
            if words and (TOOL_SCRIPT.fullmatch(words[0][0]) or PYTHON.fullmatch(words[0][0]) or
                          words[0][0] in ('make', 'mim') or
                          (len(words[0]) == 1 and REPO_PATH.fullmatch(words[0][0]))):
                found.append(Command(path, num, words[0], inline=True))
    return found


def commands(path, text, root=ROOT):
    """``(commands, problems)`` of a markdown file: every simple command of its shell fences and
    code spans; a problem for each ``tools/`` command in an unlabeled or ``text`` fence and for
    each quoted repository path in a ``python`` fence that does not exist."""
    found, problems = inline_commands(path, text), []
    for info, _, lines in fences(text):
        if info in SHELL_FENCES or info in CONSOLE_FENCES:
            for num, line in shell_lines(info, lines):
                found.extend(Command(path, num, argv) for argv in
                             simple_commands(shell_words(line)))
        elif info in ('python', 'py', 'python3'):
            problems += [Problem(path, num, f'{m.group(2)} does not exist')
                         for num, line in lines for m in re.finditer(r'([\'"])([^\'"\s]+)\1', line)
                         if REPO_PATH.fullmatch(m.group(2)) and not _placeholder_path(m.group(2))
                         and not osp.exists(osp.join(root, m.group(2)))]
        elif info in ('', 'text', 'txt', 'none', 'plain'):
            for num, line in lines:
                if re.match(r'\s*(?:\$ )?(?:[A-Z_]+=\S*\s+)*(?:\S*python[\d.]*\s+(?:-\S+\s+)*'
                            r'tools/\S+\.py|(?:bash|sh)\s+tools/\S+\.sh)\b', line):
                    problems.append(Problem(path, num, 'a tools/ command in a fence that is not '
                                            'labeled as shell: label it ```bash so it is checked'))
    return found, problems


# ---------------------------------------------------------------- commands against the repository


@dataclass
class ScriptCall:
    """How a ``tools/*.sh`` launcher hands its arguments to a Python tool, read from its
    ``dist_run``/``slurm_run`` line: ``$N`` is its N-th argument, ``${@:K}`` the K-th onwards."""
    min_args: int
    tool: str
    gpus: str          # '$N' of the GPU count, '' where the script takes none
    template: list

    def expand(self, args):
        def arg(ref):
            return args[int(ref[1:]) - 1] if int(ref[1:]) <= len(args) else ''
        argv = []
        for word in self.template:
            m = re.fullmatch(r'\$\{@:(\d+)\}', word)
            argv.extend(args[int(m.group(1)) - 1:] if m else
                        [arg(word)] if re.fullmatch(r'\$\d+', word) else [word])
        return (arg(self.gpus) if self.gpus else None), argv


class Repo:
    """What commands are checked against: files, Makefile targets and launcher scripts."""

    def __init__(self, root=ROOT):
        self.root = root
        self._targets = None
        self._scripts = {}

    def exists(self, rel):
        return osp.exists(osp.join(self.root, rel))

    def make_targets(self):
        if self._targets is None:
            with open(osp.join(self.root, 'Makefile'), encoding='utf-8') as f:
                self._targets = {t for line in f for m in
                                 [re.match(r'([^\s:=#$%][^:=#$%]*?)\s*::?(?!=)', line)] if m
                                 for t in m.group(1).split()}
        return self._targets

    def script(self, rel):
        """The :class:`ScriptCall` of ``tools/<x>.sh``, or None (not a launcher)."""
        if rel not in self._scripts:
            with open(osp.join(self.root, rel), encoding='utf-8') as f:
                text = f.read()
            least = re.search(r'^\s*usage_or_exit\s+(\d+)', text, re.M)
            run = re.search(r'^\s*(dist_run|slurm_run)\s+(.*)$', text, re.M)
            call = None
            if least and run:
                words = shlex.split(run.group(2))
                if run.group(1) == 'dist_run':
                    call = ScriptCall(int(least.group(1)), words[1], words[0], words[2:])
                else:
                    call = ScriptCall(int(least.group(1)), words[2], '', words[3:])
            self._scripts[rel] = call
        return self._scripts[rel]


def _placeholder_path(path):
    """A path the user fills in (``configs/MY.py``, ``path/to/x``) or a glob."""
    return is_placeholder(path) or bool(re.search(r'[*?[]', path)) or any(
        is_placeholder(p) or is_placeholder(osp.splitext(p)[0]) for p in path.split('/') if p)


def _without_placeholders(argv):
    """``argv`` without words that stand for more arguments: ``...`` and ``[train.py options]``."""
    out, bracket = [], False
    for word in argv:
        if bracket or (word.startswith('[') and '=' not in word and ',' not in word):
            bracket = not word.endswith(']')
        elif word not in ('...', '…'):
            out.append(word)
    return out


def _missing_paths(cmd, argv, repo):
    problems = []
    for word in argv:
        for path in [word] + ([word.split('=', 1)[1]] if '=' in word else []):
            # export_onnx.py --calibrate CONFIG.py:SPLIT names the config
            path = re.sub(r'(\.py):(?:train|val|test)$', r'\1', path)
            if REPO_PATH.fullmatch(path) and not _placeholder_path(path) and \
                    not repo.exists(path):
                problems.append(Problem(cmd.path, cmd.line, f'{path} does not exist'))
    return problems


def _python_tool(argv):
    """``(tool, args)`` of a Python command that runs ``tools/<x>.py``, else None."""
    i, search = 1, argv[0] in LAUNCHERS
    if TOOL_SCRIPT.fullmatch(argv[0]):
        i = 0
    elif PYTHON.fullmatch(argv[0]):
        while i < len(argv) and argv[i].startswith('-'):
            if argv[i] == '-c':
                return None
            if argv[i] == '-m':
                if i + 1 >= len(argv) or not argv[i + 1].startswith('torch.distributed'):
                    return None
                search = True
                break
            i += 2 if argv[i] in ('-X', '-W') else 1
    elif not search:
        return None
    if search:
        i = next((j for j in range(i, len(argv)) if TOOL_SCRIPT.fullmatch(argv[j])), len(argv))
    if i >= len(argv) or not TOOL_SCRIPT.fullmatch(argv[i]):
        return None
    return argv[i][2:] if argv[i].startswith('./') else argv[i], argv[i + 1:]


def _check_one(cmd, repo):
    """``(problems, parse requests)`` of one command; a request is ``(tool, args, via)``."""
    argv = _without_placeholders(cmd.argv)
    problems, requests = _missing_paths(cmd, argv, repo), []
    if not argv:
        return problems, requests
    tool = _python_tool(argv)
    sh = SH_SCRIPT.fullmatch(argv[1]) if argv[0] in ('bash', 'sh') and len(argv) > 1 else \
        SH_SCRIPT.fullmatch(argv[0])
    if tool and repo.exists(tool[0]):
        requests.append((tool[0], None if cmd.inline else tool[1], tool[0]))
    elif sh and cmd.inline:
        pass                                   # a launcher's arguments are positional: fragments
    elif sh and repo.exists(sh.group(1)) and repo.script(sh.group(1)):
        name, call = sh.group(1), repo.script(sh.group(1))
        args = argv[argv.index(sh.group(0)) + 1:]
        if len(args) < call.min_args:
            problems.append(Problem(cmd.path, cmd.line, f'{name} takes at least {call.min_args} '
                                    f'arguments, {len(args)} given'))
            return problems, requests
        gpus, targv = call.expand(args)
        if gpus is not None and not re.fullmatch(r'[1-9]\d*', gpus) and not is_placeholder(gpus):
            problems.append(Problem(cmd.path, cmd.line, f'{name}: the GPU count {gpus!r} is not '
                                    'a whole number >= 1'))
        requests.append(('tools/' + call.tool, targv, f'{name} -> tools/{call.tool}'))
    elif argv[0] == 'make':
        skip = False
        for word in argv[1:]:
            if skip or word.startswith('-') or '=' in word:
                skip = word in ('-C', '-f', '-j', '-l', '-o', '-W', '-I')
                continue
            if word not in repo.make_targets():
                problems.append(Problem(cmd.path, cmd.line, f'make {word}: no such target in '
                                        'the Makefile'))
    elif argv[0] == 'mim' and argv[1:3] in (['train', 'mmaction'], ['test', 'mmaction']):
        if len(argv) < 4:
            problems.append(Problem(cmd.path, cmd.line, f'mim {argv[1]} mmaction: no config'))
        elif not REPO_PATH.fullmatch(argv[3]) and not _placeholder_path(argv[3]) and \
                not repo.exists(argv[3]):
            problems.append(Problem(cmd.path, cmd.line, f'{argv[3]} does not exist'))
    return problems, requests


def _placeholder_value(message):
    """A bad-value error whose value is a placeholder (``--workers N``) is the docs' notation."""
    m = re.match(r"argument [^:]+: .*'([^']*)'", message or '')
    return bool(m) and is_placeholder(m.group(1))


def parse_with_tools(requests, root=ROOT):
    """argparse's answer (None: parses) for each ``(tool, args)``, from tests/helpers/tool_argv.py
    run once for all of them."""
    import json
    proc = subprocess.run([sys.executable, osp.join(osp.dirname(__file__), 'tool_argv.py')],
                          input=json.dumps(requests), cwd=root, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode:
        raise RuntimeError(f'tool_argv.py failed:\n{proc.stderr}')
    return json.loads(proc.stdout)


def _inline_options(cmd, answer):
    """Problems of the ``--options`` of a command fragment in a code span (``tools/x.py --a/--b``),
    ``answer`` being the tool's option strings (or why it has none)."""
    if isinstance(answer, str):
        return [answer]
    words = [w.split('=', 1)[0] for word in cmd.argv for w in word.split('/')]
    return [f'no option {w} (`{" ".join(cmd.argv)}`)' for w in words
            if re.fullmatch(r'--?[A-Za-z][\w-]*', w) and w not in answer]


def check_commands(cmds, repo=None, parse=parse_with_tools):
    """Problems of ``cmds`` (:class:`Command`), the tools' parsers asked once for all."""
    repo = repo or Repo()
    problems, requests = [], []
    for cmd in cmds:
        found, asked = _check_one(cmd, repo)
        problems += found
        requests += [(cmd, tool, args, via) for tool, args, via in asked]
    answers = parse([[tool, args] for _, tool, args, _ in requests]) if requests else []
    for (cmd, _, args, via), answer in zip(requests, answers):
        if args is None:
            problems += [Problem(cmd.path, cmd.line, f'{via}: {message}')
                         for message in _inline_options(cmd, answer)]
        elif answer and not _placeholder_value(answer):
            problems.append(Problem(cmd.path, cmd.line, f'{via}: {answer}'))
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def doc_files(root=ROOT):
    """``(path, check commands?)`` of the checked markdown files, relative to ``root``:
    README.md and docs/**/*.md (links and commands), CHANGELOG.md (links only: its commands are
    history)."""
    files = [('README.md', True), ('CHANGELOG.md', False)]
    files += [(osp.relpath(p, root), True) for p in
              sorted(glob.glob(osp.join(root, 'docs', '**', '*.md'), recursive=True))]
    return [(p, cmd) for p, cmd in files if osp.isfile(osp.join(root, p))]


def option_mentions(path, text):
    """``(line, option)`` of every ``--long-option`` in the code spans of the text (tables, prose:
    ``--detect-every K``, ``--dump/--metrics-out``)."""
    outside = {n for n, _ in prose(text)}
    return [(num, option) for num, line in enumerate(text.splitlines(), 1) if num in outside
            for span in re.finditer(r'(`+)(.+?)\1', line)
            for option in re.findall(r'(?<![\w-])--[A-Za-z][\w-]*', span.group(2))]


def unknown_mentions(path, mentions, known):
    """Problems of the ``mentions`` (:func:`option_mentions`) that are not in ``known``."""
    return [Problem(path, num, f'`{option}` is an option of no tool (nor of a program a shell '
                    'fence of the docs runs)') for num, option in mentions if option not in known]


def known_options(cmds, root=ROOT, parse=parse_with_tools):
    """Every option of every ``tools/**/*.py`` with a parser, those the docs' fences give to
    other programs (``pip install --no-deps``) and ``--help``/``--version``."""
    tools = sorted(osp.relpath(p, root) for p in glob.glob(osp.join(root, 'tools', '**', '*.py'),
                                                            recursive=True))
    known = {'--help', '--version'}
    for answer in parse([[tool, None] for tool in tools]) if tools else []:
        known.update(answer if isinstance(answer, list) else [])
    for cmd in cmds:
        argv = _without_placeholders(cmd.argv)
        if not cmd.inline and argv and not _python_tool(argv) and not any(
                SH_SCRIPT.fullmatch(w) for w in argv[:2]):
            known.update(w.split('=', 1)[0] for w in argv if w.startswith('--'))
    return known


def check_texts(texts, root=ROOT, parse=parse_with_tools):
    """``{path: [Problem]}`` for ``texts``, ``{path: (markdown, check commands?)}``, as if they
    were those files under ``root``; the tools are asked once for all."""
    out, cmds, mentions = {}, [], {}
    for path, (text, with_commands) in texts.items():
        out[path] = check_links(path, text, root)
        if with_commands:
            found, problems = commands(path, text, root)
            cmds += found
            out[path] += problems
            mentions[path] = option_mentions(path, text)
    for problem in check_commands(cmds, Repo(root), parse):
        out[problem.path].append(problem)
    known = known_options(cmds, root, parse) if any(mentions.values()) else set()
    for path, found in mentions.items():
        out[path] += unknown_mentions(path, found, known)
    return {p: sorted(set(v), key=lambda q: (q.line, q.message)) for p, v in out.items()}


def check_docs(files, root=ROOT, parse=parse_with_tools):
    """``{path: [Problem]}`` for ``files`` (as :func:`doc_files` gives them)."""
    texts = {}
    for path, with_commands in files:
        with open(osp.join(root, path), encoding='utf-8') as f:
            texts[path] = (f.read(), with_commands)
    return check_texts(texts, root, parse)


def unreachable(files, root=ROOT, start='README.md'):
    """The markdown files among ``files`` that no chain of relative links from ``start`` reaches
    (a guide nobody can find)."""
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path in seen or not osp.isfile(osp.join(root, path)):
            continue
        seen.add(path)
        with open(osp.join(root, path), encoding='utf-8') as f:
            targets = [t for _, t in link_targets(f.read())]
        todo += [osp.normpath(osp.join(osp.dirname(path), unquote(t.split('#')[0])))
                 for t in targets if not re.match(r'[a-zA-Z][\w+.-]*:|//|#', t)
                 and t.split('#')[0].endswith('.md')]
    return [path for path in files if path not in seen]


def check_markdown(text, path='docs/synthetic.md', root=ROOT):
    """Every problem of one markdown string, as if it were the file ``path`` (for tests)."""
    return check_texts({path: (text, True)}, root)[path]
