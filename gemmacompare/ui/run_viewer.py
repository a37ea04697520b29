"""A saved run, replayed side by side at its recorded speed, in a window of its own.

The run's models are not loaded: the recorded runs play through a light
compare session of replays (the same player as fair mode's replay and
`gemmacompare replay`), and each pane shows what it plays with the same reply
view, stats line and charts as a live run, under a header saying whose machine
and settings they were. Everything in the file came from a stranger: it is
shown as plain text, never rich text.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QVBoxLayout, QWidget

from gemmacompare.engine.api import (
    CompareResult,
    CompareSession,
    RunFile,
    RunRecord,
    RunStarted,
    RunStats,
    play_clock,
)
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.display_names import elide_middle

from .charts import LiveCharts, SeriesData
from .chat_view import ChatView, ReplyWidget, record_batch
from .plain_label import widget_text
from .rerun_dialog import RerunDialog
from .session_runner import SessionRunner
from .stats_format import stats_line, stats_tooltip
from .theme import PANE_COLOURS

# A reply shows at most this many characters: a real answer of 4,096 tokens is about 20,000, and laying
# out a stranger's megabyte (one unbroken word costs Qt quadratic time) would take minutes.
MAX_SHOWN_CHARS = 64_000


class _ReplayPane(QWidget):
    """One model of the run: its name, the question, its reply played back."""

    def __init__(self, label: str, name: str, colour: str, record: RunRecord, note: str, prompt: str | None,
                 recorded: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.label = label
        self.record = record
        self.note = note
        self.other_cores = _recorded_other_cores(recorded or {})
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
        self.clock = play_clock(record)  # the replay worker's clock: a stranger's token at day 115 plays within minutes
        self._chars = 0  # characters of the reply shown so far, at most MAX_SHOWN_CHARS
        self.shown: RunRecord | None = None  # what the replay has played so far

    def begin(self, started: RunStarted) -> None:
        self.shown = RunRecord(self.record.label, started.t_send)

    def on_events(self, batch: list[p.Event]) -> None:
        """The replay's events since the last batch; the recorded figures at its end."""
        shown, rec = self.shown, self.record
        if shown is None:
            return
        self._chars += self.reply.add_tokens(record_batch(shown, batch), MAX_SHOWN_CHARS - self._chars)
        if shown.done:
            if self._chars < MAX_SHOWN_CHARS:
                self.reply.add("", rec.answer[len(self.reply.answer.text):], 0)
            else:
                total = sum(len(x.thinking) + len(x.answer) for x in rec.tokens)
                self.chat.add_notice(f"This reply holds {total:,} characters; the first {MAX_SHOWN_CHARS:,} are "
                                     "shown (its figures count them all).")
            if rec.finished is not None:
                self.reply.finish(stats_line(self.stats(), self.note), stats_tooltip(rec))
            elif rec.error is not None:
                self.reply.finish(rec.error.message, "")

    def stats(self) -> RunStats:
        """The run's figures, and what the author's machine recorded of other programs' load."""
        st = self.record.stats()
        if self.other_cores is None:
            return st
        return replace(st, machine_busy=True, other_cpu_cores=self.other_cores)

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
        mem_t = np.fromiter((self.clock(s.t - rec.t_send) for s in samples), float, len(samples))
        rss = np.fromiter((s.rss / 2**20 for s in samples), float, len(samples))
        return SeriesData(times, mem_t, rss, None, shown is not None and shown.done)


def _recorded_other_cores(stats: dict[str, Any]) -> float | None:
    """The cores other programs took during a run its author's app flagged busy, or None (a stranger's
    value: a finite number or nothing)."""
    cores = stats.get("other_cpu_cores")
    if stats.get("machine_busy") is not True or isinstance(cores, bool) or not isinstance(cores, (int, float)):
        return None
    return float(cores) if math.isfinite(cores) and 0 <= cores < 1e6 else None


def busy_line(panes: list[_ReplayPane]) -> str:
    """"" or the busy-machine warning the run file records, as the live window said it."""
    busy = [(pane.label, pane.other_cores or 0.0) for pane in panes if pane.other_cores is not None]
    if not busy:
        return ""
    whose = "every run" if len(busy) == len(panes) else f"{', '.join(label for label, _ in busy)}'s run"
    worst = max(cores for _, cores in busy)
    return f"recorded while other programs used {worst:.1f} cores during {whose}: figures are unreliable"


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
                        f"{run.mode} mode, recorded", run.prompt, m.stats)
            for k, m in enumerate(run.models)
        ]
        if busy := busy_line(self.panes):
            header.setText(f"{header.text()}\n{widget_text(busy[0].upper() + busy[1:])}.")
        for pane in self.panes:
            row.addWidget(pane)
        split.addWidget(row)
        self.charts = LiveCharts(run.labels, PANE_COLOURS[: len(run.models)])
        # The window's theme: pyqtgraph's own black plots carried dim dark-grey titles here.
        self.charts.set_dark(getattr(parent, "theme_name", "light") != "light")
        self.charts.sources = [pane.series for pane in self.panes]
        self.charts.now = lambda: max((pane.elapsed() for pane in self.panes), default=0.0)
        split.addWidget(self.charts)
        # The answers are what a replay is watched for: most of the height; the charts below.
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.split = split
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

    def place_over(self, parent: QWidget) -> None:
        """Nine tenths of the main window's size, centred on it, within its screen; the answers
        three quarters of the height (left to the window manager, it opened at a screen's edge)."""
        frame = parent.frameGeometry()
        screen = (parent.screen() or self.screen()).availableGeometry()
        size = parent.size() * 0.9
        self.resize(min(size.width(), screen.width()), min(size.height(), screen.height()))
        rect = self.frameGeometry()
        rect.moveCenter(frame.center())
        x = max(screen.left(), min(rect.left(), screen.right() - rect.width()))
        y = max(screen.top(), min(rect.top(), screen.bottom() - rect.height()))
        self.move(x, y)
        self.split.setSizes([3000, 1000])  # Qt shares the height out by these weights

    def start(self) -> None:
        self.charts.start()
        self.runner.start_play()

    def jump_to_end(self) -> None:
        self.runner.stop()  # a replay is not cut short: it jumps to its end

    def _end(self, _result: object = None) -> None:
        self.charts.stop()
        recorded = CompareResult(self.run.mode, self.run.threads_total, self.run.records)
        verdict = recorded.verdict()
        busy = busy_line(self.panes)
        text = f"Recorded: {verdict}" if verdict else "Replay finished."
        self.banner.setText(widget_text(f"{text} · {busy}" if busy else text))
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
