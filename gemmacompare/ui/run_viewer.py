"""A saved run, replayed side by side at its recorded speed, in a window of its own.

The run's models are not loaded: the recorded runs play through a light
compare session of replays (the same player as fair mode's replay and
`gemmacompare replay`), and each pane shows what it plays with the same reply
view, stats line and charts as a live run, under a header saying whose machine
and settings they were. Everything in the file came from a stranger: it is
shown as plain text, never rich text.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QVBoxLayout, QWidget

from gemmacompare.engine.api import CompareResult, CompareSession, RunFile, RunMeasured, RunRecord, RunStarted
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.display_names import elide_middle

from .charts import LiveCharts, SeriesData
from .chat_view import ChatView, ReplyWidget
from .rerun_dialog import RerunDialog
from .session_runner import SessionRunner
from .stats_format import stats_line, stats_tooltip
from .theme import PANE_COLOURS


class _ReplayPane(QWidget):
    """One model of the run: its name, the question, its reply played back."""

    def __init__(self, label: str, name: str, colour: str, record: RunRecord, note: str, prompt: str | None) -> None:
        super().__init__()
        self.record = record
        self.note = note
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        head = QHBoxLayout()
        swatch = QLabel()
        swatch.setFixedSize(6, 26)
        swatch.setStyleSheet(f"background:{colour}; border-radius:3px;")
        title = QLabel(f"{label}: {elide_middle(name)}")
        title.setTextFormat(Qt.TextFormat.PlainText)
        head.addWidget(swatch)
        head.addWidget(title, 1)
        lay.addLayout(head)
        self.chat = ChatView()
        lay.addWidget(self.chat, 1)
        if prompt:
            self.chat.add_user(prompt)
        self.reply: ReplyWidget = self.chat.add_reply(elide_middle(name))
        self.shown: RunRecord | None = None  # what the replay has played so far

    def begin(self, started: RunStarted) -> None:
        self.shown = RunRecord(self.record.label, started.t_send)

    def on_events(self, batch: list[p.Event]) -> None:
        """The replay's events since the last batch; the recorded figures at its end."""
        shown, rec = self.shown, self.record
        if shown is None:
            return
        tokens = []
        for ev in batch:
            if not isinstance(ev, RunMeasured):
                shown.add(ev)
                if isinstance(ev, p.Token):
                    tokens.append(ev)
        self.reply.add("".join(x.thinking for x in tokens), "".join(x.answer for x in tokens),
                       sum(x.phase == "thinking" for x in tokens))
        if shown.done:
            self.reply.add("", rec.answer[len(self.reply.answer.text):], 0)
            if rec.finished is not None:
                self.reply.finish(stats_line(rec.stats(), self.note), stats_tooltip(rec))
            elif rec.error is not None:
                self.reply.finish(rec.error.message, "")

    def elapsed(self) -> float:
        shown = self.shown
        if shown is None:
            return 0.0
        if shown.finished is not None:
            return shown.finished.t_end - shown.t_send
        return time.monotonic() - shown.t_send

    def series(self) -> SeriesData:
        rec, shown = self.record, self.shown
        times = np.fromiter((x.t - shown.t_send for x in shown.tokens), float) if shown else np.empty(0)
        samples = rec.memory.samples if rec.memory else []
        mem_t = np.fromiter((s.t - rec.t_send for s in samples), float, len(samples))
        rss = np.fromiter((s.rss / 2**20 for s in samples), float, len(samples))
        return SeriesData(times, mem_t, rss, None, shown is not None and shown.done)


def _extra_line(run: RunFile) -> str:
    """What else the file says about its run: a checked claim's verdict, a blind round's vote."""
    if run.claim and isinstance(run.claim.get("verdict"), str):
        return f"\nA claim checked ({len(run.claim.get('runs_ms_per_token') or [])} fair runs, the last one replayed " \
               f"here): {run.claim['verdict']}"
    arena = run.arena
    if arena and isinstance(arena.get("sides"), list):
        names = dict(zip(run.labels, (m.display_name for m in run.models)))
        sides = ", ".join(f"{side} was {names.get(str(label), str(label))}"
                          for side, label in zip(arena.get("side_names") or [], arena["sides"]))
        return f"\nA blind arena round: vote {arena.get('result', '?')}; {sides}."
    return ""


