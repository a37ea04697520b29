"""Argument types shared by the command line's subcommands (no heavy imports)."""

from __future__ import annotations

import argparse
import math
from dataclasses import MISSING
from typing import Any, Callable, Sequence, TypeVar

from gemmacompare.state import settings_table
from gemmacompare.state.defaults import THREADS_PER_CPU, max_threads
from gemmacompare.state.settings_table import RunSettings

T = TypeVar("T")


def add_llama_args(g: argparse._ActionsContainer) -> None:
    """Settings that change speed, spelled as llama.cpp's own tools spell them;
    their defaults are llama.cpp's tools'."""
    for name in ("flash_attn", "type_k", "type_v", "swa_full"):
        add_setting(g, name)


def setting_type(name: str) -> Callable[[str], Any]:
    """An argparse type for a setting of the table: parsed, then checked by the table
    (`--top-p 5` is refused with the table's sentence; nan and inf are never numbers here)."""
    s = settings_table.get(name)

    def parse(text: str) -> Any:
        value: Any = text
        if s.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        elif s.kind == "float":
            value = finite_float(text)
        try:
            return settings_table.validate(name, value)
        except settings_table.SettingError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def add_setting(g: argparse._ActionsContainer, name: str, *, default: Any = MISSING, each_model: bool = False,
                type: Callable[[str], Any] | None = None, help: str | None = None) -> None:
    """The flag of a setting as the table declares it (spelling, default, help); its value
    lands in `args.<name>`, which settings_from_args reads. `each_model`: a comma list, one
    value per model (as llama-bench takes them)."""
    s = settings_table.get(name)
    flags = [*s.spec.aliases, s.spec.flag]
    default = s.default if default is MISSING else default
    text = help or s.spec.help or None
    if s.kind == "bool" and s.nullable:  # --think / --no-think: neither leaves it to the template
        both = g.add_mutually_exclusive_group()
        both.add_argument(s.spec.flag, dest=name, action="store_true", default=default, help=text)
        both.add_argument(s.spec.flag.replace("--", "--no-", 1), dest=name, action="store_false")
    elif s.kind == "bool":
        g.add_argument(*flags, dest=name, action="store_true", default=default, help=text)
    elif s.kind == "strings":
        g.add_argument(*flags, dest=name, action="append", default=list(default), help=text)
    else:
        one = type or setting_type(name)
        g.add_argument(*flags, dest=name, type=per_model(one) if each_model else one,
                       default=[default] if each_model else default, choices=None if each_model else
                       (s.spec.choices or None), metavar="N[,N...]" if each_model else None, help=text)


def flag_values(args: argparse.Namespace, index: int = 0) -> dict[str, Any]:
    """The settings the flags add_setting made hold, by name: model `index`'s value of a
    comma list (one value is every model's)."""
    values = {}
    for s in settings_table.SETTINGS:
        if s.spec.flag and hasattr(args, s.name):
            v = getattr(args, s.name)
            values[s.name] = value_for(v, index) if isinstance(v, list) and s.kind != "strings" else v
    return values


def settings_from_args(args: argparse.Namespace, index: int, base: RunSettings | None = None) -> RunSettings:
    """Model `index`'s settings from the flags add_setting made; settings without a flag
    here keep `base`'s values."""
    return settings_table.with_values(base or RunSettings(), flag_values(args, index))


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
