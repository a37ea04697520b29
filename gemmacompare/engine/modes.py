"""Race and fair, and how many CPU threads each model gets in them.

The mode names live in state/defaults.py, where the command line's parsers read them
without importing the engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

from gemmacompare.state.defaults import FAIR, MODES, RACE


def default_threads() -> int:
    """Physical cores: llama.cpp's own default, and what a model racing alone gets."""
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def threads_for_mode(mode: str, total: int | None = None, n_models: int = 2) -> int:
    """Threads each model gets: the whole machine in fair mode, a share in race mode."""
    total = total or default_threads()
    return total if mode == FAIR else max(1, total // max(1, n_models))


@dataclass(frozen=True)
class ThreadSplit:
    """Threads per participant for one round, and how it was decided."""

    mode: str
    total: int
    threads: tuple[int, ...]  # 0 for a model on a server: it takes no threads here
    chosen: tuple[bool, ...]  # the user set this model's threads; the mode did not decide them

    @property
    def n_local(self) -> int:
        return sum(1 for n in self.threads if n)

    @property
    def oversubscribed(self) -> bool:
        """Race mode asks for more threads at once than the machine has."""
        return self.mode == RACE and sum(self.threads) > self.total

    def short(self) -> str:
        """A few words for a finished round's verdict: "race mode, 1 thread each"."""
        local = [n for n in self.threads if n]
        if not local:
            return f"{self.mode} mode, servers only"
        if len(local) < len(self.threads):
            return self._short_local(local) + " (a server model takes none here)"
        return self._short_local(local)

    def _short_local(self, local: list[int]) -> str:
        if len(set(local)) == 1:
            if self.mode == FAIR:
                return f"{self.mode} mode, each alone with {_threads(local[0])}"
            return f"{self.mode} mode, {_threads(local[0])} each" if len(local) > 1 else \
                f"{self.mode} mode, {_threads(local[0])}"
        return f"{self.mode} mode, threads {'/'.join(str(n) for n in local)}"

    def for_model(self, index: int) -> str:
        """One model's part, for its stats line: "race mode, 1 thread" (yours: set in its settings)."""
        n = self.threads[index]
        if not n:
            return f"{self.mode} mode, no threads here (server)"
        return f"{self.mode} mode, {_threads(n)}" + (" (its own setting)" if self.chosen[index] else "")

    def describe(self) -> str:
        """One line for the banner and the terminal: what ran with what."""
        local = [n for n in self.threads if n]
        if not local:
            return f"{self.mode} mode, servers only (no threads here)"
        if self.mode == FAIR:
            each = sorted(set(local))
            note = f"{self.mode} mode, each alone with {_threads(each[0]) if len(each) == 1 else _list(each)}"
        elif len(set(local)) == 1:
            note = f"{self.mode} mode, {_threads(local[0])} each"
            if len(local) > 1:
                note += f" ({len(local)} models share {self.total})"
        else:
            note = f"{self.mode} mode, threads {'/'.join(str(n) for n in local)} of {self.total}"
        if self.oversubscribed:
            note += f"; {sum(local)} threads on {self.total}: the models take turns on the cores"
        if len(local) < len(self.threads):
            note += " (a server model takes none here)"
        return note


def split_threads(mode: str, total: int, remote: Sequence[bool], chosen: Sequence[int] = ()) -> ThreadSplit:
    """Race splits `total` between the local models, fair gives each all of it.

    A model's own thread setting (chosen[i] > 0) wins over the mode's share in
    every door, the window, `compare` and `bench` alike: the user asked for it,
    and the result records it.
    """
    total = max(1, total or default_threads())
    n_local = sum(1 for r in remote if not r)
    share = threads_for_mode(mode, total, max(1, n_local))
    threads, was_chosen = [], []
    for i, is_remote in enumerate(remote):
        own = chosen[i] if i < len(chosen) else 0
        threads.append(0 if is_remote else (own or share))
        was_chosen.append(bool(own) and not is_remote)
    return ThreadSplit(mode, total, tuple(threads), tuple(was_chosen))


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


def _list(ns: list[int]) -> str:
    return "/".join(str(n) for n in ns) + " threads"


__all__ = ["FAIR", "MODES", "RACE", "ThreadSplit", "default_threads", "split_threads", "threads_for_mode"]
