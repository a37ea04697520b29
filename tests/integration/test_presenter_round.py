"""The presenter's round, what a room sees: no winner called on finishing time when a reply
was cut at max tokens, fair mode that shows what it measures, Esc in a replay, prompt recall."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from tests.integration.test_gui import make_window, set_short


@pytest.mark.gui
def test_fair_round_says_who_waits_then_esc_ends_the_replay_whole(qtbot, demo_paths):
    w = make_window(qtbot)
    try:
        set_short(w, 40, raw=True)
        w.fair_radio.setChecked(True)
        w.prompt.setPlainText("Once upon a time")
        w.send()
        assert w.panes[1].state_label.text().startswith("Waiting for its turn")
        assert w.panes[1].series() is None  # no curve of an earlier round while it waits
        qtbot.waitUntil(lambda: w.runner.state.replaying, timeout=120_000)
        assert "replaying side by side" in w.banner.text()
        with qtbot.waitSignal(w.compare_finished, timeout=10_000):
            qtbot.keyClick(w.prompt, Qt.Key.Key_Escape)
        assert not w.busy and "replayed side by side" in w.banner.text()
        for p in w.panes:  # whole answers, the stats they had
            assert p.chat.replies()[-1].answer.text == p.record.answer and p.record.stats().n_tokens == 40
    finally:
        w.close()


@pytest.mark.gui
def test_up_in_an_empty_prompt_recalls_earlier_prompts_and_the_modes_have_keys(qtbot, demo_paths):
    w = make_window(qtbot, wait_ready=False)
    try:
        box = w.prompt
        for text in ("first question", "second question"):
            box.remember(text)
        qtbot.keyClick(box, Qt.Key.Key_Up)
        assert box.toPlainText() == "second question"
        qtbot.keyClick(box, Qt.Key.Key_Up)
        assert box.toPlainText() == "first question"
        qtbot.keyClick(box, Qt.Key.Key_Down)
        assert box.toPlainText() == "second question"
        box.setPlainText("typing")
        qtbot.keyClick(box, Qt.Key.Key_Up)
        assert box.toPlainText() == "typing"  # Up moves the cursor in a prompt being written
        assert w.race_radio.text() == "Race  Ctrl+1" and w.fair_radio.text() == "Fair  Ctrl+2"
        assert "Ctrl+2" in w.fair_radio.toolTip()
        w.race_radio.setChecked(True)
        w.activateWindow()  # window shortcuts need the window active, as on a desktop
        qtbot.waitUntil(w.isActiveWindow, timeout=5_000)
        qtbot.keyClick(w.prompt, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
        assert w.fair_radio.isChecked() and w.mode == "fair"
        qtbot.keyClick(w.prompt, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
        assert w.race_radio.isChecked()
    finally:
        w.close()


@pytest.mark.gui
def test_a_busy_machine_is_named_in_the_stats_line_and_the_banner(qtbot, demo_paths):
    from tests.integration.test_gui import ask
    from tests.unit.test_machine_load import SPIN

    w = make_window(qtbot)
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        set_short(w, 24, raw=True)
        ask(qtbot, w, "Once upon a time")
        assert "other programs used" in w.banner.text() and "figures are unreliable" in w.banner.text()
        for p in w.panes:
            assert p.record.stats().machine_busy
            assert "other programs used" in p.chat.replies()[-1].stats.text()
    finally:
        spinner.kill()
        spinner.wait()
        w.close()


@pytest.mark.gui
def test_small_windows_fold_the_charts_and_ctrl_g_brings_them_back(qtbot, demo_paths):
    w = make_window(qtbot, wait_ready=False)
    try:
        w.resize(1024, 640)
        qtbot.waitUntil(lambda: not w.charts.isVisible(), timeout=5_000)
        assert "Ctrl+G" in w.statusBar().currentMessage()
        assert w.settings.charts_visible  # folded, not switched off
        w.show_charts_action.trigger()  # Ctrl+G
        assert w.charts.isVisible() and w.show_charts_action.isChecked()
        w.resize(1280, 820)
        assert w.charts.isVisible()
        w.show_charts_action.trigger()
        w.show_charts_action.trigger()  # on again, unforced: folds at a small size, then unfolds
        w.resize(1024, 640)
        qtbot.waitUntil(lambda: "Charts folded away" in w.statusBar().currentMessage(), timeout=5_000)
        w.resize(1280, 820)
        qtbot.waitUntil(w.charts.isVisible, timeout=5_000)
        assert "Charts folded away" not in w.statusBar().currentMessage()  # the charts are back: stale
    finally:
        w.close()


@pytest.mark.gui
def test_an_unselected_radio_button_does_not_look_selected_in_the_dark(qtbot, demo_paths):
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    w = make_window(qtbot, wait_ready=False)
    try:
        w.set_theme("dark")
        w.race_radio.setChecked(True)
        centres = []
        for radio in (w.race_radio, w.fair_radio):
            opt = QStyleOptionButton()
            opt.initFrom(radio)
            box = radio.style().subElementRect(QStyle.SubElement.SE_RadioButtonIndicator, opt, radio)
            centres.append(radio.grab().toImage().pixelColor(box.center()))
        on, off = centres
        background = w.palette().color(w.backgroundRole())
        # Off: the ring's inside is the window's own background; on: a filled dot of another colour.
        assert abs(off.lightness() - background.lightness()) < 12, (off.name(), background.name())
        assert abs(on.lightness() - off.lightness()) > 30, (on.name(), off.name())
    finally:
        w.set_theme("system")
        w.close()


@pytest.mark.gui
def test_presentation_mode_with_the_blind_bar_fits_a_1024_pixel_screen(qtbot, demo_paths):
    w = make_window(qtbot, wait_ready=False)
    try:
        w.set_blind(True)
        w.set_presentation(True)
        # Large type: the whole window, the vote bar included, must fit 1024 pixels across.
        assert w.minimumSizeHint().width() <= 1024, w.minimumSizeHint()
        assert w.arena.bar.minimumSizeHint().width() <= 1000
    finally:
        w.set_presentation(False)
        w.set_blind(False)
        w.close()


@pytest.mark.gui
def test_a_brief_small_size_at_the_first_show_leaves_no_fold_note(qtbot):
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    w = MainWindow(load_settings(), [])
    qtbot.addWidget(w)
    try:
        w.resize(1024, 581)  # what a window manager may give before maximising it
        w.show()
        qtbot.waitExposed(w)
        w.resize(1280, 820)
        assert w.charts.isVisible() and "Charts folded away" not in w.statusBar().currentMessage()
    finally:
        w.close()


@pytest.mark.gui
def test_closing_hides_the_window_before_the_workers_shut_down(qtbot, demo_paths, monkeypatch):
    from gemmacompare.state.settings import load_settings

    w = make_window(qtbot)
    shown_during_shutdown = []
    release = w.runner.release
    monkeypatch.setattr(w.runner, "release", lambda: shown_during_shutdown.append(w.isVisible()) or release())
    w.resize(1100, 760)
    w.close()
    assert shown_during_shutdown == [False]
    assert load_settings().settings.geometry  # saved while shown: nothing lost


@pytest.mark.gui
def test_leaving_presentation_mode_gives_back_the_maximised_window_and_the_keyboard(qtbot):
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    w = MainWindow(load_settings(), [])
    qtbot.addWidget(w)
    try:
        w.showMaximized()
        qtbot.waitUntil(w.isMaximized, timeout=5_000)
        w.presentation_action.trigger()  # F11
        qtbot.waitUntil(w.isFullScreen, timeout=5_000)
        w.presentation_action.trigger()
        qtbot.waitUntil(lambda: not w.isFullScreen(), timeout=5_000)
        assert w.isMaximized()  # not Qt's normal size
        assert w.prompt.hasFocus() or w.focusWidget() is w.prompt
        qtbot.keyClicks(w.focusWidget(), "typed")
        assert w.prompt.toPlainText() == "typed"
    finally:
        w.close()


@pytest.mark.gui
def test_the_benchmark_tab_at_1024x640_scrolls_and_keeps_its_charts_readable(qtbot, demo_paths):
    from gemmacompare.ui.bench_tab import CHARTS_MIN_H

    w = make_window(qtbot, wait_ready=False)
    try:
        qtbot.waitExposed(w)
        w.tabs.setCurrentWidget(w.bench_tab)
        w.resize(1024, 640)
        qtbot.waitUntil(lambda: w.size().width() == 1024 and w.size().height() == 640, timeout=5_000)
        tab = w.bench_tab
        qtbot.waitUntil(lambda: tab.scroll_area.verticalScrollBar().maximum() > 0, timeout=5_000)  # it scrolls instead
        charts = (tab.charts.times, tab.charts.speed, tab.charts.accuracy)
        assert tab.charts.height() >= CHARTS_MIN_H  # was about 60 px
        assert all(c.height() >= CHARTS_MIN_H - 40 for c in charts), [c.height() for c in charts]
        assert tab.table.height() >= 120 and tab.scroll_area.horizontalScrollBar().maximum() == 0
        tab.scroll_area.ensureWidgetVisible(tab.charts)
        qtbot.waitUntil(lambda: tab.charts.visibleRegion().boundingRect().height() >= CHARTS_MIN_H, timeout=5_000)
        # On a large screen nothing scrolls: the tab fills the window.
        w.resize(1600, 1000)
        qtbot.waitUntil(lambda: tab.scroll_area.verticalScrollBar().maximum() == 0, timeout=5_000)
    finally:
        w.close()


@pytest.mark.gui
def test_send_while_a_model_loads_says_so_then_says_when_it_may_be_sent(qtbot, demo_paths):
    from gemmacompare.engine.api import LOADING_REASON, READY_AFTER_LOADING

    w = make_window(qtbot, wait_ready=False)
    try:
        qtbot.waitUntil(lambda: bool(w.runner.state.loading), timeout=10_000)
        w.prompt.setPlainText("Name three colours.")
        w.send()  # Ctrl+Enter at once, as a newcomer does
        assert w.banner.text() == LOADING_REASON and w.prompt.toPlainText() == "Name three colours."
        qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
        qtbot.waitUntil(lambda: w.banner.text() == READY_AFTER_LOADING, timeout=5_000)  # not left stale
    finally:
        w.close()
