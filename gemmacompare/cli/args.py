"""Argument types shared by the command line's subcommands (no heavy imports)."""

from __future__ import annotations

import argparse
import math
from typing import Callable, Sequence, TypeVar

# More threads than max_threads() only slow llama.cpp down (1100 threads on 2 cores took 78 s for 8 tokens),
# and a typo such as 1100 for 11 should be caught, not run; a run file's counts are held to it too.
from gemmacompare.engine.api import THREADS_PER_CPU, max_threads
from gemmacompare.state.settings import FLASH_ATTN_CHOICES, KV_CACHE_TYPES

T = TypeVar("T")


def add_llama_args(g: argparse._ActionsContainer) -> None:
    """Settings that change speed, spelled as llama.cpp's own tools spell them;
    their defaults are llama.cpp's."""
    g.add_argument("-fa", "--flash-attn", choices=FLASH_ATTN_CHOICES, default="auto",
                   help="flash attention (default: auto, on where supported)")
    g.add_argument("-ctk", "--cache-type-k", choices=KV_CACHE_TYPES, default="f16", help="KV cache type for K")
    g.add_argument("-ctv", "--cache-type-v", choices=KV_CACHE_TYPES, default="f16", help="KV cache type for V")


def int_at_least(lo: int) -> Callable[[str], int]:
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


def finite_float(text: str) -> float:
    """An argparse type: a real number; nan and inf are refused (sampling with them gives garbage)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def number_in(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number from lo to hi (a run file's settings pass the same ranges:
    engine/settings_check.py)."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value:g} is outside {lo:g} to {hi:g}")
        return value

    parse.__name__ = "number"
    return parse


def thread_count(text: str) -> int:
    """An argparse type: CPU threads, 0 (all cores) up to max_threads()."""
    value = int_at_least(0)(text)
    if value > max_threads():
        raise argparse.ArgumentTypeError(
            f"{value} threads is more than {max_threads()} ({THREADS_PER_CPU} per logical CPU of this machine)")
    return value


def context_size(text: str) -> int | str:
    """An argparse type: a context size of at least 1, or "max" (the model's trained context)."""
    if text.strip().lower() == "max":
        return "max"
    return int_at_least(1)(text)


def per_model(one: Callable[[str], T]) -> Callable[[str], list[T]]:
    """An argparse type: one value, or a comma-separated list of them (one per model)."""

    def parse(text: str) -> list[T]:
        return [one(part.strip()) for part in text.split(",")]

    parse.__name__ = getattr(one, "__name__", "value")
    return parse


def value_for(values: Sequence[T], index: int) -> T:
    """A per-model option's value for model `index`: one value applies to all."""
    return values[index] if len(values) > 1 else values[0]
