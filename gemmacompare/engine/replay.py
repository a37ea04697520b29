"""A recorded run played back as a live one, at its recorded speed.

`ReplayWorker` is a Participant, played in a light compare session
(`CompareSession.of_records`): fair mode's side-by-side replay, a run file
opened in the window, `gemmacompare replay` and the session's own tests drive
it as they drive a model. Each
event keeps its recorded offset from the request's start, so the replayed
run's figures (ms/token, TTFT, time to answer) are the recorded ones.
`stop()` does not cut a replay short: it jumps to the end, so the answer is
whole and agrees with its stats. A stranger's file cannot make it last for
days: engine/replay_pace.py shortens long pauses and bounds its length.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Iterator

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.replay_pace import PlayClock


class ReplayWorker:
    remote = False

    def __init__(self, label: str, record: RunRecord, loaded: p.Loaded | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("replay speed must be positive")
        self.label = label
        self.record = record
        self.loaded = loaded
        self.speed = speed
        self._skip = threading.Event()

    @property
    def pid(self) -> int | None:
        return None  # nothing runs: there is no memory to sample

    def load(self, path: str = "", settings: p.LoadSettings | None = None) -> p.Loaded:
        if self.loaded is None:
            raise p.WorkerFailed(p.WorkerError(None, f"The recorded run of {self.label} has no model facts to show."))
        return self.loaded

    def stop(self) -> None:
        self._skip.set()

    def close(self, timeout: float = 1.0) -> None:
        self._skip.set()

    def generate(self, cmd: p.Request) -> Iterator[p.Event]:
        rec = self.record
        events = recorded_events(rec)
        clock = play_clock(rec, self.speed)
        t0 = time.monotonic()

        def when(t: float) -> float:
            return t0 + clock(t - rec.t_send)

        for ev in events:
            at = _time_of(ev)
            if at is not None:
                self._wait_until(when(at))
            yield _shifted(ev, when, cmd.request_id)
        # Cleared at the end, not the start: a jump asked for before the replay began still jumps.
        self._skip.clear()

    def memory_from(self, t_send: float) -> p.MemoryTrace | None:
        """The recorded memory on the clock of a replay that started at `t_send` (the same
        bounded clock its tokens play on)."""
        src, rec = self.record.memory, self.record
        if src is None:
            return None
        clock = play_clock(rec, self.speed)
        return p.MemoryTrace([p.MemorySample(t_send + clock(s.t - rec.t_send), s.rss, s.vram)
                              for s in src.samples], src.gpu_available, src.gpu_source)

    def _wait_until(self, when: float) -> None:
        delay = when - time.monotonic()
        if delay > 0:
            self._skip.wait(delay)


def play_clock(rec: RunRecord, speed: float = 1.0) -> PlayClock:
    """The replay's clock for a record: its events' times since Send, paced (engine/replay_pace.py)."""
    return PlayClock((at - rec.t_send for ev in recorded_events(rec) if (at := _time_of(ev)) is not None), speed)


def recorded_events(rec: RunRecord) -> list[p.Event]:
    """The record's events in the order a worker sent them."""
    events: list[p.Event] = []
    if rec.prompt is not None:
        events.append(rec.prompt)
    if rec.prefill is not None:
        events.append(rec.prefill)
    events.extend(rec.tokens)
    if rec.finished is not None:
        events.append(rec.finished)
    if rec.error is not None:
        events.append(rec.error)
    return events


def _time_of(ev: p.Event) -> float | None:
    if isinstance(ev, p.PrefillDone):
        return ev.t_end
    if isinstance(ev, p.Token):
        return ev.t
    if isinstance(ev, p.Finished):
        return ev.t_end
    return None


def _shifted(ev: p.Event, at: Callable[[float], float], request_id: int) -> p.Event:
    """The event moved onto the replay's clock (`at`: recorded time -> replay time)."""
    if isinstance(ev, p.Token):
        return replace(ev, request_id=request_id, t=at(ev.t))
    if isinstance(ev, p.PrefillDone):
        return replace(ev, request_id=request_id, t_start=at(ev.t_start), t_end=at(ev.t_end))
    if isinstance(ev, p.Finished):
        return replace(ev, request_id=request_id, t_send=at(ev.t_send), t_end=at(ev.t_end))
    if isinstance(ev, (p.PromptReady, p.WorkerError)):
        return replace(ev, request_id=request_id)
    return ev
