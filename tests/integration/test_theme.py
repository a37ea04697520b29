"""The looks: text the user must read stands out from its background in each of them."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from gemmacompare.ui.theme import apply_theme

pytestmark = pytest.mark.gui


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours."""
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("look,presentation", [("light", False), ("dark", False), ("dark", True)])
def test_links_are_readable_in_every_look(qapp: QApplication, look: str, presentation: bool):
    """The example prompts are links: pure blue on the dark look's near-black was hard to read."""
    apply_theme(qapp, look, presentation)
    try:
        pal = qapp.palette()
        # A label's rich-text links take the Link colour (labels keep no visited state).
        ratio = contrast(pal.color(QPalette.ColorRole.Link), pal.color(QPalette.ColorRole.Window))
        assert ratio >= 4.5, f"{look}{' presentation' if presentation else ''}: links {ratio:.1f}:1"
    finally:
        apply_theme(qapp, "light")
