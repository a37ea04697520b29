"""The window's door to a compare session: a thin Qt adapter that forwards.

The session calls back, and publishes its state, on its own threads; this
adapter only appends to a queue, and a 100 ms timer on the GUI thread drains
it, emitting one signal per pane per batch, so painting never happens per token
and the GUI never waits on a model. Each drain lays out and paints new text
(several ms in software), and every CPU millisecond the window spends is taken
from the models in race mode, so text is shown ten times a second. What a user
waits for (a run's start, its first token, the end of a reply or round, a load,
an error, a change of state) wakes the drain at once instead. The timer runs
only while something does: an idle window does not wake.

The adapter keeps no score: `state` is the session's own published state, as
far as the GUI thread has been told it, in order with the events before it.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Mapping

from PySide6.QtCore import QObject, QTimer, Signal

from gemmacompare.engine.api import (
    CompareSession,
    Participant,
    RoundState,
    RunSettings,
    RunStarted,
    SessionBusy,
    SessionEvent,
)
from gemmacompare.engine.api import protocol as p

BATCH_INTERVAL_MS = 100


class SessionRunner(QObject):
    loaded = Signal(int, object)  # slot, p.Loaded
    load_failed = Signal(int, str)  # slot, one sentence
    run_started = Signal(int, object)  # slot, RunStarted
    events = Signal(int, list)  # slot, list[p.Event] since the last batch
    round_finished = Signal(object)  # CompareResult, after every pane's last events and the idle state
    replay_started = Signal(int, object)  # slot, RunStarted: the replay of its latest run begins
    replay_events = Signal(int, list)  # slot, list[p.Event] of the replay since the last batch
    replay_finished = Signal(object)  # CompareResult of the round replayed
    state_changed = Signal(object)  # RoundState, in order with the events
    _wake = Signal()  # from the session's threads: drain now, not at the next tick

    def __init__(self, session: CompareSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.state: RoundState = session.state
        self._queue: collections.deque[tuple[str, int, Any]] = collections.deque()
        self._gui_thread = threading.current_thread()
        self._draining = False
        self._timer = QTimer(self)
        self._timer.setInterval(BATCH_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self._wake.connect(self._drain)
        self._closed = False
        session.subscribe(self._on_state)

    # --- what panes ask -------------------------------------------------------

    def worker(self, index: int) -> Participant:
        return self.session.worker(index)

    def busy(self, index: int) -> bool:
        return self.state.slot_busy(index)

    @property
    def timer_active(self) -> bool:
        return self._timer.isActive()

    def load(self, index: int, path: str, settings: RunSettings) -> bool:
        if self._closed:
            return False
        self._timer.start()
        return self.session.start_load(index, path, settings.load, settings.server, self._on_load_done)

    def start_round(self, commands: Mapping[int, p.GenerateCommand], mode: str, threads_total: int,
                    prompt: str = "") -> bool:
        if self._closed:
            return False
        try:
            self.session.start(commands, mode, threads_total, on_event=self._on_event, prompt=prompt)
        except SessionBusy:
            return False
        self._timer.start()
        return True

    def start_play(self) -> bool:
        """A session of recorded runs (CompareSession.of_records): play them all from a common start."""
        if self._closed:
            return False
        try:
            self.session.play(self._on_event)
        except SessionBusy:
            return False
        self._timer.start()
        return True

    def start_replay(self) -> bool:
        """Fair mode's side-by-side replay of the latest round (through the session's replay player)."""
        if self._closed or not self.session.replay(self._on_replay_event):
            return False
        self._timer.start()
        return True

    def stop(self) -> None:
        """Esc: the round stops; a replay jumps to its end."""
        self.session.stop()

    # --- from the session's threads -------------------------------------------

    def _push(self, kind: str, index: int, payload: Any) -> None:
        self._queue.append((kind, index, payload))
        self._wake_gui()

    def _wake_gui(self) -> None:
        try:
            self._wake.emit()
        except RuntimeError:
            pass  # the window went without closing this adapter (a replay's window at exit): nobody to tell

    def _on_state(self, state: RoundState) -> None:
        self._queue.append(("state", -1, state))
        if threading.current_thread() is self._gui_thread:
            # Changed by the GUI thread itself (a Send, a load): the window sees it before it goes on.
            self._drain()
        else:
            self._wake_gui()

    def _on_load_done(self, index: int, outcome: p.Loaded | str) -> None:
        self._push("loaded" if isinstance(outcome, p.Loaded) else "load_failed", index, outcome)

    def _on_event(self, index: int, ev: SessionEvent) -> None:
        if isinstance(ev, RunStarted):
            self._push("started", index, ev)
            return
        self._queue.append(("event", index, ev))
        if isinstance(ev, (p.Finished, p.WorkerError)) or (isinstance(ev, p.Token) and ev.index == 0):
            self._wake_gui()

    def _on_replay_event(self, index: int, ev: SessionEvent) -> None:
        if isinstance(ev, RunStarted):
            self._push("replay_started", index, ev)
            return
        self._queue.append(("replay_event", index, ev))
        if isinstance(ev, (p.Finished, p.WorkerError)):
            self._wake_gui()

    # --- on the GUI thread ------------------------------------------------------

    def _drain(self) -> None:
        if self._closed or self._draining:
            return  # a drain in progress takes what was queued meanwhile
        self._draining = True
        try:
            self._drain_queue()
        finally:
            self._draining = False
        if not (self.state.in_progress or self.state.loading):
            self._timer.stop()

    def _drain_queue(self) -> None:
        batches: dict[tuple[str, int], list[p.Event]] = {}
        signals = {"event": self.events, "replay_event": self.replay_events}

        def flush() -> None:
            for (kind, i), batch in batches.items():
                signals[kind].emit(i, batch)
            batches.clear()

        while self._queue and not self._closed:
            kind, index, payload = self._queue.popleft()
            if kind in signals:
                batches.setdefault((kind, index), []).append(payload)
                continue
            flush()
            handler: Callable[[], None] = {
                "state": lambda: self._set_state(payload),
                "started": lambda: self.run_started.emit(index, payload),
                "loaded": lambda: self.loaded.emit(index, payload),
                "load_failed": lambda: self.load_failed.emit(index, payload),
                "replay_started": lambda: self.replay_started.emit(index, payload),
            }[kind]
            handler()
        flush()

    def _set_state(self, state: RoundState) -> None:
        # The ends of a round and of a replay are changes of state: told with it, in one step.
        before, self.state = self.state, state
        self.state_changed.emit(state)
        if state.result is not None and state.result is not before.result:
            self.round_finished.emit(state.result)
        if before.replaying and not state.replaying:
            self.replay_finished.emit(state.result)

    # --- shutdown ----------------------------------------------------------------

    def begin_close(self) -> None:
        """The GUI-thread half of close: no more batches, ask everything to stop."""
        self._closed = True
        self._timer.stop()
        self.session.stop()

    def release(self) -> None:
        """The blocking half of close (any thread): wait for the round, free the models."""
        self.session.wait(1.0)
        self.session.close()


__all__ = ["SessionRunner"]
