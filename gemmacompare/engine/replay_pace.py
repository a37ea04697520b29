"""How long a replay lasts: bounded by what it shows, not by what a file claims.

A run file is a stranger's: it may put its one token at day 115, or 65,536
tokens a minute apart. A replay keeps the recorded timing wherever a real run
has it, and shortens the rest: a pause longer than MAX_PAUSE_S in the
recording plays as MAX_PAUSE_S (over the speed), and a replay that would
still last longer than MAX_REPLAY_S is played faster as a whole. A real run
(no minute of silence, shorter than half an hour at the chosen speed) plays
exactly as recorded: `PlayClock.exact` is then True and every time maps to itself over
the speed.
"""

from __future__ import annotations

import bisect
from typing import Iterable

MAX_PAUSE_S = 60.0
MAX_REPLAY_S = 1800.0


class PlayClock:
    """Maps seconds since Send in the recording to seconds since the replay's start."""

    def __init__(self, times: Iterable[float], speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("replay speed must be positive")
        self.speed = speed
        self._rec = sorted({max(0.0, float(t)) for t in times} | {0.0})
        play = [0.0]
        for a, b in zip(self._rec, self._rec[1:]):
            play.append(play[-1] + min(b - a, MAX_PAUSE_S) / speed)
        total = play[-1]
        scale = MAX_REPLAY_S / total if total > MAX_REPLAY_S else 1.0
        self._play = [x * scale for x in play]
        self.exact = scale == 1.0 and all(b - a <= MAX_PAUSE_S for a, b in zip(self._rec, self._rec[1:]))

    @property
    def length(self) -> float:
        """The replay's length in seconds."""
        return self._play[-1]

    def __call__(self, t: float) -> float:
        """The replay's time for recorded time t (seconds since Send); monotonic."""
        if self.exact:
            return t / self.speed
        t = max(0.0, t)
        k = bisect.bisect_right(self._rec, t) - 1
        if k >= len(self._rec) - 1:  # at or after the last recorded time
            return self._play[-1] + min(t - self._rec[-1], MAX_PAUSE_S) / self.speed
        a, b = self._rec[k], self._rec[k + 1]
        return self._play[k] + (self._play[k + 1] - self._play[k]) * (t - a) / (b - a)

    def said(self) -> str:
        """One sentence when the replay does not keep the recorded timing, else ""."""
        if self.exact:
            return ""
        return (f"The recording's pauses longer than {MAX_PAUSE_S:.0f} s are shortened to that, so the replay lasts "
                f"{self.length:.0f} s (a replay lasts {MAX_REPLAY_S / 60:.0f} minutes at most).")


__all__ = ["MAX_PAUSE_S", "MAX_REPLAY_S", "PlayClock"]
