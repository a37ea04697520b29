"""The window's *Speculation A/B* mode: one model with and without its draft, side by side.

Send in this mode runs pane A's model, with the speculation its ⚙ sets (a draft model or
n-gram lookup), plain and speculating in fair mode, a few times after a warm-up
(engine/speculation_ab.py, the same job as `compare --ab`). The two replies of the last
repetition are shown side by side with their ms/token, and below them the speed-up with
its interval, acceptance, mean accepted length, per-position rate, draft and verify time.
The tokens the model took from accepted drafts can be tinted (a toggle).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    AB_RUNS,
    ABFailed,
    ABResult,
    RunRecord,
    RunSettings,
    SpeculationAB,
    compare_run_dict,
    is_server_ref,
    write_run_file,
)

from .background import JobDialog, ProgressFn
from .plain_label import plain_label, widget_text

if TYPE_CHECKING:
    from .pane import ModelPane

log = logging.getLogger(__name__)

MODE_LABEL = "Speculation A/B"

TINT = "#fde68a"  # accepted draft tokens: a light amber behind the text, readable in both themes' reply boxes


def tinted_html(rec: RunRecord, accepted: set[int]) -> str:
    """The reply as HTML, each token's text escaped (a model's text is a stranger's), the
    tokens in `accepted` on a tinted background."""
    parts = []
    for t in rec.tokens:
        text = html.escape(t.thinking + t.answer).replace("\n", "<br>")
        parts.append(f'<span style="background-color:{TINT}">{text}</span>' if t.index in accepted and text
                     else text)
    return "".join(parts)


class SpeculationABDialog(JobDialog):
    """The A/B of one model's speculation: both replies, the figures, the tint toggle."""

    measured = Signal()  # the job ended (figures, a sentence or a stop)

    def __init__(self, path: str, name: str, settings: RunSettings, prompt: str, runs: int,
                 parent: QWidget | None = None, busy_reason: Callable[[], str] | None = None) -> None:
        super().__init__(parent, busy_reason)
        self.setWindowTitle(f"Speculation A/B: {name}")
        self.path, self.prompt = path, prompt
        self.job = SpeculationAB(path, settings, prompt, runs=runs)
        self.ab_result: ABResult | None = None
        self._build(name)
        self.resize(900, 600)

    def _build(self, name: str) -> None:
        lay = QVBoxLayout(self)
        lay.addWidget(plain_label(f"{name}: the same prompt without and with speculation, fair (one after the "
                                  "other, all threads), the last of the runs shown"))
        grid = QGridLayout()
        self.titles = [plain_label(label) for label in self.job.labels]
        self.replies = [QTextEdit(readOnly=True) for _ in self.job.labels]
        self.speeds = [plain_label("") for _ in self.job.labels]
        for k in range(2):
            grid.addWidget(self.titles[k], 0, k)
            grid.addWidget(self.replies[k], 1, k)
            grid.addWidget(self.speeds[k], 2, k)
        lay.addLayout(grid, 1)
        self.tint = QCheckBox("Tint the tokens taken from accepted drafts")
        self.tint.setChecked(True)
        self.tint.toggled.connect(self._show_replies)
        lay.addWidget(self.tint)
        self.figures = plain_label("")
        lay.addWidget(self.figures)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.save_button = QPushButton("Save run…")
        self.save_button.clicked.connect(self.save_dialog)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for b in (self.stop_button, self.save_button, close):
            buttons.addWidget(b)
        lay.addLayout(buttons)

    # --- running ------------------------------------------------------------------

    def start(self) -> bool:
        if self.running:
            return False
        reason = self.busy_reason()
        if reason:
            return self._say(reason)
        self.progress.setRange(0, 0)
        self.status.setText("Loading the model twice, plain and speculating…")
        job = self.job

        def work(progress: ProgressFn) -> object:
            return job.run(progress)

        self.worker.start(work, "speculation-ab")
        self._update_buttons()
        return True

    def stop(self) -> None:
        if self.running:
            self.job.stop()
            self.status.setText("Stopping…")

    def _on_progress(self, message: str, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(widget_text(message[0].upper() + message[1:] if message else ""))

    def _on_done(self, outcome: object) -> None:
        self.progress.setRange(0, 1)
        if isinstance(outcome, ABResult):
            self.ab_result = outcome
            self.progress.setValue(1 if outcome.per_run_ms else 0)
            stopped = " (stopped early)" if outcome.stopped and outcome.per_run_ms else ""
            self.status.setText(f"{len(outcome.per_run_ms)} fair runs of each done{stopped}.")
            self.figures.setText(widget_text("\n".join(outcome.lines())))
            self._show_replies()
        elif isinstance(outcome, ABFailed):
            self._say(outcome.message)
        else:
            log.error("speculation A/B: %r", outcome)
            self._say(f"The A/B failed unexpectedly ({type(outcome).__name__}); see the log for details.")
        self._update_buttons()
        self.measured.emit()

    def _show_replies(self) -> None:
        last = self.ab_result.last if self.ab_result else None
        if last is None:
            return
        for k, rec in enumerate(last.runs[:2]):
            fin = rec.finished
            accepted = set(fin.draft.accepted_tokens) if fin and fin.draft and self.tint.isChecked() else set()
            self.replies[k].setHtml(tinted_html(rec, accepted))
            st = rec.stats()
            self.speeds[k].setText(f"{st.ms_per_token:.2f} ms/token (last run), {st.n_tokens} tokens"
                                   if st.ms_per_token else "no speed: fewer than two tokens")

    # --- saving ---------------------------------------------------------------------

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the A/B's run", "speculation-ab.gcrun",
                                              "gemmacompare runs (*.gcrun *.gz)")
        if path:
            self.save_run(Path(path))

    def save_run(self, path: Path) -> bool:
        """The last repetition and every repetition's figures as a run file; one sentence either way."""
        if self.ab_result is None or self.ab_result.last is None:
            return self._say("Nothing to save yet: run the A/B first.")
        try:
            doc = compare_run_dict(self.ab_result.last, list(self.job.labels), [self.path, self.path],
                                   list(self.job.sides), self.prompt)
            doc["ab"] = self.ab_result.to_dict()
            write_run_file(path, doc)
        except OSError as exc:
            log.info("saving the A/B's run to %s: %s", path, exc)
            return self._say(f"Could not write {path.name} ({exc.strerror or 'error'}); pick another folder.")
        self.status.setText(f"Saved {path.name}: open it with File ▸ Open run… or `gemmacompare replay`.")
        return True

    def _update_buttons(self) -> None:
        running = self.running
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.ab_result is not None and self.ab_result.last is not None)


def open_ab(panes: Sequence[ModelPane], text: str, parent: QWidget,
            busy_reason: Callable[[], str]) -> SpeculationABDialog | str:
    """Send in the A/B mode: the first ready pane's model (left to right) plain and speculating,
    in a window of its own; or one sentence for why not."""
    pane = next((x for x in panes if x.ready and x.model_path), None)
    if pane is None or not pane.model_path:
        return "No model is ready yet: wait for loading to finish or pick a model."
    if is_server_ref(pane.model_path):
        return "The Speculation A/B runs a local model file; a server's speed is not this machine's."
    load = pane.settings.load
    if load.speculation == "off" and not load.draft_model:
        return (f"The Speculation A/B runs {pane.display_name} with and without a draft: choose a draft model "
                "or n-gram lookup under Speculative decoding in its ⚙ first.")
    dlg = SpeculationABDialog(pane.model_path, pane.display_name, pane.settings, text, AB_RUNS, parent, busy_reason)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    dlg.start()
    return dlg


__all__ = ["MODE_LABEL", "SpeculationABDialog", "open_ab", "tinted_html"]
