"""Saves screenshots of the window's main states, driving it with the demo models.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUT_DIR]

States: idle (models loaded), streaming, finished with stats, a pane error,
presentation mode. The README shows docs/screenshot.png, copied from "finished".
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from gemmacompare.state.paths import use_scratch_home  # noqa: E402
from gemmacompare.state.settings_table import with_values  # noqa: E402

# A private home: screenshots never touch (or show) the user's own settings and chats.
use_scratch_home("gemmacompare-shots-")

from PySide6.QtWidgets import QApplication  # noqa: E402


def wait(app, cond, timeout=120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("window did not reach the expected state")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    w = MainWindow(load_settings())
    w.resize(1400, 900)
    w.show()
    wait(app, lambda: all(p.state == "ready" for p in w.panes))
    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 160})
    w.grab().save(str(out / "idle.png"))

    w.prompt.setPlainText("Explain in three short bullet points why the sky is blue.")
    w.send()
    wait(app, lambda: all(p.record and len(p.record.tokens) >= 25 for p in w.panes))
    w.grab().save(str(out / "streaming.png"))
    wait(app, lambda: not w.busy)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    w.grab().save(str(out / "finished.png"))

    bad = out / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    w.panes[1].set_model(str(bad))
    wait(app, lambda: "broken.gguf" in w.panes[1].state_label.text() and "Reading" not in w.panes[1].state_label.text())
    w.grab().save(str(out / "error.png"))
    bad.unlink()

    w.presentation_action.setChecked(True)
    for _ in range(10):
        app.processEvents()
        time.sleep(0.02)
    w.grab().save(str(out / "presentation.png"))
    w.presentation_action.setChecked(False)
    w.close()
    print(f"saved screenshots in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
