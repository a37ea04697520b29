"""A mean and its 95% interval (Student's t), for figures measured a few times.

`rerun` and `claim` (command line and window alike) quote these: the machine's
noise between identical runs is about ±10%, so a figure without its interval
says little.
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


__all__ = ["mean_interval", "t95"]
