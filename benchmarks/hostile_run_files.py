"""Time and peak memory of each hostile run file (tests/hostile_run_files.py) through `replay`,
`rerun` and the window's replay viewer, each in a process of its own (issue 30's closing note).

    .venv/bin/python benchmarks/hostile_run_files.py [--cases NAME,...]

A case's peak memory is its process's largest RSS, sampled every 5 ms, the interpreter and the
app's imports included; the time is the process's wall time, start-up included. Run it when the
machine is quiet and say what ran beside it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_run_files import hostile_run_files  # noqa: E402

TIMEOUT_S = 300


def measure(argv: list[str]) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit status) of one child process."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    # Sampled, not ru_maxrss: Linux starts a child's maxrss at its parent's size when it forks (this
    # process holds the corpus), so every case would read at least that.
    child = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss)
        except psutil.Error:
            pass
        if time.monotonic() - t0 > TIMEOUT_S:
            proc.kill()
            proc.wait()
            return time.monotonic() - t0, peak, -9
        time.sleep(0.005)
    return time.monotonic() - t0, peak, proc.returncode


def view_one(path: str) -> int:
    """The window's Open run on one file, played to its end (run in a child by main)."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from gemmacompare.engine.run_file import RunFileError, read_run_file
    from gemmacompare.ui.run_viewer import RunViewer

    app = QApplication([])  # noqa: F841 - held while the viewer lives
    try:
        run = read_run_file(path)
    except RunFileError:
        return 1
    viewer = RunViewer(run, Path(path).name)
    viewer.show()
    viewer.start()
    viewer.jump_to_end()
    QTest.qWait(300)  # the charts' refresh timer draws the whole run at least once
    viewer.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--view-one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.view_one:
        return view_one(args.view_one)
    py = sys.executable
    with tempfile.TemporaryDirectory() as d:
        corpus = hostile_run_files(Path(d))
        wanted = [c for c in args.cases.split(",") if c] or list(corpus)
        print(f"{'case':30} {'expected':8} | {'replay s':>8} {'MiB':>5} rc | {'rerun s':>7} {'MiB':>5} rc | "
              f"{'viewer s':>8} {'MiB':>5} rc")
        for case in wanted:
            path, expected = corpus[case]
            row = [f"{case:30} {expected:8}"]
            for argv in ([py, "-m", "gemmacompare", "replay", str(path), "--speed", "1000"],
                         [py, "-m", "gemmacompare", "rerun", str(path)],
                         [py, __file__, "--view-one", str(path)]):
                took, rss, rc = measure(argv)
                row.append(f"{took:8.2f} {rss / 2**20:5.0f} {rc:2d}")
            print(" | ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
