"""Starting the window: QApplication on a qasync event loop."""

from __future__ import annotations

import asyncio
import sys


def run_app(models: list[str] | None = None) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    from gemmacompare.state.settings import load_settings

    from .main_window import MainWindow

    found = QApplication.instance()
    app = found if isinstance(found, QApplication) else QApplication(sys.argv)
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


def paint_window_once(timeout_s: float = 60.0) -> str:
    """Opens the main window, waits until it has painted, closes it; for the self-test.

    Runs offscreen unless a Qt platform was chosen, and saves its settings to a
    scratch file so the user's own are untouched. Returns a one-line report.
    """
    import os
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = tempfile.TemporaryDirectory(prefix="gemmacompare-selftest-")
    saved_env = os.environ.get("GEMMACOMPARE_SETTINGS")
    os.environ["GEMMACOMPARE_SETTINGS"] = os.path.join(scratch.name, "settings.json")
    try:
        return _paint_and_close(timeout_s)
    finally:
        if saved_env is None:
            os.environ.pop("GEMMACOMPARE_SETTINGS", None)
        else:
            os.environ["GEMMACOMPARE_SETTINGS"] = saved_env
        scratch.cleanup()


def _paint_and_close(timeout_s: float) -> str:
    import os
    import threading
    import time

    import psutil

    t0 = time.monotonic()
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QWidget

    from gemmacompare.state.settings import AppSettings, LoadedSettings

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(LoadedSettings(AppSettings()))
    painted: list[float] = []

    class PaintWatch(QObject):
        def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802
            if not painted and ev.type() == QEvent.Type.Paint and isinstance(obj, QWidget) and obj.window() is window:
                painted.append(time.monotonic())
            return False

    watch = PaintWatch()
    app.installEventFilter(watch)
    window.show()
    deadline = t0 + timeout_s
    while not painted and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    app.removeEventFilter(watch)
    if not painted:
        window.close()
        raise RuntimeError(f"the main window did not paint within {timeout_s:.0f} s")
    image = window.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 37)}
    size = f"{image.width()}x{image.height()}"
    t_close = time.monotonic()
    window.close()
    # Demo discovery runs in a thread at start; let it finish so nothing
    # outlives the window (a closed window ignores what it finds).
    for t in threading.enumerate():
        if t.name == "demo-models":
            t.join(timeout_s)
    app.processEvents()
    close_s = time.monotonic() - t_close
    window.deleteLater()
    app.processEvents()
    paint_wall = time.time() - (time.monotonic() - painted[0])
    since_start = paint_wall - psutil.Process().create_time()
    if len(colours) < 3:
        raise RuntimeError(f"the main window painted a blank {size} image")
    return (f"first paint {painted[0] - t0:.2f} s after the window step began, {since_start:.2f} s after the process "
            f"started · {size}, {len(colours)} colours sampled · closed in {close_s:.2f} s "
            f"({os.environ['QT_QPA_PLATFORM']})")
