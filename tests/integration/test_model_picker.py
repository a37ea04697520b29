"""The window's model picker and Get models dialog, offscreen, on a realistic home folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gemmacompare.state.settings import load_settings
from gemmacompare.ui.main_window import MainWindow
from tests.integration.test_hub_downloads import SMOL_REPO, fake_hub, hub_files  # noqa: F401 - fixtures
from tests.library_tree import build_home

pytestmark = pytest.mark.gui


@pytest.fixture
def user_home(demo_paths) -> tuple[Path, dict[str, str]]:
    home = Path(os.environ["HOME"])
    return home, build_home(home, demo_paths["smollm2"], demo_paths["gemma3"])


def _window(qtbot, models=None) -> MainWindow:
    w = MainWindow(load_settings(), models)
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    qtbot.waitUntil(lambda: w.library is not None, timeout=30_000)
    return w


def visible_paths(popup) -> list[str]:
    """The model paths the picker shows now, in its order."""
    return [g.child(ci).data(0, Qt.ItemDataRole.UserRole)
            for g in (popup.tree.topLevelItem(gi) for gi in range(popup.tree.topLevelItemCount()))
            for ci in range(g.childCount()) if not g.child(ci).isHidden()]


def _find_item(popup, path: str):
    for gi in range(popup.tree.topLevelItemCount()):
        g = popup.tree.topLevelItem(gi)
        for ci in range(g.childCount()):
            if g.child(ci).data(0, Qt.ItemDataRole.UserRole) == path:
                return g.child(ci)
    raise AssertionError(f"{path} not in the picker")


def test_picker_filters_and_an_ollama_entry_loads(qtbot, user_home, demo_paths):
    _home, expected = user_home
    w = _window(qtbot)
    qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
    a, b = w.panes
    a.chooser.open_popup()
    popup = a.chooser.popup
    groups = [popup.tree.topLevelItem(i).text(0) for i in range(popup.tree.topLevelItemCount())]
    assert groups == ["Demo models", "Hugging Face cache", "LM Studio", "Ollama", "llama.cpp cache", "GPT4All", "Jan"]
    qtbot.keyClicks(popup.search, "ollama")
    ollama = {v for k, v in expected.items() if k.startswith("ollama:")}
    assert set(visible_paths(popup)) == ollama
    popup.search.clear()
    qtbot.keyClicks(popup.search, "q4_k_m gemma")
    assert visible_paths(popup) == [str(demo_paths["gemma3"]),
                                    expected["lmstudio:lmstudio-community/gemma-3-270m-it-GGUF:Q4_K_M"],
                                    expected["ollama:hf.co/ggml-org/gemma3-270m:Q4_K_M"]]
    popup.search.clear()
    qtbot.keyClicks(popup.search, "smollm2:135m")
    assert visible_paths(popup) == [expected["ollama:smollm2:135m"]]
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)  # Enter picks the first match
    assert not popup.isVisible()
    qtbot.waitUntil(lambda: a.state == "ready" and a.model_path == expected["ollama:smollm2:135m"], timeout=60_000)
    assert "llama" in a.facts_label.text() and "Q4_1" in a.facts_label.text()
    assert "smollm2:135m" in a.chooser.text() and "Ollama" in a.chooser.text()
    # The other pane's picker marks the model loaded in A.
    b.chooser.open_popup()
    item = _find_item(b.chooser.popup, expected["ollama:smollm2:135m"])
    assert item.text(0).endswith("◆ loaded in A")
    b.chooser.popup.hide()
    w.close()


def test_nothing_found_says_where_it_looked(qtbot):
    w = _window(qtbot)
    a = w.panes[0]
    a.chooser.open_popup()
    note = a.chooser.popup.note.text()
    assert note.startswith("No GGUF models found in other tools' folders") and ".ollama/models" in note
    assert visible_paths(a.chooser.popup)  # the demo models are still offered
    a.chooser.popup.hide()
    w.close()


def test_command_line_takes_library_names(qtbot, user_home, monkeypatch):
    from tests.fake_servers import free_port

    _home, expected = user_home
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")  # no Ollama server either
    w = _window(qtbot, ["ollama:smollm2:latest", "ollama:smolm2"])
    a = w.panes[0]
    qtbot.waitUntil(lambda: a.state == "ready", timeout=60_000)
    assert a.model_path == expected["ollama:smollm2:latest"]
    qtbot.waitUntil(lambda: w.banner.text().startswith("No Ollama model"), timeout=10_000)
    assert w.banner.text().startswith("No Ollama model 'smolm2' on disk (closest: ollama:smollm2")
    assert "and no Ollama server answers at http://127.0.0.1:" in w.banner.text()
    w.close()


def test_get_models_dialog_downloads_with_progress_and_the_model_appears(qtbot, fake_hub, tmp_path):  # noqa: F811
    w = _window(qtbot)
    w.open_get_models()
    dlg = w.get_models_dialog
    assert dlg.suggested.count() == 2 and "Gemma 4 E2B" in dlg.suggested.item(0).text()
    dlg.repo.setText("google/gemma-gated-GGUF")
    fake_hub.repos["google/gemma-gated-GGUF"].gated = True
    dlg.list_files()
    qtbot.waitUntil(lambda: "is gated or private" in dlg.status.text(), timeout=30_000)
    assert "HF_TOKEN" in dlg.status.text() and not dlg.busy
    dlg.repo.setText(SMOL_REPO)
    dlg.list_files()
    qtbot.waitUntil(lambda: dlg.table.rowCount() == 2, timeout=30_000)
    assert dlg.selected_model().quant == "Q4_K_M"  # preselected, as pull does
    values = []
    dlg.relay.progress.connect(lambda p: values.append(dlg.progress.value()))
    with qtbot.waitSignal(dlg.downloaded, timeout=60_000) as done:
        qtbot.mouseClick(dlg.download_button, Qt.MouseButton.LeftButton)
    assert values and values[-1] == 1000 and "MiB" in dlg.progress.format()
    path = done.args[0]
    qtbot.waitUntil(lambda: w.library is not None and any(e.path == path for e in w.library.entries), timeout=30_000)
    dlg.close()
    w.close()


def test_get_models_dialog_cancel_then_resume(qtbot, fake_hub):  # noqa: F811
    fake_hub.throttle = 0.05
    w = _window(qtbot)
    w.open_get_models()
    dlg = w.get_models_dialog
    dlg.repo.setText(f"{SMOL_REPO}:Q4_K_M")
    dlg.list_files()
    qtbot.waitUntil(lambda: dlg.selected_model() is not None and not dlg.busy, timeout=30_000)
    dlg.start_download()
    qtbot.waitUntil(lambda: dlg.progress.value() > 0, timeout=30_000)
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy and dlg.download_button.text() == "Resume", timeout=30_000)
    assert dlg.status.text().startswith("Cancelled.")
    fake_hub.throttle = 0.0
    with qtbot.waitSignal(dlg.downloaded, timeout=60_000):
        qtbot.mouseClick(dlg.download_button, Qt.MouseButton.LeftButton)
    dlg.close()
    w.close()


@pytest.mark.parametrize("where", ["refused", "unresolvable"])
def test_get_models_says_within_two_seconds_that_the_hub_cannot_be_reached(qtbot, monkeypatch, tmp_path, where):
    import time

    from tests.fake_servers import free_port

    url = f"http://127.0.0.1:{free_port()}" if where == "refused" else "http://no-such-hub.invalid"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    w = _window(qtbot)
    w.open_get_models()
    dlg = w.get_models_dialog
    dlg.repo.setText(SMOL_REPO)
    t0 = time.monotonic()
    dlg.list_files()
    qtbot.waitUntil(lambda: "cannot be reached" in dlg.status.text(), timeout=10_000)
    assert time.monotonic() - t0 < 3.0  # not the 15-24 s of hidden retries
    reason = "refused the connection" if where == "refused" else "cannot be resolved"
    assert reason in dlg.status.text() or "did not answer" in dlg.status.text(), dlg.status.text()
    assert not dlg.busy and dlg.list_button.isEnabled()
    dlg.close()
    w.close()


def test_get_models_marks_a_file_on_disk_and_uses_it_without_the_network(qtbot, fake_hub):  # noqa: F811
    w = _window(qtbot)
    w.open_get_models()
    dlg = w.get_models_dialog
    dlg.repo.setText(f"{SMOL_REPO}:Q4_K_M")
    dlg.list_files()
    qtbot.waitUntil(lambda: dlg.selected_model() is not None and not dlg.busy, timeout=30_000)
    with qtbot.waitSignal(dlg.downloaded, timeout=60_000) as first:
        dlg.start_download()
    dlg.list_files()  # again: now the file is in the Hugging Face cache
    qtbot.waitUntil(lambda: dlg.selected_model() is not None and not dlg.busy, timeout=30_000)
    assert "on disk" in dlg.table.item(0, 0).text() + dlg.table.item(1, 0).text()
    assert dlg.download_button.text() == "Use (on disk)"
    fake_hub.stop()  # no network from here on
    with qtbot.waitSignal(dlg.downloaded, timeout=5_000) as again:
        qtbot.mouseClick(dlg.download_button, Qt.MouseButton.LeftButton)
    assert again.args[0] == first.args[0]
    dlg.close()
    w.close()


def test_listing_can_be_cancelled_while_the_hub_stalls(qtbot, monkeypatch, tmp_path):
    import socket

    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(8)  # takes the connection, never answers
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{stall.getsockname()[1]}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    try:
        w = _window(qtbot)
        w.open_get_models()
        dlg = w.get_models_dialog
        dlg.repo.setText(SMOL_REPO)
        dlg.list_files()
        assert dlg.cancel_button.isEnabled() and dlg.cancel_button.text() == "Cancel"
        qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
        assert dlg.status.text() == "Stopped waiting for the Hub." and dlg.list_button.isEnabled()
        dlg.close()
        w.close()
    finally:
        stall.close()


def test_the_last_panes_picker_stays_within_the_screen(qtbot, demo_paths):
    w = MainWindow(load_settings(), [])
    qtbot.addWidget(w)
    w.show()
    w.add_pane()
    screen = w.screen().availableGeometry()  # offscreen: 800 × 800, narrower than the popup's 720 + the pane's x
    try:
        for pane in w.panes:
            pane.chooser.open_popup()
            popup = pane.chooser.popup
            # (the offscreen platform puts a window 2 px off where it is moved to: a frame it does not draw)
            assert screen.adjusted(-4, -4, 4, 4).contains(popup.frameGeometry()), (pane.label, popup.frameGeometry())
            assert popup.width() >= min(600, screen.width())  # as wide as there is room for, not squeezed
            popup.hide()
        assert w.panes[2].chooser.mapToGlobal(w.panes[2].chooser.rect().bottomLeft()).x() + 720 > screen.right()
    finally:
        w.close()


def test_presentation_mode_at_1280x720_keeps_each_pickers_quantisation_and_demo_mark(qtbot, demo_paths):
    from gemmacompare.ui.model_picker import elide_keeping_quant

    w = MainWindow(load_settings(), None)
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    try:
        w.add_pane()
        w.panes[2].set_model(str(demo_paths["smollm2"]))
        qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
        w.set_presentation(True)
        # The room's screen is 1280 x 720 (the offscreen screen is 800 x 800: the look, at that size).
        w.setWindowState(w.windowState() & ~Qt.WindowState.WindowFullScreen)
        qtbot.wait(100)
        w.resize(1280, 720)
        qtbot.waitUntil(lambda: w.width() == 1280, timeout=5_000)
        texts = [p.chooser.text() for p in w.panes]
        assert all("…" in t for t in texts), texts  # three panes in large type: the names are cut
        assert texts[0].startswith("Smol") and texts[0].endswith("Q4_1 (demo)  ▾"), texts
        assert texts[1].startswith("Gem") and texts[1].endswith("Q4_K_M (demo)  ▾"), texts
        assert all(p.chooser.fontMetrics().horizontalAdvance(t) <= p.chooser.width() for p, t in zip(w.panes, texts))
        assert "Q4_K_M base (demo)" in w.panes[1].chooser.toolTip()  # the whole name a hover away
    finally:
        w.set_presentation(False)
        w.close()

    # The cut itself, from wide to nothing, on names with and without a quantisation.
    fm = w.fontMetrics()
    for text in ("SmolLM2-135M-Instruct Q4_1 (demo)", "gemma-3-4b-it-qat-Q4_0  ·  LM Studio", "Qwen3-4B",
                 "IQ2_XS", "", "x" * 5000, "model.F16 (demo)", "a Q4_K_M b Q8_0 c"):
        for room in (0, 10, 60, 120, 200, 400, 4000):
            out = elide_keeping_quant(text, fm, room)
            assert fm.horizontalAdvance(out) <= max(room, fm.horizontalAdvance("…")), (text, room, out)
    wide = "SmolLM2-135M-Instruct Q4_1 (demo)"
    assert elide_keeping_quant(wide, fm, 4000) == wide
    assert elide_keeping_quant(wide, fm, fm.horizontalAdvance("SmolLM2-1… Q4_1 (demo)")).endswith(" Q4_1 (demo)")
    lib = "gemma-3-4b-it Q4_K_M  ·  LM Studio"
    assert elide_keeping_quant(lib, fm, fm.horizontalAdvance("gemma-3-4b-it Q4_K_M")) == "gemma-3-4b-it Q4_K_M"


def test_three_panes_in_presentation_mode_at_1024x640_keep_each_reply_within_its_pane(qtbot, demo_paths):
    """Large type in three narrow panes: a model's name as the reply's title widened the chat's content past
    its pane, so every stats line was cut at the right edge."""
    from tests.integration.test_gui import ask, set_short

    w = MainWindow(load_settings(), None)
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    try:
        w.add_pane()
        w.panes[2].set_model(str(demo_paths["smollm2"]))
        qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
        w.set_presentation(True)
        w.setWindowState(w.windowState() & ~Qt.WindowState.WindowFullScreen)
        qtbot.wait(100)
        w.resize(1024, 640)
        qtbot.waitUntil(lambda: w.width() == 1024, timeout=5_000)
        set_short(w, 6)
        ask(qtbot, w, "What is the opposite of hot?")
        ask(qtbot, w, "What is 2 + 3?")  # a second exchange: the chat scrolls
        qtbot.wait(200)
        for p in w.panes:
            content, view = p.chat.widget(), p.chat.viewport()
            assert content.width() <= view.width(), (p.label, content.width(), view.width())
    finally:
        w.set_presentation(False)
        w.close()
