"""Check that the running Python environment still has the versions pinned in requirements*.txt
(``pip install openmim``, for one, downgrades setuptools, rich, tqdm and packaging). Prints one line
per package that differs and exits 1; prints nothing and exits 0 when all match. ``make demo`` and
``make test`` run it and reinstall the pins when it fails."""
import argparse
import os.path as osp
import sys
from importlib import metadata

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT = ['requirements.txt', 'requirements-nodeps.txt', 'requirements-test.txt']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('requirements', nargs='*',
                        default=[osp.join(ROOT, name) for name in DEFAULT],
                        help='requirement files to check against (default: the repository\'s '
                        + ', '.join(DEFAULT) + ')')
    return parser.parse_args(argv)


def read_requirements(path):
    """(line number, requirement text) of every requirement line of a pip requirements file."""
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            text = line.split('#', 1)[0].strip()
            if text:
                yield lineno, text


def mismatches(paths):
    """One message per pinned package whose installed version is missing or outside its pin."""
    from packaging.requirements import Requirement
    problems = []
    for path in paths:
        for lineno, text in read_requirements(path):
            where = f'{osp.basename(path)}:{lineno}'
            if text.startswith('-'):
                problems.append(f'{where}: pip options are not checked: {text}')
                continue
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate():
                continue
            try:
                version = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                problems.append(f'{req.name}: not installed ({where} pins {text})')
                continue
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f'{req.name}: {version} installed, {where} pins {text}')
    return problems


def main(argv=None):
    args = parse_args(argv)
    try:
        problems = mismatches(args.requirements)
    except (OSError, ValueError) as err:  # an unreadable file, a line pip would not accept
        raise SystemExit(f'check_env: {err}')
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
