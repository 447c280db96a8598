"""What the tools share while parsing arguments, importing nothing heavy (so ``--help`` answers at
once): numeric types with a lower bound (a bad value is one ``error:`` line, exit 2, before torch
or est_mm is imported), ``--detector``, ``--cfg-options``, ``--launcher`` and the list writers'
arguments; after parsing, :func:`load_tool_config` reads the config and checks ``--device``;
:func:`cpu_defaults` for the tools that run PyTorch."""
import argparse
import math
import os


def cpu_defaults(reuse_memory: bool = False) -> None:
    """Process settings for PyTorch on the CPU, made before torch is imported, each unless the
    environment sets its own:

    - ``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads sleep at a barrier instead of spinning. On
      cores shared with another job, spinning threads made a training step 3-4x slower (EST's
      Adam over 175 tensors hit hardest); idle, the Adam step takes ~0.04 s longer.
    - with ``reuse_memory`` (training and testing): glibc's malloc keeps freed blocks below
      512 MiB for reuse instead of returning them to the system (``mallopt``; glibc only; up to
      1 GiB may stay reserved): every step allocates its activations afresh, and their page
      faults made a 224² training step ~15 % slower. The demo tools leave it off (a long live
      run keeps its memory small).

    Neither changes a result: the weights are the same to the bit (docs/analysis.md, "Training
    under load" and "EST / TSN at 224², idle and busy")."""
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    if not reuse_memory or 'malloc' in os.environ.get('GLIBC_TUNABLES', '') or any(
            k.startswith('MALLOC_') for k in os.environ):
        return
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    mallopt(m_mmap_threshold, 512 << 20)
    mallopt(m_trim_threshold, 1 << 30)


def number(kind=int, minimum=1, strict=False):
    """An argparse ``type``: ``kind`` (int or float) >= ``minimum`` (> with ``strict``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'{text!r} is not {"an integer" if kind is int else "a number"}') from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(
                f'must be {">" if strict else ">="} {minimum}, got {text}')
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


class CfgOptions(argparse.Action):
    """mmengine's ``DictAction`` for ``--cfg-options``, imported only when the option is given, so
    that ``--help`` answers without importing mmengine. An entry that is not ``key=value`` (or
    whose brackets do not pair up) is one ``error:`` line; what the keys and values mean is
    checked against the config when it is loaded (``est_mm.utils.config.merge_cfg_options``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction
        for entry in values:
            key = entry.split('=', 1)[0]
            if '=' not in entry or not key or not all(key.split('.')):
                parser.error(f'argument {option_string}: {entry!r} is not key=value '
                             '(e.g. train_dataloader.batch_size=4)')
        try:
            DictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)
        except (AssertionError, ValueError) as err:  # "Imbalanced brackets exist in ..."
            parser.error(f'argument {option_string}: {err}')


def detector_names():
    """The face detectors' names (``est_mm.faces.detectors.FACE_DETECTORS``, the registry's keys,
    the first the default), read from that file's source: importing it would import est_mm and
    torch, and ``--help`` must answer at once."""
    import ast
    import os.path as osp
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'est_mm', 'faces',
                    'detectors.py')
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                and [getattr(t, 'id', None) for t in node.targets] == ['FACE_DETECTORS']):
            return [ast.literal_eval(key) for key in node.value.keys]
    raise RuntimeError(f'{path}: no FACE_DETECTORS = {{...}} literal to read the detector names '
                       'from')


def add_detector_option(parser, help='face detector (default: %(default)s)'):
    """``--detector NAME``, one of :func:`detector_names` (default: the first)."""
    names = detector_names()
    parser.add_argument('--detector', default=names[0], choices=names, help=help)


def add_cfg_options(parser, example='test_dataloader.dataset.data_root=/data/DFEW'):
    """``--cfg-options key=value ...``: settings merged into the config (``args.cfg_options``)."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptions,
        help=f'override settings of the config, key=value pairs merged into it, e.g. {example} '
        'or key="[a,b]" for lists (quotes needed, no spaces)')


def load_tool_config(args, require=('model',), out_files=(), out_dirs=(), classes_files=True):
    """After parsing, before any work: ``args.config`` read with ``args.cfg_options`` merged,
    ``args.device`` (where the tool has one) checked against this machine's devices and the
    folders of ``out_files`` and ``out_dirs`` (None: not given) checked writable; anything that
    cannot work ends the tool with one line (exit 1) naming the file, option, device or folder.
    ``classes_files=False``: a dataset's ``classes_file`` is not required (a checkpoint names
    the classes)."""
    import os.path as osp
    import sys

    from est_mm.utils.config import ConfigError, load_config
    from est_mm.utils.devices import resolve_device
    from est_mm.utils.files import check_writable_dir
    try:
        if getattr(args, 'device', None) is not None:
            resolve_device(args.device)
        for folder in [osp.dirname(osp.abspath(f)) for f in out_files if f] + \
                [d for d in out_dirs if d]:
            check_writable_dir(folder, create=False)
        return load_config(args.config, getattr(args, 'cfg_options', None), require,
                           classes_files)
    except (ConfigError, ValueError, OSError) as err:
        sys.exit(str(err))


def add_launcher(parser, tool):
    """``--launcher`` and ``--local_rank`` of ``tools/<tool>.py`` (``train`` or ``test``)."""
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher: none = one process; pytorch = started by torchrun '
        f'(tools/dist_{tool}.sh); slurm = started by srun (tools/slurm_{tool}.sh)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by the launcher; not for manual use')


def list_writer_parser(doc, description, root_help):
    """The parser of a ``tools/data/convert_*.py`` list writer: ``root``, ``out_list`` and
    ``--overwrite``; the tool adds its own options. ``doc`` (the layout and format) is the epilog."""
    parser = argparse.ArgumentParser(formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=doc, description=description)
    parser.add_argument('root', help=root_help)
    parser.add_argument('out_list', help='list file to write (refused if it exists, see '
                        '--overwrite)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_LIST if it exists')
    return parser


def write_list(write, *args):
    """Runs a list writer of ``est_mm.datasets.converters`` and prints its report; its one-line
    errors end the tool as ``error: ...``."""
    import sys
    try:
        report = write(*args)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        sys.exit(f'error: {err}')
    print('\n'.join(report))


def one_line_warnings() -> None:
    """Python warnings on stderr as one line each (``warning: <message>``), without the file:line
    and source line Python's default format adds: est_mm's warnings name their input, and the
    tool's user has no use for the line of the tool that triggered them."""
    import warnings

    def show(message, category, filename, lineno, line=None):
        kind = '' if category is UserWarning else f' ({category.__name__})'
        return f'warning{kind}: {message}\n'
    warnings.formatwarning = show
