"""A saved run, replayed side by side at its recorded speed, in a window of its own.

The run's models are not loaded: each pane plays its recorded tokens on the
recorded time axis, with the same reply view, stats line and charts as a live
run, under a header saying whose machine and settings they were. Everything
in the file came from a stranger: it is shown as plain text, never rich text.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QVBoxLayout, QWidget

from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.replay import play_clock
from gemmacompare.engine.report.speed_summary import speed_summary
from gemmacompare.engine.run_file import RunFile
from gemmacompare.models.display_names import elide_middle

from .charts import LiveCharts, SeriesData
from .chat_view import ChatView, ReplyWidget
from .plain_label import widget_text
from .rerun_dialog import RerunDialog
from .stats_format import stats_line, stats_tooltip
from .theme import PANE_COLOURS

REPLAY_TICK_MS = 30
# A reply shows at most this many characters: a real answer of 4,096 tokens is about 20,000, and laying
# out a stranger's megabyte (one unbroken word costs Qt quadratic time) would take minutes.
MAX_SHOWN_CHARS = 64_000


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
        title = QLabel(widget_text(f"{label}: {elide_middle(name)}", 200))
        title.setTextFormat(Qt.TextFormat.PlainText)
        head.addWidget(swatch)
        head.addWidget(title, 1)
        lay.addLayout(head)
        self.chat = ChatView()
        lay.addWidget(self.chat, 1)
        if prompt:
            self.chat.add_user(widget_text(prompt, len(prompt) + 64))
        self.reply: ReplyWidget = self.chat.add_reply(widget_text(elide_middle(name), 200))
        self.clock = play_clock(record)  # a stranger's token at day 115 plays within minutes
        self._shown = 0
        self._chars = 0  # characters of the reply shown so far, at most MAX_SHOWN_CHARS
        self._until = 0.0

    def play_to(self, t: float) -> bool:
        """Show the tokens recorded up to t seconds after Send; True when all are shown."""
        rec, toks = self.record, self.record.tokens
        start = end = self._shown
        while end < len(toks) and self.clock(toks[end].t - rec.t_send) <= t:
            end += 1
        if end > start:
            chunk = toks[start:end]
            room = MAX_SHOWN_CHARS - self._chars
            thinking = "".join(x.thinking for x in chunk)[:room]
            answer = "".join(x.answer for x in chunk)[:room - len(thinking)]
            self._chars += len(thinking) + len(answer)
            self.reply.add(thinking, answer, sum(x.phase == "thinking" for x in chunk))
            self._shown = end
        self._until = t
        if end >= len(toks):
            if self._chars < MAX_SHOWN_CHARS:
                self.reply.add("", rec.answer[len(self.reply.answer.text):], 0)
            else:
                total = sum(len(x.thinking) + len(x.answer) for x in toks)
                self.chat.add_notice(f"This reply holds {total:,} characters; the first {MAX_SHOWN_CHARS:,} are "
                                     "shown (its figures count them all).")
            if rec.finished is not None:
                self.reply.finish(stats_line(rec.stats(), self.note), stats_tooltip(rec))
            elif rec.error is not None:
                self.reply.finish(rec.error.message, "")
            return True
        return False

    def series(self) -> SeriesData:
        rec = self.record
        times = np.fromiter((self.clock(x.t - rec.t_send) for x in rec.tokens[: self._shown]), float)
        samples = rec.memory.samples if rec.memory else []
        mem_t = np.fromiter((self.clock(s.t - rec.t_send) for s in samples), float, len(samples))
        rss = np.fromiter((s.rss / 2**20 for s in samples), float, len(samples))
        return SeriesData(times, mem_t, rss, None, self._shown >= len(rec.tokens))


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
        header = QLabel(widget_text(f"Recorded on {run.whose()} · {run.mode} mode "
                                    f"({run.thread_split or 'threads as recorded'})"
                                    + (" · prompts left out by its author" if run.redacted else "") + _extra_line(run)))
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
        self.charts.now = lambda: self._t
        split.addWidget(self.charts)
        split.setStretchFactor(0, 2)
        lay.addWidget(split, 1)
        self.banner = QLabel("Replaying at the recorded speed… (Esc: jump to the end)")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setObjectName("raceBanner")
        self.banner.setWordWrap(True)
        lay.addWidget(self.banner)
        self.setCentralWidget(central)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.jump_to_end)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.open_rerun)
        self._t = 0.0
        self._t0 = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(REPLAY_TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.charts.start()
        self._timer.start()

    def _tick(self, t: float | None = None) -> None:
        self._t = time.monotonic() - self._t0 if t is None else t
        if all([pane.play_to(self._t) for pane in self.panes]):
            self._end()

    def jump_to_end(self) -> None:
        if self._timer.isActive():
            self._tick(float("inf"))

    def _end(self) -> None:
        self._timer.stop()
        self._t = max((p.clock(p.record.finished.t_end - p.record.t_send) for p in self.panes if p.record.finished),
                      default=0.0)
        self.charts.stop()
        done = [(m.label, m.record.stats()) for m in self.run.models if m.record.finished]
        verdict = speed_summary([x[0] for x in done], [x[1] for x in done], race=self.run.mode == "race") \
            if len(done) >= 2 else ""
        self.banner.setText(widget_text(f"Recorded: {verdict}") if verdict else "Replay finished.")
        self.finished.emit()

    def open_rerun(self) -> RerunDialog:
        """The rerun of this run on this machine (it starts when the user presses Rerun here)."""
        if self.rerun_dialog is None:
            self.rerun_dialog = RerunDialog(self.run, self.file_name, self, self.busy_reason)
        self.rerun_dialog.show()
        self.rerun_dialog.raise_()
        return self.rerun_dialog

    def closeEvent(self, ev) -> None:  # noqa: N802
        if self.rerun_dialog is not None:
            self.rerun_dialog.close()
        self._timer.stop()
        self.charts.stop()
        super().closeEvent(ev)


__all__ = ["RunViewer"]
