"""Where the window opens the first time, before any geometry was saved."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

# Share of the screen's available area (without panels and docks) to use: big
# enough for two panes and the charts, with room left to see it is a window.
FIRST_START_FRACTION = 0.8
# Below this available height (a 1280x720 or 1366x768 laptop), 80% left the
# answers 70 px tall under the charts: the window opens maximized there.
SMALL_SCREEN_HEIGHT = 900


def opens_maximized(available: QRect) -> bool:
    return available.height() < SMALL_SCREEN_HEIGHT


def first_start_geometry(available: QRect, minimum: QSize = QSize(0, 0),
                         fraction: float = FIRST_START_FRACTION) -> QRect:
    """A centred rectangle of `fraction` of the available area, never smaller
    than the window's minimum (Qt would grow it, off centre) nor the screen.
    On a small screen it is the size the maximized window restores to."""
    w = min(available.width(), max(round(available.width() * fraction), minimum.width()))
    h = min(available.height(), max(round(available.height() * fraction), minimum.height()))
    rect = QRect(0, 0, w, h)
    rect.moveCenter(available.center())
    return rect
