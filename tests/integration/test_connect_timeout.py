"""A server that does not answer the connect at all (firewalled, black-holed): the configured
connect timeout ends the wait with one sentence, in the engine, the CLI and a window pane."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.remote.worker import RemoteWorker
from gemmacompare.engine.run_settings import ServerSettings
from tests.fake_servers import FullBacklogListener


@pytest.fixture
def black_hole():
    listener = FullBacklogListener()
    try:
        if not listener.filled:
            pytest.skip("this kernel accepted every connect to a full listen(0) queue, so no connect hangs here")
        yield f"http://127.0.0.1:{listener.port}/v1"
    finally:
        listener.close()


def sentence(url: str, seconds: str) -> str:
    return f"Could not connect to {url} within {seconds} s; check that the server is running and reachable."


def test_engine_gives_up_at_the_configured_connect_timeout(black_hole):
    w = RemoteWorker("B", ServerSettings(connect_timeout_s=0.5))
    t0 = time.monotonic()
    with pytest.raises(p.WorkerFailed) as exc:
        w.load(black_hole)
    waited = time.monotonic() - t0
    assert exc.value.error.message == sentence(black_hole, "0.5")
    # The configured 0.5 s applied, not the 5 s default (a loose bound: this checks which
    # timeout ended the wait, not a speed).
    assert 0.4 < waited < 4.0


def test_cli_says_the_connect_timeout_in_one_sentence(black_hole):
    out = subprocess.run([sys.executable, "-m", "gemmacompare", "compare", "smollm2", black_hole, "-p", "hi",
                          "-n", "2", "--connect-timeout", "0.5"], capture_output=True, text=True, timeout=240)
    assert out.returncode != 0
    # Said once, where loading failed (not again when the prompt is sent); model A still ran.
    assert [line for line in out.stderr.splitlines() if "error" in line] == [
        f"[B] error: {sentence(black_hole, '0.5')}"], out.stderr
    assert "[A]" in out.stdout


@pytest.mark.gui
def test_pane_says_the_connect_timeout_and_the_other_pane_goes_on(qtbot, black_hole):
    from gemmacompare.state.settings import AppSettings, load_settings, pane_settings, save_settings
    from gemmacompare.ui.main_window import MainWindow

    # Pane B's timeouts as the server dialog stores them.
    save_settings(AppSettings(panes=(pane_settings(), pane_settings(server_connect_timeout_s=0.5))))
    w = MainWindow(load_settings(), ["smollm2", black_hole])
    qtbot.addWidget(w)
    w.show()
    local, remote = w.panes
    qtbot.waitUntil(lambda: remote.state == "error" and local.state == "ready", timeout=60_000)
    assert remote.state_label.text() == sentence(black_hole, "0.5")
    w.close()


@pytest.mark.gui
def test_server_dialog_sets_the_panes_timeouts(qtbot, monkeypatch, misbehaving_server):
    from PySide6.QtWidgets import QDialog

    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow
    from gemmacompare.ui.server_dialog import ServerDialog

    def fill_and_accept(dlg: ServerDialog) -> int:
        assert [s.value() for s in dlg.timeouts] == [5.0, 120.0, 60.0]  # the defaults
        dlg.url.setText(misbehaving_server.url("echo"))
        for spin, value in zip(dlg.timeouts, (1.5, 30.0, 9.0)):
            spin.setValue(value)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ServerDialog, "exec", fill_and_accept)
    w = MainWindow(load_settings(), ["smollm2", "smollm2"])
    qtbot.addWidget(w)
    w.show()
    pane = w.panes[1]
    qtbot.waitUntil(lambda: pane.state == "ready", timeout=60_000)
    pane.server_dialog()
    qtbot.waitUntil(lambda: pane.state == "ready" and pane.worker.remote, timeout=30_000)
    s = pane.settings
    assert (s.server.connect_timeout_s, s.server.first_byte_timeout_s, s.server.idle_timeout_s) == (1.5, 30.0, 9.0)
    st = pane.worker.settings
    assert (st.connect_timeout_s, st.first_byte_timeout_s, st.idle_timeout_s) == (1.5, 30.0, 9.0)
    w.close()
    assert load_settings().settings.panes[1].server.connect_timeout_s == 1.5  # kept for next time
