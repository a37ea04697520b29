"""The prompt box and the strip of example prompts above it."""

from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QWidget

from gemmacompare.models.demo import DEMO_PROMPTS


class PromptEdit(QPlainTextEdit):
    """The prompt box: Ctrl+Enter sends; Up in an empty box recalls earlier prompts, Down goes back."""

    submitted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self._recalled = 0  # how far back Up has gone; 0: not recalling

    def remember(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self._recalled = 0

    def use(self, text: str) -> None:
        """Put `text` in the box, ready to send or edit."""
        self.setPlainText(text)
        self.moveCursor(QTextCursor.MoveOperation.End)
        self.setFocus()

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit()
            return
        recalling = self._recalled and self.toPlainText() == self.history[-self._recalled]
        if ev.key() == Qt.Key.Key_Up and self.history and (not self.toPlainText() or recalling) \
                and self._recalled < len(self.history):
            self._recall(self._recalled + 1)
            return
        if ev.key() == Qt.Key.Key_Down and recalling:
            self._recall(self._recalled - 1)
            return
        super().keyPressEvent(ev)

    def _recall(self, depth: int) -> None:
        self._recalled = depth
        self.setPlainText(self.history[-depth] if depth else "")
        self.moveCursor(QTextCursor.MoveOperation.End)


def examples_strip(window: QWidget, use: Callable[[str], None]) -> QLabel:
    """A few prompts both demo models really answer, for a first try: a click or Alt+1..3 fills the box.

    One wrapping line of links, not a row of buttons: buttons set a minimum width
    that made the window wider than a small screen.
    """
    links = " &nbsp;·&nbsp; ".join(f"<a href='{k}'>{k} {html.escape(text)}</a>"
                                   for k, (text, _expected) in enumerate(DEMO_PROMPTS, start=1))
    strip = QLabel(f"Try (Alt+1..{len(DEMO_PROMPTS)}): {links}")
    strip.setObjectName("examples")
    strip.setTextFormat(Qt.TextFormat.RichText)
    strip.setWordWrap(True)
    strip.setContentsMargins(6, 0, 6, 0)
    strip.linkActivated.connect(lambda k: use(DEMO_PROMPTS[int(k) - 1][0]))
    for k, (text, _expected) in enumerate(DEMO_PROMPTS, start=1):
        QShortcut(QKeySequence(f"Alt+{k}"), window, lambda t=text: use(t))
    return strip


__all__ = ["PromptEdit", "examples_strip"]
