"""A mean and its 95% interval (Student's t), for figures measured a few times.

`rerun` and `claim` (command line and window alike) quote these: the machine's
noise between identical runs is about ±10%, so a figure without its interval
says little.

Times, speeds, memory and ratios of them are positive: their interval is taken
on the log scale (`positive_interval`), so it never reaches zero or below and a
ratio's interval is the same read either way up (A/B's is the inverse of B/A's).
Two runs give a very wide one, as they should; a figure of zero or less, or a
single run, gives none ("too few runs").
"""

from __future__ import annotations

import math
import statistics

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       15: 2.131, 20: 2.086, 30: 2.042}


def t95(df: int) -> float:
    """Student's t for a two-sided 95% interval, rounded down to the nearest tabled degrees of freedom."""
    keys = [k for k in sorted(T95) if k <= df]
    return T95[keys[-1]] if keys else T95[1]


def mean_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """Mean and its 95% interval (Student's t) when there are two values or more."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, None, None
    half = t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


def positive_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """For positive figures: the geometric mean and its 95% interval on the log scale, both above zero;
    (mean, None, None) with one value, or when a value is not above zero (no log: no interval)."""
    if len(values) < 2 or any(not (v > 0 and math.isfinite(v)) for v in values):
        return (statistics.fmean(values) if values else math.nan), None, None
    logs = [math.log(v) for v in values]
    m, lo, hi = mean_interval(logs)
    assert lo is not None and hi is not None
    return math.exp(m), math.exp(lo), math.exp(hi)


TOO_FEW = "too few runs for an interval"


def format_positive(values: list[float], digits: int = 1, unit: str = "") -> str:
    """"2164 [1620, 2890] t/s": a positive figure with its interval, or "2164 t/s (too few runs for an interval)"."""
    if not values:
        return "-"
    m, lo, hi = positive_interval(values)
    u = f" {unit}" if unit else ""
    if lo is None or hi is None:
        return f"{m:.{digits}f}{u} ({TOO_FEW})"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]{u}"


__all__ = ["TOO_FEW", "format_positive", "mean_interval", "positive_interval", "t95"]
