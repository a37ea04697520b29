"""A label for text from a file or a model: shown as text, never read as markup."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from gemmacompare.state.untrusted import terminal_safe


def plain_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def widget_text(text: object, max_len: int = 2000) -> str:
    """A stranger's text for a widget: bounded, and its control, bidi and format characters shown as escapes
    (a U+202E in a banner would draw the rest of the line backwards); newlines kept."""
    return terminal_safe(text, max_len, keep_newlines=True)
