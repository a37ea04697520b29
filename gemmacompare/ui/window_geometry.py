"""Where the window opens the first time, before any geometry was saved."""

from __future__ import annotations

from PySide6.QtCore import QRect

# Share of the screen's available area (without panels and docks) to use: big
# enough for two panes and the charts, with room left to see it is a window.
FIRST_START_FRACTION = 0.8


def first_start_geometry(available: QRect, fraction: float = FIRST_START_FRACTION) -> QRect:
    w = round(available.width() * fraction)
    h = round(available.height() * fraction)
    rect = QRect(0, 0, w, h)
    rect.moveCenter(available.center())
    return rect
