"""A pane whose model is on a server, beside a local demo model (offscreen window)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from gemmacompare.state.chat_log import chats_dir
from gemmacompare.state.settings import load_settings
from gemmacompare.state.settings_table import with_values
from gemmacompare.ui.main_window import MainWindow
from gemmacompare.ui.server_dialog import ServerDialog

pytestmark = pytest.mark.gui


def window(qtbot, models) -> MainWindow:
    w = MainWindow(load_settings(), models)
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    qtbot.waitUntil(lambda: all(p.state in ("ready", "error") for p in w.panes), timeout=60_000)
    return w


def ask(qtbot, w: MainWindow, text: str) -> None:
    w.prompt.setPlainText(text)
    with qtbot.waitSignal(w.compare_finished, timeout=120_000):
        qtbot.keyClick(w.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_server_pane_beside_a_local_one(qtbot, demo_paths, misbehaving_server, monkeypatch):
    monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-gui-test-KEY-987654")
    w = window(qtbot, [str(demo_paths["smollm2"]), misbehaving_server.url("llama-server-reasoning")])
    local, remote = w.panes
    assert remote.state == "ready" and remote.worker.remote
    assert "served remotely" in remote.state_label.text()
    assert remote.chooser.text().startswith("server model @ 127.0.0.1:")
    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 8})
    ask(qtbot, w, "What is 2+2?")
    reply = remote.chat.replies()[-1]
    assert reply.answer.text == "2 + 2 = 4."
    assert reply.think_toggle.text() == "Thinking (2 chunks)"
    stats = reply.stats.text()
    assert "6 tok (server-reported)" in stats and "5 chunks" in stats and "server 74.9 t/s" in stats
    assert "no threads here (server)" in stats
    assert "a server model takes none here" in w.banner.text()
    assert "Server-reported (usage+timings)" in reply.stats.toolTip()
    assert "t/s" in local.chat.replies()[-1].stats.text()
    # The history has both replies and never the key.
    chat = sorted(chats_dir().glob("*.jsonl"))[-1].read_text()
    assert "sk-gui-test" not in chat
    lines = [json.loads(x) for x in chat.splitlines()]
    assert [x["role"] for x in lines] == ["user", "assistant", "assistant"]
    w.close()


def test_cut_stream_is_kept_marked_and_the_other_pane_is_unaffected(qtbot, demo_paths, misbehaving_server):
    w = window(qtbot, [str(demo_paths["smollm2"]), misbehaving_server.url("cut")])
    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 8})
    ask(qtbot, w, "Tell me the answer.")
    local, remote = w.panes
    assert remote.chat.replies()[-1].answer.text == "The answer is forty"
    notices = [lab.text() for lab in remote.chat.findChildren(type(remote.state_label), "errorNotice")]
    assert any("cut the stream mid-answer" in t for t in notices)
    assert "stream cut" in remote.state_label.text()
    assert remote.messages[-1].content == "The answer is forty"  # kept for the next turn
    assert local.record.error is None and local.record.answer
    w.close()


def test_refused_server_gets_one_sentence_and_the_app_goes_on(qtbot, demo_paths):
    from tests.fake_servers import free_port

    w = window(qtbot, [str(demo_paths["smollm2"]), f"http://127.0.0.1:{free_port()}/v1"])
    local, remote = w.panes
    assert remote.state == "error" and "connection refused" in remote.state_label.text()
    assert local.state == "ready"
    w.close()


def test_server_dialog_lists_models_and_builds_the_reference(qtbot, misbehaving_server):
    dlg = ServerDialog("B", misbehaving_server.url("two-models"))
    qtbot.addWidget(dlg)
    dlg.refresh()
    assert [dlg.model.itemText(i) for i in range(dlg.model.count())] == ["alpha", "beta"]
    dlg.model.setCurrentIndex(1)
    assert dlg.value() == misbehaving_server.url("two-models", "beta")
    dlg.url.setText(f"http://127.0.0.1:{misbehaving_server.port}/401/v1")
    dlg.refresh()
    assert "2 models served" in dlg.status.text() or "served" in dlg.status.text()
    dlg.url.setText("ftp://nowhere")
    dlg.refresh()
    assert "is not a server URL" in dlg.status.text()
