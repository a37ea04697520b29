"""Light, dark and presentation (high-contrast, large) looks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

PANE_COLOURS = ["#2f7ed8", "#f28f1c", "#2ca25f", "#b05fd6"]  # A-D, readable on light and dark backgrounds

_DARK = {
    QPalette.ColorRole.Window: "#1e1f22", QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#26282c", QPalette.ColorRole.AlternateBase: "#2d3035",
    QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#2d3035",
    QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d6fb6",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2d3035",
    QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8f98",
    # Qt's default link blue (#0000ff) on near-black read badly: the example prompts' links.
    QPalette.ColorRole.Link: "#8ab4f8",
}
_CONTRAST = {**_DARK, QPalette.ColorRole.Window: "#000000", QPalette.ColorRole.Base: "#000000",
             QPalette.ColorRole.WindowText: "#ffffff", QPalette.ColorRole.Text: "#ffffff"}

STYLESHEET = """
#facts { color: palette(placeholder-text); }
#state[state="error"] { color: #d9534f; font-weight: bold; }
#state[state="loading"] { color: #b58900; }
#errorNotice { color: #d9534f; font-weight: bold; padding: 4px; }
#notice { color: palette(placeholder-text); padding: 4px; }
#thinking { color: palette(placeholder-text); font-style: italic; }
#stats { color: palette(placeholder-text); font-size: 90%; }
#userMessage { background: palette(alternate-base); border-radius: 6px; padding: 6px; }
#replyTitle { font-weight: bold; }
#raceBanner { font-weight: bold; padding: 2px 6px; }
/* Fusion fills a radio's indicator with the Base colour: on the dark and presentation
   palettes an unselected one read as selected. A ring when off, a filled dot when on. */
QRadioButton::indicator { width: 10px; height: 10px; border-radius: 7px;
                          border: 2px solid palette(window-text); background: transparent; }
QRadioButton::indicator:checked { background: palette(highlight); }
QRadioButton::indicator:disabled { border-color: palette(placeholder-text); }
"""


def resolve_theme(theme: str) -> str:
    if theme != "system":
        return theme
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def apply_theme(app: QApplication, theme: str, presentation: bool = False, base_point_size: float = 0) -> str:
    """Apply a look; returns the resolved name (light/dark/presentation)."""
    app.setStyle("Fusion")
    name = "presentation" if presentation else resolve_theme(theme)
    if name == "light":
        pal = app.style().standardPalette()
    else:
        pal = QPalette()
        for role, colour in (_CONTRAST if name == "presentation" else _DARK).items():
            pal.setColor(role, QColor(colour))
        # Without these, disabled buttons and text look exactly like enabled ones.
        for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
            pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7078"))
        pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button, QColor("#24262a"))
    app.setPalette(pal)
    font = app.font()
    if base_point_size > 0:
        font.setPointSizeF(base_point_size * (1.6 if presentation else 1.0))
        app.setFont(font)
    app.setStyleSheet(STYLESHEET)
    return name
