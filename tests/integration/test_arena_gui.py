"""Blind mode and the leaderboard in the window, driven offscreen with the real demo models."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
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

from gemmacompare.arena.battles import ONE_BETTER, TWO_BETTER, Battle, Contender, Side, VoteCounts
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
    w.arena.reseed(seed)  # sides and, with three or four models, pairs: the same every run
    qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
    from gemmacompare.state.settings_table import with_values

    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 12})
    return w


def identities(w: MainWindow) -> list[str]:
    """What would tell the models apart: names, file names, architectures."""
    out = []
    for p in w.panes:
        out += [p.facts.name, p.display_name, Path(p.model_path).name, p.facts.architecture]
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
        texts += widget_texts(wid)
    for act in w.findChildren(QAction):
        texts += [act.text(), act.toolTip()]
    return [t for t in texts if t]


def widget_texts(wid: QWidget) -> list[str]:
    """What one widget can show: its text, tooltip and the like, items, chart labels."""
    texts = [wid.toolTip(), wid.windowTitle(), wid.accessibleName(), wid.statusTip(), wid.whatsThis()]
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
    return [t for t in texts if t]


def pane_texts(pane) -> list[str]:
    """Every text and tooltip a pane holds (shown or not), but its answer's and the prompt's words."""
    skip = [pane.reply.answer, pane.reply.thinking] if pane.reply is not None else []
    return [t for wid in [pane, *pane.findChildren(QWidget)] if wid not in skip for t in widget_texts(wid)
            if t not in (pane.messages[0].content if pane.messages else "",)]


def leaks(w: MainWindow) -> list[str]:
    found = []
    for t in visible_texts(w):
        for ident in identities(w):
            # SmolLM2's architecture is "llama"; "llama.cpp" (the engine) and its tools are no clue.
            pattern = re.escape(ident) + (r"(?!\.cpp|-bench|-server)" if ident == "llama" else "")
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
    assert w.arena.active and w.windowTitle() == "Blind arena — gemmacompare"
    assert leaks(w) == []
    # A model that finishes loading while blind (a server's does so) writes its facts again: kept, not shown.
    w.panes[1].facts_label.setText("Served-Model-X · server 127.0.0.1")
    w.panes[1].state_changed.emit(1)
    assert w.panes[1].facts_label.text() == ""
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
    assert w.panes[1].facts_label.text() == "Served-Model-X · server 127.0.0.1"
    left = r.order[0]
    assert left.display_name in w.banner.text() and left.display_name in w.arena.bar.result.text()
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
    assert names == {p.display_name for p in w.panes}  # the picker's names, not the files' general.name
    assert w.leaderboard.points == 2
    assert "2 counted rounds of 2 stored" in w.leaderboard.summary.text()

    qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
    assert not w.arena.active and w.windowTitle() == "gemmacompare" and w.hsplit.widget(0) is w.panes[0]
    assert w.panes[0].facts_label.text() and len(w.panes[0].chooser.rows) > 1 and w.panes[0].chooser.text()
    w.close()


def vote_key(qtbot, w: MainWindow, key) -> None:
    qtbot.keyClick(w.focusWidget() or w, key)


def test_sides_are_drawn_per_prompt_and_votes_map_to_the_model_shown(qtbot, demo_paths):
    w = make_window(qtbot, seed=3)  # draws: swapped, not, swapped, not
    hashes = [file_hash_prefix(p.model_path) for p in w.panes]
    w.set_blind(True)
    swaps = []
    for n, key in enumerate((Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_1, Qt.Key.Key_2)):
        ask_blind(qtbot, w, f"Say the number {n}.")
        r = w.arena.round
        swaps.append(r.swapped)
        assert w.hsplit.widget(0) is (w.panes[1] if r.swapped else w.panes[0])
        # Colours follow the side, not the model.
        assert "#2f7ed8" in w.hsplit.widget(0).swatch.styleSheet()
        assert w.charts.labels == ["Model 1", "Model 2"]
        vote_key(qtbot, w, key)
    assert swaps == [True, False, True, False]
    stored = ArenaStore().battles()
    for b, swapped, want in zip(stored, swaps, (ONE_BETTER, TWO_BETTER, ONE_BETTER, TWO_BETTER)):
        left_hash = hashes[1] if swapped else hashes[0]
        assert b.swapped == swapped and b.sides[0].contender.file_hash == left_hash
        assert b.votes == VoteCounts.single(want)
    # Model 1 (left) won rounds 1 and 3: the model drawn left both times (pane B) has those wins.
    from gemmacompare.arena.leaderboard import build_leaderboard

    board = build_leaderboard(stored, bootstrap=20)
    wins = {r.key: r.win_rate for r in board.rows}
    assert wins[hashes[1]] == 1.0 and wins[hashes[0]] == 0.0

    # Regenerate: same prompt, a new seed (and sampling, since the panes are greedy), sides drawn again.
    with qtbot.waitSignal(w.compare_finished, timeout=120_000):
        qtbot.keyClick(w.prompt, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    r = w.arena.round
    assert r.prompt == "Say the number 3."
    assert all(o["seed"] != 42 and o["temperature"] == 0.7 for o in r.overrides.values())
    assert r.battle.sides[0].settings["seed"] == r.overrides[0]["seed"]
    # One round only: the answered round gives no more changes, and a pane's request is its own again.
    assert all(w.arena.sampling_for(p.index) == {} for p in w.panes)
    assert all(p.command("again").sampling.seed == 42 for p in w.panes)
    vote_key(qtbot, w, Qt.Key.Key_3)
    assert ArenaStore().battles()[-1].votes == VoteCounts(tie=1)
    w.close()


def test_stopped_round_is_not_counted_and_a_locked_history_loses_no_vote(qtbot, demo_paths):
    w = make_window(qtbot, seed=0)
    w.set_blind(True)
    from gemmacompare.state.settings_table import with_values

    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 4000, "raw_mode": True})
    w.prompt.setPlainText("Once upon a time")
    with qtbot.waitSignal(w.compare_finished, timeout=120_000):
        w.send()
        qtbot.waitUntil(lambda: all(p.record and len(p.record.tokens) > 3 for p in w.panes), timeout=60_000)
        qtbot.keyClick(w.prompt, Qt.Key.Key_Escape)
    assert "will not count: a model was stopped early" in w.banner.text()
    vote_key(qtbot, w, Qt.Key.Key_1)
    assert "Not counted: a model was stopped early" in w.banner.text()
    b = ArenaStore().battles()[-1]
    assert b.votes == VoteCounts(1) and not b.counted

    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 8, "raw_mode": False})
    ask_blind(qtbot, w, "Hi.")
    other = sqlite3.connect(default_db_path(), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        vote_key(qtbot, w, Qt.Key.Key_2)
        assert "in use by another program" in w.banner.text()
        assert w.arena.unsaved and w.arena.round.voted  # kept in the window, names revealed
    finally:
        other.execute("ROLLBACK")
        other.close()
    ask_blind(qtbot, w, "Bye.")
    vote_key(qtbot, w, Qt.Key.Key_1)
    assert not w.arena.unsaved
    stored = ArenaStore().battles()
    assert [x.votes for x in stored] == [VoteCounts(1), VoteCounts(two=1), VoteCounts(1)]
    assert w.isVisible()
    w.close()


def test_leaderboard_tab_exports_tables_and_the_scatter(qtbot, tmp_path):
    store = ArenaStore()
    fast = Contender("FastModel", "fast.gguf", "a" * 16)
    slow = Contender("SlowModel", "slow.gguf", "b" * 16)
    for n in range(6):
        sides = (Side(fast, "x", "", {}, {"ms_per_token_p50": 20.0, "time_to_answer_s": 0.5}, "eos"),
                 Side(slow, "y", "", {}, {"ms_per_token_p50": 60.0, "time_to_answer_s": 1.5}, "eos"))
        votes = VoteCounts.single(TWO_BETTER if n % 3 else ONE_BETTER)
        store.add_battle(Battle("p", sides, "race", False, votes=votes))
    tab = LeaderboardTab(store)
    qtbot.addWidget(tab)
    tab.resize(900, 600)
    tab.show()
    with qtbot.waitSignal(tab.refreshed, timeout=30_000):
        tab.refresh()
    assert tab.table.rowCount() == 2 and tab.table.item(0, 1).text() == "SlowModel"
    assert tab.matrix.item(0, 1).text() == "67% of 6" and tab.points == 2
    files = tab.export(tmp_path / "out")
    assert sorted(f.suffix for f in files) == [".csv", ".json", ".md", ".png"]
    assert json.loads((tmp_path / "out" / "arena-leaderboard.json").read_text())["models"][0]["name"] == "SlowModel"
    assert (tmp_path / "out" / "arena-leaderboard.png").stat().st_size > 2000
    # A damaged history: one sentence in the tab, nothing raised.
    default_db_path().write_bytes(b"junk" * 500)
    broken = LeaderboardTab(ArenaStore(default_db_path()))
    qtbot.addWidget(broken)
    with qtbot.waitSignal(broken.refreshed, timeout=30_000):
        broken.refresh()
    assert "No counted votes yet" in broken.summary.text()
    assert broken.store.notice.startswith("The arena history was damaged")


def test_with_three_models_each_blind_round_draws_a_pair(qtbot, demo_paths):
    w = make_window(qtbot, seed=11)
    try:
        w.add_pane()
        w.panes[2].set_model(str(demo_paths["smollm2"]))
        qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
        from gemmacompare.state.settings_table import with_values

        w.panes[2].settings = with_values(w.panes[2].settings, {"max_tokens": 12})
        qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
        assert w.arena.active
        pairs = []
        for prompt in ("Name a colour.", "Name a fruit.", "Name a city.", "Name a tree."):
            ask_blind(qtbot, w, prompt)
            r = w.arena.round
            assert len(r.order) == 2 and [p.title.text() for p in r.order] == ["<b>Model 1</b>", "<b>Model 2</b>"]
            out = [p for p in w.panes if p not in r.order]
            assert len(out) == 1 and not out[0].isVisible() and out[0].record is None  # not run, not shown
            assert all(p.record and p.record.finished for p in r.order)
            assert leaks(w) == [], leaks(w)
            pairs.append(frozenset(p.index for p in r.order))
            qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_3)  # a tie; the round is stored with who took part
            assert r.voted
        assert len(set(pairs)) > 1  # the pair is drawn per round, not fixed
        stored = ArenaStore().battles()
        assert len(stored) == 4
        assert all(len(b.sides) == 2 and b.sides[0].answer and b.sides[1].answer for b in stored)
        qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
        assert not w.arena.active and all(p.isVisible() for p in w.panes)
    finally:
        w.close()


def test_blind_settings_and_memory_tell_nothing_until_the_vote(qtbot, demo_paths, monkeypatch):
    from gemmacompare.ui.pane_settings import PaneSettingsDialog

    titles = []
    monkeypatch.setattr(PaneSettingsDialog, "exec", lambda dlg: titles.append(dlg.windowTitle()) or 0)
    w = make_window(qtbot, seed=3)
    try:
        qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
        ask_blind(qtbot, w, "Name a colour.")
        r = w.arena.round
        for pane in r.order:
            pane.settings_button.click()
        assert titles == ["Model 1 settings", "Model 2 settings"]  # by side, never the pane's letter
        assert all("Model" in p.settings_button.toolTip() for p in r.order)
        assert not w.pane_settings_menu.isEnabled()
        for pane in r.order:  # memory would tell a 135M from a 270M model
            text = pane.reply.stats.text()
            assert "peak RAM" not in text and "MiB" not in text and "memory shown after the vote" in text
        assert not w.charts.mem_plot.isVisible()
        assert "t/s" in r.order[0].reply.stats.text()  # speed stays visible

        w.set_presentation(True)
        qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_1)
        assert r.voted
        # Large type: the short stats line (speed, time to answer, tokens), so the answers keep the room.
        assert all("ms/token" in p.reply.stats.text() and "TTFT" not in p.reply.stats.text() for p in r.order)
        w.set_presentation(False)
        assert all("peak RAM" in p.reply.stats.text() and "TTFT" in p.reply.stats.text() for p in r.order)
        w.set_presentation(True)
        assert w.charts.mem_plot.isVisible()
        result = w.arena.bar.result.text()
        assert "time to answer" in result and "TTFT" not in result  # compact in presentation mode
        w.set_presentation(False)
    finally:
        w.close()


def test_a_blind_pane_shows_nothing_that_names_its_side_until_the_vote(qtbot, demo_paths, monkeypatch):
    from gemmacompare.ui import run_file_actions

    dialogs = []
    monkeypatch.setattr(run_file_actions.QFileDialog, "getSaveFileName",
                        lambda *a, **k: dialogs.append(a) or ("", ""))
    w = make_window(qtbot, seed=5)
    try:
        # Loaded, not blind: llama.cpp's buffers (the model's size) are in the status line's tooltip.
        assert any("MiB" in t for t in pane_texts(w.panes[0]))
        qtbot.keyClick(w.prompt, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
        assert w.tabs.currentWidget() is w.bench_tab and "Ctrl+B" in w.tabs.tabToolTip(1)
        w.tabs.setCurrentIndex(0)
        qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
        qtbot.keyClick(w.prompt, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
        assert w.tabs.currentIndex() == 0 and "Benchmark tab names the models" in w.banner.text()
        ask_blind(qtbot, w, "Name a colour.")
        r = w.arena.round
        shown = {pane.index: pane_texts(pane) for pane in r.order}
        for pane in r.order:
            texts = shown[pane.index]
            st = pane.record.stats()
            clues = [pane.loaded.placement.accounting if pane.loaded.placement else "",
                     f"{st.n_prompt} tok", "MiB", "GiB", "loaded in", "context "]
            found = [(c, t) for t in texts for c in clues if c and c in t]
            assert found == [], found
            parts = [part.strip() for t in texts for part in t.split("·")]
            assert st.stop_reason.replace("_", " ") not in parts and "Ready" in texts
            assert "<b>" not in pane.reply.stats.text()  # a plain-text label: markup would show as such
        # The same words on either side, the figures aside.
        masked = [sorted({re.sub(r"\d+(\.\d+)?", "#", t) for t in shown[p.index]} - {"Model 1", "Model 2",
                                                                                    "<b>Model 1</b>",
                                                                                    "<b>Model 2</b>"})
                  for p in r.order]
        masked = [[t.replace("Model 1", "Model #").replace("Model 2", "Model #") for t in m] for m in masked]
        assert masked[0] == masked[1]

        # Ctrl+S names the models: off until the vote, as the Save round button is.
        assert not w.save_run_action.isEnabled()
        qtbot.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert dialogs == []
        qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_1)
        assert r.voted and w.save_run_action.isEnabled()
        after = pane_texts(r.order[0])
        assert any(r.order[0].record.stats().stop_reason.replace("_", " ") in t for t in after)
        assert any("MiB" in t for t in after)  # the reveal gives the buffers back
    finally:
        w.close()
