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


def _link_pixels(label) -> list[QColor]:
    """The colours of the label's bluish, saturated pixels: its links' text."""
    img = label.grab().toImage()
    found = []
    for x in range(0, img.width(), 2):
        for y in range(0, img.height(), 2):
            c = img.pixelColor(x, y)
            if c.blue() - max(c.red(), c.green()) > 40:
                found.append(c)
    return found


def test_the_example_links_are_redrawn_in_the_new_looks_colour(qtbot, demo_paths):
    """Switched at run time (F11 from the light look), the links kept the light look's pure blue
    on black; they take the new look's link colour."""
    from tests.integration.test_gui import make_window

    w = make_window(qtbot, wait_ready=False)
    try:
        w.set_theme("light")
        assert _link_pixels(w.examples)
        for switch in (lambda: w.set_presentation(True), lambda: (w.set_presentation(False), w.set_theme("dark"))):
            switch()
            background = w.examples.palette().color(QPalette.ColorRole.Window)
            pixels = _link_pixels(w.examples)
            assert pixels and not any(c.name() == "#0000ff" for c in pixels)
            brightest = max(pixels, key=lambda c: c.lightness())
            assert contrast(brightest, background) >= 4.5, (w.theme_name, brightest.name())
    finally:
        w.set_presentation(False)
        w.set_theme("system")
        w.close()
