"""Starting the window: QApplication on a qasync event loop."""

from __future__ import annotations

import asyncio
import sys


def run_app(models: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    import qasync

    from gemmacompare.state.settings import load_settings

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("gemmacompare")
    app.setApplicationDisplayName("gemmacompare")
    window = MainWindow(load_settings(), models)
    window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0
