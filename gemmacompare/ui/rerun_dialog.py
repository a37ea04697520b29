"""Rerun on this machine: a saved run's models found here, run with its settings, theirs beside ours.

The work is engine/rerun.py's, the same as `gemmacompare rerun`: each model
found by its file hash, then by name in the model library; a model that is not
here and whose file names a Hub repo is downloaded only when the user says
yes. The threads are this machine's (the notes say so); the table shows the
recorded and the measured figures side by side, with 95% intervals when there
are repetitions, and the notes the ratios and whether greedy answers agree.
Everything from the file is shown as plain text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    Measured,
    ModelMissing,
    RerunFailed,
    RerunJob,
    RerunPlan,
    RerunRefused,
    RunFile,
    check_rerunnable,
    plan_rerun,
    rerun_report,
)

from .background import JobDialog, ProgressFn
from .plain_label import plain_label, widget_text

if TYPE_CHECKING:
    from .get_models import GetModelsDialog

log = logging.getLogger(__name__)

DEFAULT_RUNS = 3  # three repetitions give an interval; a demo pair takes seconds each


class RerunDialog(JobDialog):
    started_rerun = Signal()  # the rerun began (its work is off the GUI thread)
    finished_rerun = Signal()  # the rerun ended: a report, a sentence, or stopped

    def __init__(self, run: RunFile, file_name: str, parent: QWidget | None = None,
                 busy_reason: Callable[[], str] | None = None) -> None:
        super().__init__(parent, busy_reason)
        self.run = run
        self.file_name = file_name
        self.extra: list[Path] = []  # files downloaded from the Hub at the user's word
        self.plan: RerunPlan | None = None
        self.job: RerunJob | None = None
        self.measured: Measured | None = None
        self.report: dict[str, Any] | None = None
        self.get_models: GetModelsDialog | None = None
        self._stop_asked = False
        self.setWindowTitle(f"{file_name} — rerun on this machine — gemmacompare")
        self.setObjectName("rerunDialog")
        self._build()
        self.resize(900, 560)

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        names = ", ".join(f"{m.label}: {m.display_name}" for m in self.run.models)
        intro = plain_label(widget_text(f"Reruns {names} here with the recorded settings (threads: this machine's), "
                                        f"then shows theirs and yours side by side. Recorded on {self.run.whose()}."))
        intro.setObjectName("rerunIntro")
        lay.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("Repetitions:"))
        self.runs_spin = QSpinBox()
        self.runs_spin.setRange(1, 50)
        self.runs_spin.setValue(DEFAULT_RUNS)
        self.runs_spin.setToolTip("Two or more give a 95% interval for each figure and ratio")
        row.addWidget(self.runs_spin)
        self.start_button = QPushButton("Rerun here")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(self.progress)
        self.status.setText("Press Rerun here: nothing runs before that.")
        self.status.setObjectName("rerunStatus")
        lay.addWidget(self.status)
        self.plan_notes = plain_label("")
        self.plan_notes.setObjectName("rerunPlan")
        lay.addWidget(self.plan_notes)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("rerunTable")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        lay.addWidget(self.table, 1)
        self.verdict = plain_label("")
        self.verdict.setObjectName("rerunVerdict")
        lay.addWidget(self.verdict)
        self._update_buttons()

    # --- running ---------------------------------------------------------------

    def start(self) -> bool:
        """Plan (find the models) and run, off the GUI thread; False with one sentence when it cannot start."""
        if self.running:
            return False
        try:
            check_rerunnable(self.run)
        except RerunRefused as exc:
            return self._say(exc.message)
        reason = self.busy_reason()
        if reason:
            return self._say(reason)
        runs = self.runs_spin.value()
        self.table.setRowCount(0)
        self.verdict.setText("")
        self.plan_notes.setText("")
        self.progress.setRange(0, 0)  # busy until the models are found and loaded
        self.status.setText("Looking for the models on this machine (by file hash, then by name)…")
        run, extra = self.run, list(self.extra)

        self._stop_asked = False

        def work(progress: ProgressFn) -> object:
            plan = plan_rerun(run, extra)
            progress("\n".join(plan.found + plan.notes), -1, runs)
            self.plan = plan
            if self._stop_asked:
                return Measured(stopped=True)
            self.job = RerunJob(run, plan, runs)
            return self.job.run(progress)

        self.worker.start(work, "rerun")
        self._update_buttons()
        self.started_rerun.emit()
        return True

    def stop(self) -> None:
        if not self.running:
            return
        self._stop_asked = True
        job = self.job
        if job is not None:
            job.stop()
        self.status.setText("Stopping…")

    def _on_progress(self, message: str, done: int, total: int) -> None:
        if done < 0:  # the plan: which file each model is, and the threads adapted to this machine
            self.plan_notes.setText(message)
            return
        if message.startswith("run "):
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.status.setText(message[0].upper() + message[1:] if message else "")

    def _on_done(self, outcome: object) -> None:
        self.job = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if isinstance(outcome, Measured) and outcome.runs else 0)
        if isinstance(outcome, ModelMissing) and outcome.hub_repo:
            self._say(f"{outcome.message}; its file says it came from the Hub repo {outcome.hub_repo}.")
            self._update_buttons()
            self.offer_pull(outcome)
        elif isinstance(outcome, (RerunRefused, RerunFailed)):
            self._say(outcome.message.rstrip(".") + "; nothing more was run.")
        elif isinstance(outcome, Measured):
            self._show(outcome)
        else:
            log.error("rerun: %r", outcome)
            self._say(f"The rerun failed unexpectedly ({type(outcome).__name__}); see the log for details.")
        self._update_buttons()
        self.finished_rerun.emit()

    def _show(self, measured: Measured) -> None:
        self.measured = measured
        if not measured.runs:
            self.status.setText("Stopped before a run finished: nothing was measured.")
            return
        report = rerun_report(self.run, measured)
        self.report = report
        # A conversation is measured per turn: its turns' table, recorded beside measured.
        rows = report.get("turn_table") or report["table"]
        self.table.setColumnCount(len(rows[0]))
        self.table.setHorizontalHeaderLabels(rows[0])
        self.table.setRowCount(len(rows) - 1)
        for r, row in enumerate(rows[1:]):
            for c, cell in enumerate(row):
                item = QTableWidgetItem(cell)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        n = len(measured.runs)
        stopped = " (stopped early)" if measured.stopped else ""
        self.status.setText(f"Done: {n} run{'s' if n != 1 else ''} here{stopped}; "
                            "there = recorded on their machine, here = measured now"
                            + (", mean [95% interval]." if n > 1 else "."))
        self.verdict.setText("\n".join([*report["notes"], *report.get("turn_notes", [])]))

    # --- a model that is not here ------------------------------------------------

    def offer_pull(self, missing: ModelMissing) -> bool:
        """Ask before anything is downloaded; yes opens the Hub dialog on the recorded repo, and the
        rerun starts again once the file is in."""
        # Every word here but ours is the run file's: plain text, bidi and control characters shown, not obeyed
        # (as rich text a label of <h1> or a link whose text names another repo would be rendered).
        box = QMessageBox(QMessageBox.Icon.Question, "Model not on this machine",
                          widget_text(f"{missing.message}.\n\nIts run file says it came from the Hugging Face Hub "
                                      f"repo {missing.hub_repo}"
                                      + (f" (file {missing.hub_file})" if missing.hub_file else "")
                                      + ". Download it now? Nothing is downloaded unless you say yes.", 2000),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("pullQuestion")
        box.setTextFormat(Qt.TextFormat.PlainText)
        self.pull_question = box
        answer = box.exec()
        if answer != QMessageBox.StandardButton.Yes:
            self._say(f"{missing.message}; not downloaded, so nothing was run.")
            return False
        from .get_models import GetModelsDialog  # only when the user wants a download

        dlg = GetModelsDialog(self, suggestions=[])
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.repo.setText(missing.hub_repo)
        dlg.downloaded.connect(self._on_downloaded)
        self.get_models = dlg
        dlg.show()
        dlg.list_files()
        return True

    def _on_downloaded(self, path: str) -> None:
        self.extra.append(Path(path))
        self.start()

    # --- helpers ---------------------------------------------------------------------

    def _update_buttons(self) -> None:
        self.start_button.setEnabled(not self.running)
        self.runs_spin.setEnabled(not self.running)
        self.stop_button.setEnabled(self.running)



__all__ = ["RerunDialog"]
