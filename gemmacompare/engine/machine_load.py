"""How much CPU other programs took while a model ran: a busy machine is named, not hidden.

All processes' CPU time over the run, from the kernel's per-CPU counters, minus
what this app and its participants (worker processes, a server on this machine)
used, divided by the run's wall time: the cores other programs kept busy.

The threshold is 0.2 of a core or a tenth of the machine, whichever is more.
On the 2-core machines we measure on, identical runs already spread by ±10%
(see the README's speed notes); a race gives each model one core, and 0.2 of a
core taken from it is a 20% slowdown at worst, twice that noise, so less than
that is not worth a warning, and more is.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import psutil

log = logging.getLogger(__name__)

MIN_BUSY_CORES = 0.2
MIN_BUSY_SHARE = 0.1  # of all logical CPUs


@dataclass(frozen=True)
class OtherLoad:
    cores: float  # CPU other programs used, in cores, averaged over the run
    total_cores: int
    seconds: float

    @property
    def threshold(self) -> float:
        return max(MIN_BUSY_CORES, MIN_BUSY_SHARE * self.total_cores)

    @property
    def busy(self) -> bool:
        return self.cores >= self.threshold

    def sentence(self) -> str:
        return (f"other programs used {self.cores:.1f} of {self.total_cores} cores during this run; "
                "figures are unreliable")


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    return float(sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))


def _cpu_of(pids: Iterable[int]) -> dict[int, float]:
    out = {}
    for pid in set(pids):
        try:
            c = psutil.Process(pid).cpu_times()
            out[pid] = c.user + c.system
        except (psutil.Error, OSError):
            continue
    return out


class LoadMeter:
    """Start before a run, stop after it; `ours` names the processes that are not "other"."""

    def __init__(self, ours: Callable[[], Iterable[int]]) -> None:
        self._ours = ours
        self._t0 = 0.0
        self._busy0 = 0.0
        self._own0: dict[int, float] = {}

    def _own_pids(self) -> list[int]:
        # Not every child: a test's (or a user's) other programs may be children too.
        return [os.getpid(), *(p for p in self._ours() if p)]

    def start(self) -> "LoadMeter":
        self._t0 = time.monotonic()
        self._busy0 = _busy_seconds()
        self._own0 = _cpu_of(self._own_pids())
        return self

    def stop(self) -> OtherLoad | None:
        seconds = time.monotonic() - self._t0
        if seconds <= 0.05:
            return None  # too short to say anything
        try:
            busy = _busy_seconds() - self._busy0
            own1 = _cpu_of(self._own_pids())
        except (psutil.Error, OSError) as exc:
            log.info("machine load not measured: %s", exc)
            return None
        # A process of ours seen at both ends counts its CPU in between; one started
        # meanwhile (a restarted worker) counts all of its CPU.
        own = sum(cpu - self._own0.get(pid, 0.0) for pid, cpu in own1.items())
        others = max(0.0, busy - own) / seconds
        return OtherLoad(round(others, 2), psutil.cpu_count() or 1, round(seconds, 3))
