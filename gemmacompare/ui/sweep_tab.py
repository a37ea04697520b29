"""The Context sweep tab: the panes' models at several depths, with progress, Stop and two charts.

The sweep (engine/sweep.py, the same as `gemmacompare sweep`) runs in a session of its own on a
background thread; its progress comes back as a signal and the charts are redrawn from the sweep
so far, so what a stop keeps is what the charts show. Export: both charts as one PNG, and the run file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    ContextSweep,
    SweepResult,
    SweepSettings,
    model_label,
    parse_depths,
    sweep_run_dict,
    sweep_table,
    write_run_file,
)

from .background import BackgroundJob, ProgressFn
from .plain_label import plain_label, widget_text
from .sweep_charts import SweepCharts

log = logging.getLogger(__name__)

DEFAULT_DEPTHS_TEXT = "0,1k,4k"


class SweepTab(QWidget):
    running_changed = Signal(bool)  # the window's session waits while a sweep holds the machine

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models: list[str] = []
        self.names: list[str] = []
        self.job: ContextSweep | None = None
        self.result: SweepResult | None = None
        self.worker = BackgroundJob(self)
        self.worker.progress.connect(self._on_progress)
        self.worker.done.connect(self._on_done)
        self._build()
        self._update_buttons()

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        form = QFormLayout()
        self.models_label = plain_label("the two demo models")
        form.addRow("Models:", self.models_label)
        self.depths_edit = QLineEdit(DEFAULT_DEPTHS_TEXT)
        self.depths_edit.setMaxLength(400)
        self.depths_edit.setToolTip("Tokens already in the context, as llama-bench's -d; k = 1024")
        form.addRow("Depths:", self.depths_edit)
        self.gen_spin = _spin(1, 4096, 64, "tokens generated at each depth (end of generation ignored)")
        self.pp_spin = _spin(1, 65536, 512, "tokens prefilled after each depth")
        self.reps_spin = _spin(1, 100, 3, "repetitions at each depth (3 or more for an interval)")
        self.threads_spin = _spin(0, 512, 0, "each model's threads, alone (0 = all cores)")
        row = QHBoxLayout()
        for name, spin in (("generate", self.gen_spin), ("prefill", self.pp_spin), ("reps", self.reps_spin),
                           ("threads", self.threads_spin)):
            row.addWidget(plain_label(name))
            row.addWidget(spin)
        form.addRow("Tests:", row)
        outer.addLayout(form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run sweep")
        self.stop_button = QPushButton("Stop")
        self.png_button = QPushButton("Export PNG…")
        self.save_button = QPushButton("Save run file…")
        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.png_button.clicked.connect(self._png_dialog)
        self.save_button.clicked.connect(self._save_dialog)
        for b in (self.run_button, self.stop_button, self.png_button, self.save_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        outer.addWidget(self.progress)
        self.status_label = plain_label("Each model alone with all threads, loaded once at its deepest depth.")
        outer.addWidget(self.status_label)
        self.charts = SweepCharts()
        outer.addWidget(self.charts, 1)

    # --- public -------------------------------------------------------------

    def set_models(self, paths: list[str], names: list[str] | None = None) -> None:
        given = [(str(p), n) for p, n in zip(paths, names or [""] * len(paths)) if p]
        self.models = [p for p, _ in given]
        self.names = [n for _, n in given]
        self.models_label.setText("\n".join(n or model_label(p) for p, n in given) or "the two demo models")

    @property
    def running(self) -> bool:
        return self.worker.running

    def settings(self) -> SweepSettings | str:
        """The sweep's settings from the fields, or one sentence saying what is wrong."""
        try:
            depths = parse_depths(self.depths_edit.text())
        except ValueError as exc:
            return f"Depths: {exc}"
        return SweepSettings(depths, self.gen_spin.value(), self.pp_spin.value(), self.reps_spin.value(),
                             self.threads_spin.value())

    @Slot()
    def start(self) -> None:
        if self.running:
            return
        settings = self.settings()
        if isinstance(settings, str):
            self._say(settings)
            return
        paths = list(self.models)
        if not paths:
            try:
                from gemmacompare.models.demo import resolve_model_arg

                paths = [str(resolve_model_arg(None, 0)), str(resolve_model_arg(None, 1))]
            except LookupError as exc:
                self._say(str(exc))
                return
        job = self.job = ContextSweep(paths, settings)
        self.result = None
        self.charts.set_result(None)
        self._say("Loading models…")
        self.progress.setRange(0, 0)

        def work(progress: ProgressFn) -> SweepResult:
            return job.run(lambda pr: progress(pr.message, pr.done, pr.total))

        self.worker.start(work, "context-sweep")
        self.running_changed.emit(True)
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        if self.job is not None and self.running:
            self.job.stop()
            self._say("Stopping… what was measured is kept.")

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop a running sweep and wait for its models to close (window closing)."""
        self.stop()
        self.worker.wait(timeout)

    def save_png(self, path: Path) -> bool:
        try:
            self.charts.save_png(path)
        except OSError as exc:
            log.info("sweep PNG %s: %s", path, exc)
            return self._say(f"Could not write {path.name}; pick another folder.")
        self._say(f"Saved {path.name}.")
        return True

    def save_run(self, path: Path) -> bool:
        if self.result is None:
            return self._say("Run a sweep first: there is nothing to save yet.")
        try:
            write_run_file(path, sweep_run_dict(self.result))
        except OSError as exc:
            log.info("sweep run file %s: %s", path, exc)
            return self._say(f"Could not write {path.name} ({exc.strerror or 'error'}); pick another folder.")
        self._say(f"Saved {path.name}.")
        return True

    # --- progress -----------------------------------------------------------

    @Slot(str, int, int)
    def _on_progress(self, message: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        if not (self.job is not None and self.job.stopped):
            self._say(message)
        if self.job is not None:
            self.charts.set_result(self.job.result)

    @Slot(object)
    def _on_done(self, outcome: object) -> None:
        self.running_changed.emit(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if isinstance(outcome, SweepResult):
            self.result = outcome
            self.charts.set_result(outcome)
            said = [s for m in outcome.models for s in (*m.left_out, *([f"[{m.label}] {m.error}"] if m.error else []))]
            head = "Stopped: what was measured is kept." if outcome.stopped else "Sweep done."
            self._say(" ".join([head, *said, *outcome.notes]))
            log.info("context sweep\n%s", sweep_table(outcome))
        else:
            self._say(f"The sweep failed ({type(outcome).__name__}); see the log for details.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.result is not None)
        self.png_button.setEnabled(not running and self.result is not None)

    def _say(self, sentence: str) -> bool:
        self.status_label.setText(widget_text(sentence))
        return False

    def _png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the sweep's charts", "context-sweep.png", "PNG (*.png)")
        if path:
            self.save_png(Path(path))

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the sweep", "context-sweep.gcrun",
                                              "Run files (*.gcrun *.gcrun.gz)")
        if path:
            self.save_run(Path(path))


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
