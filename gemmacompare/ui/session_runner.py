"""The window's door to the compare session: a thin Qt adapter.

The session calls back on its own threads; this adapter only appends to a
queue, and a 100 ms timer on the GUI thread drains it, emitting one signal
per pane per batch, so painting never happens per token and the GUI never
waits on a model. Each drain lays out and paints new text (several ms in
software), and every CPU millisecond the window spends is taken from the
models in race mode, so text is shown ten times a second. What a user waits
for (a run's start, its first token, the end of a reply or round, a load, an
error) wakes the drain at once instead. The timer runs only while a job does:
an idle window does not wake.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable, Mapping

from PySide6.QtCore import QObject, QTimer, Signal

from gemmacompare.engine.api import (
    CompareResult,
    CompareSession,
    Participant,
    RunSettings,
    RunStarted,
    SessionBusy,
    SessionEvent,
)
from gemmacompare.engine.api import protocol as p

log = logging.getLogger(__name__)

BATCH_INTERVAL_MS = 100


class SessionRunner(QObject):
    loaded = Signal(int, object)  # slot, p.Loaded
    load_failed = Signal(int, str)  # slot, one sentence
    run_started = Signal(int, object)  # slot, RunStarted
    events = Signal(int, list)  # slot, list[p.Event] since the last batch
    round_finished = Signal(object)  # CompareResult, after every pane's last events
    busy_changed = Signal(int, bool)  # slot loading or not
    _wake = Signal()  # from the session's threads: drain now, not at the next tick

    def __init__(self, session: CompareSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._queue: collections.deque[tuple[str, int, Any]] = collections.deque()
        self._loading: set[int] = set()
        self._loaders: list[threading.Thread] = []
        self._round = False
        self._timer = QTimer(self)
        self._timer.setInterval(BATCH_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self._wake.connect(self._drain)
        self._closed = False

    # --- what panes ask -------------------------------------------------------

    def worker(self, index: int) -> Participant:
        return self.session.worker(index)

    def busy(self, index: int) -> bool:
        return index in self._loading or (self._round and index in self.session.state.participants)

    @property
    def round_active(self) -> bool:
        return self._round

    def load(self, index: int, path: str, settings: RunSettings) -> bool:
        if self.busy(index) or self._closed:
            return False
        self._loading.add(index)
        self.session.claim(index, path)  # before the thread: the other panes' loads see it
        self._timer.start()
        self.busy_changed.emit(index, True)

        def job() -> None:
            try:
                ev = self.session.load_one(index, path, settings.load, settings.server)
                self._queue.append(("loaded", index, ev))
            except p.WorkerFailed as exc:
                self._queue.append(("load_failed", index, exc.error.message))
            except Exception as exc:  # noqa: BLE001 - turned into a message, never a dead thread
                log.exception("loading %s", path)
                self._queue.append(("load_failed", index, f"Loading failed unexpectedly ({type(exc).__name__}); "
                                                          "see the log for details."))
            finally:
                self._queue.append(("load_done", index, None))
                self._wake.emit()

        t = threading.Thread(target=job, name=f"load-{index}", daemon=True)
        self._loaders = [x for x in self._loaders if x.is_alive()] + [t]
        t.start()
        return True

    def start_round(self, commands: Mapping[int, p.GenerateCommand], mode: str, threads_total: int) -> bool:
        if self._round or self._closed or any(i in self._loading for i in commands):
            return False
        try:
            self.session.start(commands, mode, threads_total, on_event=self._on_event, on_finished=self._on_finished)
        except SessionBusy:
            return False
        self._round = True
        self._timer.start()
        return True

    def stop(self) -> None:
        self.session.stop()

    # --- from the session's threads -------------------------------------------

    def _on_event(self, index: int, ev: SessionEvent) -> None:
        if isinstance(ev, RunStarted):
            self._queue.append(("started", index, ev))
            self._wake.emit()
            return
        self._queue.append(("event", index, ev))
        if isinstance(ev, (p.Finished, p.WorkerError)) or (isinstance(ev, p.Token) and ev.index == 0):
            self._wake.emit()

    def _on_finished(self, result: CompareResult) -> None:
        self._queue.append(("round", -1, result))
        self._wake.emit()

    # --- on the GUI thread ------------------------------------------------------

    def _drain(self) -> None:
        if self._closed:
            return
        batches: dict[int, list[p.Event]] = {}

        def flush() -> None:
            for i, batch in batches.items():
                self.events.emit(i, batch)
            batches.clear()

        while self._queue:
            kind, index, payload = self._queue.popleft()
            if kind == "event":
                batches.setdefault(index, []).append(payload)
                continue
            flush()
            handler: Callable[[], None] = {
                "started": lambda: self.run_started.emit(index, payload),
                "loaded": lambda: self.loaded.emit(index, payload),
                "load_failed": lambda: self.load_failed.emit(index, payload),
                "load_done": lambda: self._load_done(index),
                "round": lambda: self._round_done(payload),
            }[kind]
            handler()
        flush()
        if not self._round and not self._loading:
            self._timer.stop()

    def _load_done(self, index: int) -> None:
        self._loading.discard(index)
        self.busy_changed.emit(index, False)

    def _round_done(self, result: CompareResult) -> None:
        self._round = False
        self.round_finished.emit(result)

    # --- shutdown ----------------------------------------------------------------

    def begin_close(self) -> None:
        """The GUI-thread half of close: no more batches, ask everything to stop."""
        self._closed = True
        self._timer.stop()
        self.session.stop()

    def release(self) -> None:
        """The blocking half of close (any thread): wait for the round, free the models."""
        for t in self._loaders:
            t.join(1.0)
        self.session.wait(1.0)
        self.session.close()
