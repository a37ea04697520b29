"""Drives one ModelWorker from a background thread and hands events to the GUI.

The worker thread only appends events to a queue; a 100 ms timer on the GUI
thread drains it and emits one `events` signal per batch, so painting never
happens per token and the GUI never waits on a model. Each drain lays out and
paints new text (several ms in software), and every CPU millisecond the window
spends is taken from the models in race mode, so text is shown ten times a
second; Qt fires both panes' timers together, so one paint pass covers both.
What a user waits for (the first token, the end of a reply, a load, an error)
wakes the drain at once instead.
"""

from __future__ import annotations

import collections
import logging
import threading

from PySide6.QtCore import QObject, QTimer, Signal

from gemmacompare.engine import protocol as p
from gemmacompare.engine.model_worker import ModelWorker, WorkerFailed
from gemmacompare.engine.remote import RemoteSettings, engine_for

log = logging.getLogger(__name__)

BATCH_INTERVAL_MS = 100


class PaneRunner(QObject):
    loaded = Signal(object)  # p.Loaded
    load_failed = Signal(str)  # one sentence
    events = Signal(list)  # list[p.Event] since the last batch
    busy_changed = Signal(bool)
    _wake = Signal()  # from the job thread: drain now, not at the next tick

    def __init__(self, label: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.worker = ModelWorker(label)
        self._queue: collections.deque = collections.deque()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._timer = QTimer(self)
        self._timer.setInterval(BATCH_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self._wake.connect(self._drain)
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._busy

    def _run(self, fn) -> bool:
        if self._busy or self._closed:
            return False
        self._busy = True
        # The timer runs only while a job does: an idle window does not wake.
        self._timer.start()
        self.busy_changed.emit(True)
        self._thread = threading.Thread(target=self._guard, args=(fn,), name=f"pane-{self.label}", daemon=True)
        self._thread.start()
        return True

    def _guard(self, fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - turned into a message, never a dead thread
            log.exception("pane %s", self.label)
            self._queue.append(("load_failed", f"Unexpected error: {exc}; see the log for details."))
        finally:
            self._queue.append(("idle", None))
            self._wake.emit()

    def load(self, path: str, settings: p.LoadSettings, remote: RemoteSettings | None = None) -> bool:
        if self._busy or self._closed:
            return False
        engine = engine_for(path, self.label, remote)
        # A GGUF file or a model on a server; a server model takes the pane's current timeouts.
        if type(engine) is not type(self.worker) or engine.remote:
            self.worker.close()
            self.worker = engine

        def job() -> None:
            self.worker.close()
            try:
                ev = self.worker.load(path, settings)
            except WorkerFailed as exc:
                self._queue.append(("load_failed", exc.error.message))
                return
            self._queue.append(("loaded", ev))

        return self._run(job)

    def generate(self, cmd: p.GenerateCommand) -> bool:
        def job() -> None:
            first = True
            for ev in self.worker.generate(cmd):
                self._queue.append(("event", ev))
                if first and isinstance(ev, p.Token):
                    first = False
                    self._wake.emit()

        return self._run(job)

    def stop(self) -> None:
        self.worker.stop()

    def close(self) -> None:
        """Stop, then free the model; safe to call twice. GUI thread only."""
        self.begin_close()
        self.release()

    def begin_close(self) -> None:
        """The GUI-thread half of close: no more batches, ask the worker to stop."""
        self._closed = True
        self._timer.stop()
        self.worker.stop()

    def release(self) -> None:
        """The blocking half of close (any thread): wait for the job, free the model."""
        if self._thread is not None:
            self._thread.join(1.0)
        self.worker.close(timeout=0.5)

    def _drain(self) -> None:
        if not self._queue or self._closed:
            return
        batch: list[p.Event] = []
        while self._queue:
            kind, payload = self._queue.popleft()
            if kind == "event":
                batch.append(payload)
                continue
            if batch:
                self.events.emit(batch)
                batch = []
            if kind == "loaded":
                self.loaded.emit(payload)
            elif kind == "load_failed":
                self.load_failed.emit(payload)
            elif kind == "idle":
                self._timer.stop()
                self._busy = False
                self.busy_changed.emit(False)
        if batch:
            self.events.emit(batch)
