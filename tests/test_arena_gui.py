"""Blind mode and the leaderboard in the window, driven offscreen with the real demo models."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTextEdit,
    QWidget,
)
import pyqtgraph as pg
from PySide6.QtGui import QAction

from gemmacompare.arena.battles import SideDraw, VoteCounts, ONE_BETTER, TWO_BETTER, Battle, Side, Contender
from gemmacompare.arena.store import ArenaStore, default_db_path
from gemmacompare.engine.machine import file_hash_prefix
from gemmacompare.state.settings import load_settings
from gemmacompare.ui.arena_board import LeaderboardTab
from gemmacompare.ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def make_window(qtbot, seed: int) -> MainWindow:
    w = MainWindow(load_settings())
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    w.arena.draw = SideDraw(seed)
    qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
    from dataclasses import replace

    for p in w.panes:
        p.settings = replace(p.settings, max_tokens=12)
    return w


def identities(w: MainWindow) -> list[str]:
    """What would tell the models apart: names, file names, architectures."""
    out = []
    for p in w.panes:
        out += [p.facts.name, Path(p.model_path).name, p.facts.architecture]
    return out


def visible_texts(w: MainWindow) -> list[str]:
    """Every string the window holds: widgets (shown or not), items, actions, chart legends, title.

    Pages of disabled tabs are left out: the user cannot open them (the test
    checks they are disabled), and the Benchmark tab lists file names by design.
    """
    skip = [w.tabs.widget(i) for i in range(w.tabs.count()) if not w.tabs.isTabEnabled(i)]
    texts = [w.windowTitle(), w.statusBar().currentMessage()]
    for wid in [w, *w.findChildren(QWidget)]:
        if any(s is wid or s.isAncestorOf(wid) for s in skip):
            continue
        texts += [wid.toolTip(), wid.windowTitle(), wid.accessibleName(), wid.statusTip(), wid.whatsThis()]
        if isinstance(wid, (QLabel, QAbstractButton, QLineEdit)):
            texts.append(wid.text())
        if isinstance(wid, (QPlainTextEdit, QTextEdit)):
            texts += [wid.toPlainText(), wid.placeholderText()]
        if isinstance(wid, QComboBox):
            for i in range(wid.count()):
                texts += [wid.itemText(i), str(wid.itemData(i)), str(wid.itemData(i, Qt.ItemDataRole.ToolTipRole))]
        if isinstance(wid, QTableWidget):
            for r in range(wid.rowCount()):
                for c in range(wid.columnCount()):
                    item = wid.item(r, c)
                    if item is not None:
                        texts += [item.text(), item.toolTip()]
        if isinstance(wid, pg.PlotWidget):
            for item in wid.scene().items():
                if hasattr(item, "toPlainText"):
                    texts.append(item.toPlainText())
    for act in w.findChildren(QAction):
        texts += [act.text(), act.toolTip()]
    return [t for t in texts if t]


def leaks(w: MainWindow) -> list[str]:
    found = []
    for t in visible_texts(w):
        for ident in identities(w):
            # SmolLM2's architecture is "llama"; "llama.cpp" (the engine) is no clue.
            pattern = re.escape(ident) + (r"(?!\.cpp)" if ident == "llama" else "")
            if re.search(pattern, t, re.IGNORECASE):
                found.append(f"{ident!r} in {t[:80]!r}")
    return found


def ask_blind(qtbot, w: MainWindow, text: str) -> None:
    qtbot.keyClicks(w.prompt, text)
    with qtbot.waitSignal(w.compare_finished, timeout=120_000):
        qtbot.keyClick(w.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_blind_round_with_the_keyboard_only_then_the_leaderboard(qtbot, demo_paths):
    w = make_window(qtbot, seed=5)
    assert leaks(w)  # the walk does find the names when they are on screen
    qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
    assert w.arena.active and w.windowTitle() == "gemmacompare · blind arena"
    assert leaks(w) == []
    ask_blind(qtbot, w, "Name a colour.")
    r = w.arena.round
    assert [p.title.text() for p in r.order] == ["<b>Model 1</b>", "<b>Model 2</b>"]
    assert w.hsplit.widget(0) is r.order[0]
    assert all(p.reply.answer.text.strip() for p in w.panes)
    assert all("t/s" in p.reply.stats.text() for p in w.panes)  # speed stays visible
    assert not w.tabs.isTabEnabled(w.tabs.indexOf(w.bench_tab))
    assert not w.tabs.isTabEnabled(w.tabs.indexOf(w.leaderboard))
    assert leaks(w) == [], leaks(w)
    assert "Model 1" in w.results_markdown() and not any(i in w.results_markdown() for i in identities(w)[:2])
    assert not w.prompt.isEnabled()  # digits vote now, they do not go into the prompt

    qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_1)
    assert r.voted and leaks(w)  # revealed
    left = r.order[0]
    assert left.facts.name in w.banner.text() and left.facts.name in w.arena.bar.result.text()
    stored = ArenaStore().battles()
    assert len(stored) == 1 and stored[0].votes == VoteCounts.single(ONE_BETTER) and stored[0].counted
    assert stored[0].sides[0].contender.file_hash == file_hash_prefix(left.model_path)
    assert stored[0].sides[0].speed["n_tokens"] > 0 and stored[0].sides[0].answer == left.record.answer
    assert stored[0].swapped == (left is w.panes[1])

    # The next prompt hides the names again; this time the room votes with a show of hands.
    ask_blind(qtbot, w, "Name a fruit.")
    assert leaks(w) == [], leaks(w)
    qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_H)
    assert w.arena.bar.hands.isVisible()
    for n in ("3", "2", "1", "1"):
        qtbot.keyClicks(w.focusWidget(), n)
        qtbot.keyClick(w.focusWidget(), Qt.Key.Key_Tab)
    qtbot.keyClick(w.arena.bar.counts["both_bad"], Qt.Key.Key_Return)
    stored = ArenaStore().battles()
    assert stored[1].votes == VoteCounts(3, 2, 1, 1)

    with qtbot.waitSignal(w.leaderboard.refreshed, timeout=30_000):
        qtbot.keyClick(w.prompt, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert w.tabs.currentWidget() is w.leaderboard
    names = {w.leaderboard.table.item(r, 1).text() for r in range(w.leaderboard.table.rowCount())}
    assert names == {p.facts.name for p in w.panes}
    assert w.leaderboard.points == 2
    assert "2 counted rounds of 2 stored" in w.leaderboard.summary.text()

    qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
    assert not w.arena.active and w.windowTitle() == "gemmacompare" and w.hsplit.widget(0) is w.panes[0]
    assert w.panes[0].facts_label.text() and w.panes[0].chooser.count() > 1
    w.close()
