"""The window's Speculation A/B mode, driven offscreen with the real demo models (pytest-qt)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gemmacompare.state.settings import load_settings
from gemmacompare.state.settings_table import with_values
from gemmacompare.ui.main_window import MainWindow
from gemmacompare.ui.speculation_ab import TINT

pytestmark = pytest.mark.gui

REPEAT = ("Repeat this paragraph exactly: The lighthouse stood on a rock at the edge of the bay. Every night its "
          "keeper climbed the spiral stairs.")


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_settings(), None)
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
    yield w
    if w.ab_dialog is not None:
        w.ab_dialog.close()
    w.close()


def test_ab_mode_shows_both_replies_the_figures_and_tints_accepted_tokens(qtbot, window):
    w = window
    qtbot.keyClick(w.prompt, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert w.ab_radio.isChecked() and "Speculation A/B" in w.statusBar().currentMessage()
    # Without speculation in pane A's ⚙, the mode says what to set, in one sentence.
    w.prompt.setPlainText(REPEAT)
    w.send()
    assert "choose a draft model or n-gram lookup" in w.banner.text() and w.ab_dialog is None
    pane = w.panes[0]
    pane.settings = with_values(pane.settings, {"speculation": "ngram", "ngram_n": 3, "draft_max": 8,
                                                "max_tokens": 32, "n_threads": 1})
    w.prompt.setPlainText(REPEAT)
    w.send()
    dlg = w.ab_dialog
    assert dlg is not None
    assert "choose a draft model" not in w.banner.text() and "running in its own window" in w.banner.text()
    with qtbot.waitSignal(dlg.measured, timeout=240_000):
        pass
    result = dlg.ab_result
    assert result is not None and len(result.per_run_ms) == 3, dlg.status.text()
    plain, spec = (r.toPlainText() for r in dlg.replies)
    assert "lighthouse" in plain and "lighthouse" in spec
    figures = dlg.figures.text()
    assert "speed-up (plain over ngram ms/token)" in figures and "acceptance by draft position" in figures
    assert "ms/token" in dlg.speeds[0].text() and "ms/token" in dlg.speeds[1].text()
    assert result.draft is not None and result.draft.n_accepted > 0
    assert TINT in dlg.replies[1].toHtml() and TINT not in dlg.replies[0].toHtml()
    dlg.tint.setChecked(False)
    assert TINT not in dlg.replies[1].toHtml() and dlg.replies[1].toPlainText() == spec
    assert dlg.save_button.isEnabled()


def test_tinted_html_escapes_a_models_markup():
    from gemmacompare.engine.api import RunRecord
    from gemmacompare.engine.api import protocol as p
    from gemmacompare.ui.speculation_ab import tinted_html

    rec = RunRecord("x", 0.0)
    rec.add(p.Token(1, 0, 5, 0.1, "answer", "", "<b>bold</b>"))
    rec.add(p.Token(1, 1, 6, 0.2, "answer", "", " & more"))
    out = tinted_html(rec, {1})
    assert "&lt;b&gt;bold&lt;/b&gt;" in out and "<b>" not in out
    assert f'<span style="background-color:{TINT}"> &amp; more</span>' in out


def test_the_settings_dialog_sets_speculation(qtbot):
    from PySide6.QtWidgets import QComboBox, QLineEdit, QSpinBox

    from gemmacompare.state.settings_table import window_defaults
    from gemmacompare.ui.pane_settings import PaneSettingsDialog

    dlg = PaneSettingsDialog("A settings", window_defaults(), thinking_switch=False)
    qtbot.addWidget(dlg)
    kind, draft, most = dlg.fields["speculation"], dlg.fields["draft_model"], dlg.fields["draft_max"]
    assert isinstance(kind, QComboBox) and isinstance(draft, QLineEdit) and isinstance(most, QSpinBox)
    assert most.specialValueText() == "llama.cpp's" and most.value() == 0
    kind.setCurrentText("draft")
    draft.setText("  /models/draft.gguf ")
    most.setValue(5)
    got = dlg.value().load
    assert (got.speculation, got.draft_model, got.draft_max) == ("draft", "/models/draft.gguf", 5)
