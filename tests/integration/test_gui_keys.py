"""The window sends a shared API key to one server only (issue 24, item 8)."""

from __future__ import annotations

import pytest

from tests.fake_servers import MisbehavingServer

pytestmark = pytest.mark.gui


def _authorizations(server: MisbehavingServer) -> set[str | None]:
    seen = [r["headers"] for r in server.gets + server.requests]
    assert seen, "the server was never asked"
    return {h.get("Authorization") for h in seen}


def test_two_server_panes_get_no_shared_key_nor_does_listing_models(qtbot, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow
    from gemmacompare.ui.server_dialog import ServerDialog

    monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-shared-gui-5555")
    with MisbehavingServer() as a, MisbehavingServer() as b, MisbehavingServer() as c:
        w = MainWindow(load_settings(), [a.url("echo"), b.url("echo")])
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=30_000)
        # Both panes load at once: whichever goes first, neither server gets the shared key.
        assert _authorizations(a) == {None} and _authorizations(b) == {None}

        def list_then_accept(dlg: ServerDialog) -> int:
            dlg.url.setText(c.url("echo"))
            dlg.refresh()  # "List models": pane A holds a server on another port
            return QDialog.DialogCode.Accepted

        monkeypatch.setattr(ServerDialog, "exec", list_then_accept)
        w.panes[1].server_dialog()
        qtbot.waitUntil(lambda: w.panes[1].state == "ready" and w.panes[1].model_path.startswith(c.url("echo")),
                        timeout=30_000)
        assert _authorizations(c) == {None}
        w.close()
