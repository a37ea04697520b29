"""Python's cyclic garbage collector, run in the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is
crossed. When that is a background thread (demo discovery, the library scan, a
download) and the garbage holds Qt objects, their C++ destructors run off the
GUI thread; PySide then waits for the GIL inside the destructor and the app
hangs (seen: the demo-finder thread collecting a closed window's widgets).
So automatic collection is switched off and a timer in the GUI thread collects
with the same generation thresholds (the approach qutebrowser uses).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()
        gc.disable()

    def collect_due(self) -> None:
        count0, count1, count2 = gc.get_count()
        limit0, limit1, limit2 = gc.get_threshold()
        if count0 > limit0:
            gc.collect(0)
            if count1 > limit1:
                gc.collect(1)
                if count2 > limit2:
                    gc.collect(2)


def collect_in_gui_thread_only() -> None:
    """Once per application; later calls do nothing."""
    app = QApplication.instance()
    if app is not None and app.findChild(GuiThreadCollector) is None:
        GuiThreadCollector(app)
