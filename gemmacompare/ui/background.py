"""Long work off the GUI thread: progress and the outcome come back as signals.

The work is a plain function of the engine (a rerun, a claim check) that takes a
progress callback; it runs on a thread of its own, and whatever it returns or
raises arrives on the GUI thread through `done`, so an exception becomes a
sentence in the window, never a dead thread (the napari worker's shape).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QProgressBar, QWidget

from .plain_label import plain_label

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]


class BackgroundJob(QObject):
    progress = Signal(str, int, int)  # message, steps done, steps in all
    done = Signal(object)  # what the work returned, or the exception it raised

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._busy = False
        self.done.connect(self._finished)  # first: the window's own handlers then see it ended

    @property
    def running(self) -> bool:
        """Started and its outcome not yet delivered on the GUI thread."""
        return self._busy

    def _finished(self, _outcome: object) -> None:
        self._busy = False

    def start(self, work: Callable[[ProgressFn], Any], name: str) -> None:
        def emit(signal: Any, *args: Any) -> None:
            try:
                signal.emit(*args)
            except RuntimeError:  # the window that asked was closed meanwhile: nobody to tell
                log.info("%s: its window is gone", name)

        def body() -> None:
            try:
                out: Any = work(lambda message, done, total: emit(self.progress, message, done, total))
            except Exception as exc:  # noqa: BLE001 - handed to the window as an outcome, never a dead thread
                log.info("%s failed", name, exc_info=True)
                out = exc
            emit(self.done, out)

        self._busy = True
        self._thread = threading.Thread(target=body, name=name, daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["BackgroundJob"]


class JobDialog(QDialog):
    """A dialog that runs one engine job (a rerun, a claim check) off the GUI thread: its
    progress bar and status line, one-sentence answers, and closing it stops the job.
    Subclasses place `progress` and `status` in their layout and define `stop`,
    `_on_progress` and `_on_done`."""

    def __init__(self, parent: QWidget | None = None, busy_reason: Callable[[], str] | None = None) -> None:
        super().__init__(parent)
        self.busy_reason = busy_reason or (lambda: "")  # why the machine is taken now, or ""
        self.worker = BackgroundJob(self)
        self.worker.progress.connect(self._on_progress)
        self.worker.done.connect(self._on_done)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = plain_label("")

    @property
    def running(self) -> bool:
        return self.worker.running

    def stop(self) -> None:
        raise NotImplementedError

    def _on_progress(self, message: str, done: int, total: int) -> None:
        raise NotImplementedError

    def _on_done(self, outcome: object) -> None:
        raise NotImplementedError

    def _say(self, sentence: str) -> bool:
        self.status.setText(sentence)
        return False

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802
        # Closing stops the job: its models are freed, no process is left behind.
        self.stop()
        self.worker.wait(5.0)
        super().closeEvent(ev)
