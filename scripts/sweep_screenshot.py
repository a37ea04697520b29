"""A screenshot of the Context sweep tab after a sweep, for the README (offscreen or on Xvfb).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/sweep_screenshot.py MODEL [MODEL ...] \
        [--depths 0,1k,4k] [-n 64] [--pp 512] [--reps 3] [--threads 0] [--out docs/context-sweep.png]

Runs the tab's own sweep on the given files (paths or demo keys), waits for it, then saves the whole
tab (controls, progress, both charts) and the two charts alone beside it (NAME-charts.png).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.state.paths import use_scratch_home  # noqa: E402

use_scratch_home("gemmacompare-sweep-shot-")  # never the user's own settings

from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description="Screenshot of the Context sweep tab after a sweep.")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--depths", default="0,1k,4k")
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/context-sweep.png"))
    ap.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait for the sweep")
    args = ap.parse_args()
    app = QApplication(sys.argv)
    from gemmacompare.models.demo import resolve_model_arg
    from gemmacompare.ui.sweep_tab import SweepTab

    tab = SweepTab()
    tab.set_models([str(resolve_model_arg(m, k)) for k, m in enumerate(args.models)])
    tab.depths_edit.setText(args.depths)
    tab.gen_spin.setValue(args.n)
    tab.pp_spin.setValue(args.pp)
    tab.reps_spin.setValue(args.reps)
    tab.threads_spin.setValue(args.threads)
    tab.charts.set_dark(False)  # the app's light theme, as the window applies it
    tab.resize(1280, 720)
    tab.show()
    tab.start()
    t0 = time.monotonic()
    while tab.running:
        app.processEvents()
        time.sleep(0.05)
        if time.monotonic() - t0 > args.timeout:
            tab.stop()
    app.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not tab.grab().save(str(args.out)):
        sys.exit(f"could not write {args.out}")
    charts = args.out.with_name(args.out.stem + "-charts.png")
    tab.charts.save_png(charts)
    print(f"wrote {args.out} and {charts}; {tab.status_label.text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
