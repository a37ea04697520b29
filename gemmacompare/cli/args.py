"""Argument types shared by the command line's subcommands (no heavy imports)."""

from __future__ import annotations

import argparse


def int_at_least(lo: int):
    """An argparse type: a whole number >= lo, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} is too small (the least is {lo})")
        return value

    # argparse names the type in some messages; keep that readable.
    parse.__name__ = f"int_at_least_{lo}".replace("-", "minus_")
    return parse
