"""Parses documented command lines with the tools' own argparse parsers, in a process of its own.

stdin: JSON ``[[tool path, [arg, ...] or null], ...]`` (paths relative to the repository root);
stdout: JSON, for each entry ``null`` (parses) or the one-line error, or for ``null`` arguments
the tool's option strings. A tool's parser is the one its first parse call (``parse_args``,
``parse_intermixed_args`` ...) is made on, taken from the tool run as ``__main__`` without doing
anything else (nothing is imported beyond what the tool imports before parsing), and the command
is parsed by that same method.
Abbreviated options are refused: docs write them in full. Where the command names a config file
that exists, its ``--cfg-options`` are merged into it as the tools merge them
(``est_mm.utils.config``: a key that is not there, a value of the wrong kind, an index past a
list's end); a placeholder value (``=$K``) is checked as the config's own value."""
import argparse
import contextlib
import difflib
import io
import json
import os
import runpy
import sys

from docs_check import REPO_PATH, is_placeholder


class _Captured(BaseException):
    """Raised by the first parse call; BaseException so that no ``except Exception`` of a tool
    swallows it."""

    def __init__(self, parser, method):
        super().__init__()
        self.parser, self.method = parser, method


class _ParseError(BaseException):
    pass


METHODS = ('parse_args', 'parse_known_args', 'parse_intermixed_args',
           'parse_known_intermixed_args')
KNOWN = {'parse_args': 'parse_known_args', 'parse_intermixed_args': 'parse_known_intermixed_args'}


def capture_parser(path):
    """``(parser, name of the parse method)`` that ``path`` parses its command line with, or a
    string saying why there is none."""
    saved = {name: getattr(argparse.ArgumentParser, name) for name in METHODS}
    argv, sys.argv = sys.argv, [path]

    def grabber(name):
        def grab(self, *args, **kwargs):
            raise _Captured(self, name)
        return grab
    for name in METHODS:
        setattr(argparse.ArgumentParser, name, grabber(name))
    try:
        with contextlib.redirect_stdout(sys.stderr):
            runpy.run_path(path, run_name='__main__')
    except _Captured as got:
        return got.parser, got.method
    except BaseException as err:  # noqa: B036 - a tool that exits or fails before parsing
        return f'{path} ended before parsing its arguments ({type(err).__name__}: {err})'
    finally:
        for name, method in saved.items():
            setattr(argparse.ArgumentParser, name, method)
        sys.argv = argv
    return f'{path} has no argparse parser'


def unknown_options(parser, args):
    """Options in ``args`` the parser does not have, or has only as a longer name."""
    options = {s for a in parser._actions for s in a.option_strings}
    for arg in args:
        if arg == '--':
            break
        name = arg.split('=', 1)[0]
        if not name.startswith('-') or name == '-' or name in options or \
                (not name.startswith('--') and (name[:2] in options or name[1:2].isdigit())):
            continue
        longer = sorted(o for o in options if o.startswith(name))
        if len(longer) == 1:
            return f'{name} abbreviates {longer[0]}: write the option in full'
        if longer:
            return f'{name} is ambiguous ({", ".join(longer)}): write the option in full'
        near = difflib.get_close_matches(name, sorted(options), n=1)
        return f'unknown option {name}' + (f' (did you mean {near[0]}?)' if near else '')
    return None


def parse(parser, method, args):
    """``None`` if ``args`` parse with ``parser.<method>`` (as the tool parses them), else
    argparse's error message; ``parse_known_*`` accepts no unknown arguments here."""
    problem = unknown_options(parser, args)
    if problem:
        return problem
    parser.allow_abbrev = False

    def error(message):
        raise _ParseError(message)

    def leave(status=0, message=None):
        if status:
            raise _ParseError(message or f'exit {status}')
        raise _ParseError(None)                                    # --help: fine
    parser.error, parser.exit = error, leave
    try:
        with contextlib.redirect_stdout(sys.stderr):
            namespace, extra = getattr(parser, KNOWN.get(method, method))(args)
        if extra:
            return f'unrecognized arguments: {" ".join(extra)}'
    except _ParseError as err:
        return err.args[0] if err.args and err.args[0] else None
    return check_config(namespace)


def _current(cfg, key):
    """The config's value at a dotted ``key`` (list entries by index), or ``None``."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif hasattr(node, 'keys') and part in node:
            node = node[part]
        else:
            return None
    return node


def check_config(namespace):
    """``None``, or what is wrong with the command's config (``args.config``: a file that is not
    there) or its ``--cfg-options`` (the one line ``est_mm.utils.config`` gives, or its note that
    an option adds a key the config does not have: a likely typo)."""
    options, config = getattr(namespace, 'cfg_options', None), getattr(namespace, 'config', None)
    if isinstance(config, str) and not os.path.exists(config) and not REPO_PATH.fullmatch(config) \
            and not is_placeholder(config) and not is_placeholder(os.path.basename(config)):
        return f'the config {config} does not exist'        # (REPO_PATH ones: docs_check says)
    if not options or not isinstance(config, str) or not os.path.isfile(config):
        return None
    from est_mm.utils.config import ConfigError, merge_cfg_options, read_config
    if isinstance(options, list):                        # passed on as words (run_folds.py)
        from mmengine.config import DictAction
        parsed = argparse.Namespace()
        DictAction(['--cfg-options'], 'cfg_options')(None, parsed, options)
        options = parsed.cfg_options
    try:
        cfg = read_config(config)
        options = {k: (_current(cfg, k) if isinstance(v, str) and is_placeholder(v) and
                       _current(cfg, k) is not None else v) for k, v in options.items()}
        notes = io.StringIO()
        with contextlib.redirect_stderr(notes):
            merge_cfg_options(cfg, options, config)
    except ConfigError as err:
        return str(err)
    new_keys = [line for line in notes.getvalue().splitlines() if 'added as a new setting' in line]
    return new_keys[0] if new_keys else None  # other notes (data_root moving datasets) inform


def main():
    requests = json.load(sys.stdin)
    parsers, answers = {}, []
    for tool, args in requests:
        if tool not in parsers:
            parsers[tool] = capture_parser(tool)
        found = parsers[tool]
        if isinstance(found, str):
            answers.append(found)
        elif args is None:
            answers.append(sorted(s for a in found[0]._actions for s in a.option_strings))
        else:
            answers.append(parse(*found, args))
    sys.stdout.write(json.dumps(answers))


if __name__ == '__main__':
    main()                                  # in the repository root (docs_check runs it there)
