"""JSON Lines output of streaming results: one record per line, flushed as it is written."""
import json
import sys
from typing import IO, Optional, Union


class JsonLinesWriter:
    """Writes records (anything with ``to_dict()``, or dicts) to ``target``: a file path
    (``'-'``: standard output) or an open text stream; each line is flushed at once, so a reader
    (``tail -f``, a pipe) sees every window as soon as it is computed. ``append`` keeps an
    existing file's lines. Use as a context manager or call :meth:`close`."""

    def __init__(self, target: Union[str, IO[str]] = '-', append: bool = False):
        self._own = False
        if target == '-':
            self.stream = sys.stdout
        elif isinstance(target, str):
            try:
                self.stream = open(target, 'a' if append else 'w', encoding='utf-8')
            except OSError as err:
                raise ValueError(f'{target}: cannot open for writing ({err.strerror})') from None
            self._own = True
        else:
            self.stream = target
        self.count = 0

    def write(self, record) -> None:
        data = record.to_dict() if hasattr(record, 'to_dict') else dict(record)
        self.stream.write(json.dumps(data, allow_nan=False) + '\n')
        self.stream.flush()
        self.count += 1

    def write_all(self, records) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        if self._own and not self.stream.closed:
            self.stream.close()

    def __enter__(self) -> 'JsonLinesWriter':
        return self

    def __exit__(self, *exc: Optional[BaseException]) -> None:
        self.close()
