"""Check a claim: "A 45 ms/token, B 110" measured on this machine, with a 95% interval.

The measuring and the verdict are engine/claim.py's, the same code as
`gemmacompare claim`: N fair repetitions of a fixed length after one warm-up,
then one sentence saying whether the claimed ratio lies inside the measured
95% interval, with the figures. The result can be saved as a run file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    MS_PER_TOKEN,
    TOKENS_PER_S,
    ClaimCheck,
    ClaimedFigure,
    ClaimFailed,
    ClaimResult,
    claim_run_dict,
    claim_text,
    claimed_figure,
    is_server_ref,
    write_run_file,
)
from gemmacompare.state.defaults import CLAIM_MAX_TOKENS, CLAIM_RUNS

from .background import JobDialog, ProgressFn
from .plain_label import plain_label

log = logging.getLogger(__name__)

LABELS = ("A", "B")


class ClaimDialog(JobDialog):
    checked = Signal()  # a check ended: a verdict, a sentence, or stopped

    def __init__(self, choices: Sequence[tuple[str, str]], defaults: Sequence[str], parent: QWidget | None = None,
                 busy_reason: Callable[[], str] | None = None) -> None:
        """`choices`: (name, path) of the local models to offer; `defaults`: the paths picked at first."""
        super().__init__(parent, busy_reason)
        self.setWindowTitle("Check a claim — gemmacompare")
        self.setObjectName("claimDialog")
        self.check: ClaimCheck | None = None
        self.claim_result: ClaimResult | None = None
        self._claim: list[ClaimedFigure] = []
        self._build(choices, defaults)
        self.resize(760, 420)

    def _build(self, choices: Sequence[tuple[str, str]], defaults: Sequence[str]) -> None:
        lay = QVBoxLayout(self)
        lay.addWidget(plain_label("Enter the figures someone claimed for two models. Both run here one after the other "
                             "(fair mode, all threads each) for a fixed number of tokens, several times; the claim "
                             "holds when its ratio lies inside the 95% interval of the ratios measured here "
                             "(absolute speeds differ between machines, ratios travel)."))
        grid = QGridLayout()
        for c, head in enumerate(("", "Model", "Name in the claim", "Claimed", "Unit")):
            grid.addWidget(QLabel(f"<b>{head}</b>"), 0, c)
        self.model_boxes: list[QComboBox] = []
        self.name_edits: list[QLineEdit] = []
        self.figure_edits: list[QLineEdit] = []
        self.unit_boxes: list[QComboBox] = []
        for k, label in enumerate(LABELS):
            box = QComboBox()
            box.setObjectName(f"claimModel{label}")
            box.setMinimumContentsLength(28)
            for name, path in choices:
                box.addItem(name, path)
                box.setItemData(box.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
            want = defaults[k] if k < len(defaults) else ""
            at = box.findData(want)
            box.setCurrentIndex(at if at >= 0 else (k if box.count() > k else box.count() - 1))
            name_edit = QLineEdit(label)
            name_edit.setMaxLength(40)
            figure = QLineEdit()
            figure.setObjectName(f"claimFigure{label}")
            figure.setPlaceholderText("e.g. 45")
            unit = QComboBox()
            unit.addItems([MS_PER_TOKEN, TOKENS_PER_S])
            for c, w in enumerate((QLabel(label), box, name_edit, figure, unit)):
                grid.addWidget(w, 1 + k, c)
            self.model_boxes.append(box)
            self.name_edits.append(name_edit)
            self.figure_edits.append(figure)
            self.unit_boxes.append(unit)
        lay.addLayout(grid)
        row = QHBoxLayout()
        row.addWidget(QLabel("Repetitions:"))
        self.runs_spin = QSpinBox()
        self.runs_spin.setRange(1, 50)
        self.runs_spin.setValue(CLAIM_RUNS)
        self.runs_spin.setToolTip("Fair runs of both models; 3 or more give an interval")
        row.addWidget(self.runs_spin)
        row.addWidget(QLabel("Tokens per run:"))
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(2, 4096)
        self.tokens_spin.setValue(CLAIM_MAX_TOKENS)
        row.addWidget(self.tokens_spin)
        row.addStretch(1)
        self.check_button = QPushButton("Check")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.save_button = QPushButton("Save as run file…")
        self.save_button.setToolTip("The last run, every run's figures and the verdict, as a .gcrun file")
        self.save_button.clicked.connect(self.save_dialog)
        for b in (self.check_button, self.stop_button, self.save_button):
            row.addWidget(b)
        lay.addLayout(row)
        lay.addWidget(self.progress)
        self.status.setObjectName("claimStatus")
        lay.addWidget(self.status)
        self.verdict = plain_label("")
        self.verdict.setObjectName("claimVerdict")
        lay.addWidget(self.verdict, 1)
        self._update_buttons()

    # --- input --------------------------------------------------------------------

    def _read(self) -> tuple[list[ClaimedFigure], list[str]] | str:
        """The claim and the model files, or one sentence saying what is missing or wrong."""
        figures, paths = [], []
        for k, label in enumerate(LABELS):
            path = self.model_boxes[k].currentData()
            if not path:
                return f"Pick a model for {label} first (open one in a pane, or add a folder of models)."
            if is_server_ref(str(path)) or not Path(str(path)).is_file():
                return f"{label} is not a model file here; a claim is checked on local model files."
            name = self.name_edits[k].text().strip() or label
            if "=" in name or any(ch.isspace() for ch in name):
                return f"The name for {label} must be one word without '='; use e.g. {label} or Gemma."
            text = self.figure_edits[k].text().strip().lower().removesuffix("ms").removesuffix("t/s").strip()
            try:
                value = float(text.replace(",", "."))
            except ValueError:
                shown = self.figure_edits[k].text().strip()[:20]
                return (f"Type the claimed figure for {label} as a number, e.g. 45"
                        + (f" (not '{shown}')." if shown else "."))
            figure = claimed_figure(name, value, self.unit_boxes[k].currentText())
            if isinstance(figure, str):
                return figure[0].upper() + figure[1:]
            figures.append(figure)
            paths.append(str(path))
        if len({f.name for f in figures}) < len(figures):
            return "Give the two models different names in the claim."
        return figures, paths

    # --- running ------------------------------------------------------------------

    def start(self) -> bool:
        if self.running:
            return False
        read = self._read()
        if isinstance(read, str):
            return self._say(read)
        reason = self.busy_reason()
        if reason:
            return self._say(reason)
        claim, paths = read
        self._claim = claim
        self.claim_result = None
        check = ClaimCheck(claim, paths, self.runs_spin.value(), self.tokens_spin.value(), labels=list(LABELS))
        self.check = check
        self.verdict.setText("")
        self.progress.setRange(0, 0)
        self.status.setText("Loading both models…")

        def work(progress: ProgressFn) -> object:
            return check.run(progress)

        self.worker.start(work, "claim")
        self._update_buttons()
        return True

    def stop(self) -> None:
        if self.running and self.check is not None:
            self.check.stop()
            self.status.setText("Stopping…")

    def _on_progress(self, message: str, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(message[0].upper() + message[1:] if message else "")

    def _on_done(self, outcome: object) -> None:
        self.progress.setRange(0, 1)
        if isinstance(outcome, ClaimResult):
            self.claim_result = outcome
            self.progress.setValue(1 if outcome.per_run_ms else 0)
            stopped = " (stopped early)" if outcome.stopped and outcome.per_run_ms else ""
            self.status.setText(f"{len(outcome.per_run_ms)} fair runs done{stopped}." if outcome.per_run_ms
                                else "Stopped before a run finished: nothing was measured.")
            self.verdict.setText(outcome.sentence if outcome.per_run_ms else "")
        elif isinstance(outcome, ClaimFailed):
            self._say(outcome.message)
        else:
            log.error("claim: %r", outcome)
            self._say(f"The check failed unexpectedly ({type(outcome).__name__}); see the log for details.")
        self._update_buttons()
        self.checked.emit()

    # --- saving ---------------------------------------------------------------------

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the claim's run", "claim.gcrun",
                                              "gemmacompare runs (*.gcrun *.gz)")
        if path:
            self.save_run(Path(path))

    def save_run(self, path: Path) -> bool:
        """The last run, every run's figures and the verdict as a run file; one sentence either way."""
        if self.check is None or self.claim_result is None or self.claim_result.last is None:
            return self._say("Nothing to save yet: check a claim first.")
        names = [self.model_boxes[k].currentText() for k in range(len(LABELS))]
        try:
            doc = claim_run_dict(self.check, self.claim_result, claim_text(self._claim), names=names)
            write_run_file(path, doc)
        except OSError as exc:
            log.info("saving claim run to %s: %s", path, exc)
            return self._say(f"Could not write {path.name} ({exc.strerror or 'error'}); pick another folder.")
        self.status.setText(f"Saved {path.name}: open it with File ▸ Open run… or `gemmacompare replay`.")
        return True

    # --- helpers ----------------------------------------------------------------------

    def _update_buttons(self) -> None:
        running = self.running
        self.check_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        done = self.claim_result
        self.save_button.setEnabled(not running and done is not None and done.last is not None)



__all__ = ["ClaimDialog"]