class RunViewer(QMainWindow):
    finished = Signal()  # the replay reached its end

    def __init__(self, run: RunFile, file_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.setWindowTitle(f"{file_name} — replay — gemmacompare")
        central = QWidget()
        lay = QVBoxLayout(central)
        header = QLabel(f"Recorded on {run.whose()} · {run.mode} mode ({run.thread_split or 'threads as recorded'})"
                        + (" · prompts left out by its author" if run.redacted else "") + _extra_line(run))
        header.setTextFormat(Qt.TextFormat.PlainText)
        header.setWordWrap(True)
        header.setObjectName("runHeader")
        top = QHBoxLayout()
        top.addWidget(header, 1)
        self.rerun_button = QPushButton("Rerun on this machine…  (Ctrl+R)")
        self.rerun_button.setToolTip("Find these models here, run them with the recorded settings and show "
                                     "their figures beside yours")
        self.rerun_button.clicked.connect(self.open_rerun)
        top.addWidget(self.rerun_button)
        lay.addLayout(top)
        self.file_name = file_name
        self.busy_reason: Callable[[], str] = lambda: ""  # the main window says when the machine is taken
        self.rerun_dialog: RerunDialog | None = None
        split = QSplitter(Qt.Orientation.Vertical)
        row = QSplitter(Qt.Orientation.Horizontal)
        self.panes = [
            _ReplayPane(m.label, m.display_name, PANE_COLOURS[k % len(PANE_COLOURS)], m.record,
                        f"{run.mode} mode, recorded", run.prompt)
            for k, m in enumerate(run.models)
        ]
        for pane in self.panes:
            row.addWidget(pane)
        split.addWidget(row)
        self.charts = LiveCharts(run.labels, PANE_COLOURS[: len(run.models)])
        # The window's theme: pyqtgraph's own black plots carried dim dark-grey titles here.
        self.charts.set_dark(getattr(parent, "theme_name", "light") != "light")
        self.charts.sources = [pane.series for pane in self.panes]
        self.charts.now = lambda: max((pane.elapsed() for pane in self.panes), default=0.0)
        split.addWidget(self.charts)
        split.setStretchFactor(0, 2)
        lay.addWidget(split, 1)
        self.banner = QLabel("Replaying at the recorded speed… (Esc: jump to the end)")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setObjectName("raceBanner")
        self.banner.setWordWrap(True)
        lay.addWidget(self.banner)
        self.setCentralWidget(central)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.jump_to_end)
        QShortcut(QKeySequence("Ctrl+R"), self, self.open_rerun)
        # The recorded runs play in a light session of their own: no model is loaded.
        self.runner = SessionRunner(CompareSession.of_records(run.labels, run.records, run.loaded), self)
        self.runner.run_started.connect(lambda k, started: self.panes[k].begin(started))
        self.runner.events.connect(lambda k, batch: self.panes[k].on_events(batch))
        self.runner.round_finished.connect(self._end)

    def start(self) -> None:
        self.charts.start()
        self.runner.start_play()

    def jump_to_end(self) -> None:
        self.runner.stop()  # a replay is not cut short: it jumps to its end

    def _end(self, _result: object = None) -> None:
        self.charts.stop()
        recorded = CompareResult(self.run.mode, self.run.threads_total, self.run.records)
        verdict = recorded.verdict()
        self.banner.setText(f"Recorded: {verdict}" if verdict else "Replay finished.")
        self.finished.emit()

    def open_rerun(self) -> RerunDialog:
        """The rerun of this run on this machine (it starts when the user presses Rerun here)."""
        if self.rerun_dialog is None:
            self.rerun_dialog = RerunDialog(self.run, self.file_name, self, self.busy_reason)
        self.rerun_dialog.show()
        self.rerun_dialog.raise_()
        return self.rerun_dialog

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802
        if self.rerun_dialog is not None:
            self.rerun_dialog.close()
        self.runner.begin_close()
        self.runner.release()
        self.charts.stop()
        super().closeEvent(ev)


__all__ = ["RunViewer"]
