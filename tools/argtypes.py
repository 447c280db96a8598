"""argparse types for numeric options with a lower bound, so a bad value is refused while the
arguments are parsed (one ``error:`` line, exit 2), before torch or est_mm is imported."""
import argparse
import math


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
