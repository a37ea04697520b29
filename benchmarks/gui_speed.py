"""The window's own cost while both demo models stream.

Reports, in one run:
- time from process start to an interactive window (models still loading),
- event-loop lag p50/p99 from a 5 ms probe timer while both panes stream,
- generation t/s seen by the engine with the window open vs headless
  (ComparePair, same prompt, same mode and threads), medians and ratio,
- the app's own RSS, apart from the worker processes.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_speed.py [--reps 3] [--tokens 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

T_PROCESS_START = time.monotonic()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GEMMACOMPARE_HOME", tempfile.mkdtemp(prefix="gemmacompare-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "Write a short story about a lighthouse keeper."


def pump(app, cond, timeout=300.0) -> None:
    t0 = time.monotonic()
    while not cond():
        app.processEvents()
        time.sleep(0.002)
        if time.monotonic() - t0 > timeout:
            raise TimeoutError


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--no-charts", action="store_true", help="hide the charts (to see their share of the lag)")
    args = ap.parse_args()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    w = MainWindow(load_settings())
    w.resize(1400, 900)
    w.show()
    if args.no_charts:
        w.set_charts_visible(False)
    app.processEvents()
    t_interactive = time.monotonic() - T_PROCESS_START
    pump(app, lambda: all(p.state == "ready" for p in w.panes))
    t_models = time.monotonic() - T_PROCESS_START
    for p in w.panes:
        p.settings = replace(p.settings, max_tokens=args.tokens)

    lags: list[float] = []
    last = [time.monotonic()]
    probe = QTimer()
    probe.setInterval(5)

    def tick() -> None:
        now = time.monotonic()
        lags.append(max(0.0, (now - last[0]) * 1000 - 5))
        last[0] = now

    probe.timeout.connect(tick)

    import psutil

    me = psutil.Process()
    gui_tps: list[list[float]] = [[], []]
    rss_app = []
    for _ in range(args.reps):
        w.prompt.setPlainText(PROMPT)
        last[0] = time.monotonic()
        probe.start()
        w.send()
        if os.environ.get("GUI_PROFILE"):
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            pump(app, lambda: not w._running)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        else:
            pump(app, lambda: not w._running)
        probe.stop()
        rss_app.append(me.memory_info().rss)
        for i, p in enumerate(w.panes):
            gui_tps[i].append(p.record.stats().gen_tps)
        w.new_chat()
    # Closing mid-generation: how long until the window and both workers are gone.
    for p in w.panes:
        p.settings = replace(p.settings, max_tokens=100000)
    w.prompt.setPlainText(PROMPT)
    w.send()
    pump(app, lambda: all(p.record and p.record.tokens for p in w.panes))
    pids = [p.runner.worker.pid for p in w.panes]
    t0 = time.monotonic()
    w.close()
    t_close = time.monotonic() - t0
    left = [pid for pid in pids if pid and psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    app.processEvents()

    from gemmacompare.engine import protocol as pr
    from gemmacompare.engine.compare import ComparePair
    from gemmacompare.models.demo import demo_models

    paths = [str(d.path) for d in demo_models()[:2]]
    head_tps: list[list[float]] = [[], []]
    with ComparePair(("A", "B")) as pair:
        pair.load(paths, pr.LoadSettings(n_ctx=4096))
        for _ in range(args.reps):
            res = pair.run(lambda i: pr.GenerateCommand(1, messages=(pr.ChatMessage("user", PROMPT),),
                                                        sampling=pr.SamplingSettings(max_tokens=args.tokens)),
                           mode="race")
            for i, run in enumerate(res.runs):
                if run.error or not run.stats().gen_tps:
                    print(f"headless run {i} failed: {run.error or run.stats()}")
                    continue
                head_tps[i].append(run.stats().gen_tps)

    med = statistics.median
    q = statistics.quantiles(lags, n=100, method="inclusive")
    print(f"launch to interactive window   {t_interactive:.2f} s   (both models ready at {t_models:.2f} s)")
    print(f"event-loop lag while streaming p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {max(lags):.1f} ms "
          f"({len(lags)} probes)")
    for i, name in enumerate(("A (SmolLM2-135M)", "B (Gemma-3-270M)")):
        g, h = med(gui_tps[i]), med(head_tps[i])
        print(f"{name}: window {g:.1f} t/s, headless {h:.1f} t/s, ratio {g / h:.3f}  (race mode, medians of {args.reps})")
    print(f"app RSS without workers        {med(rss_app) / 2**20:.0f} MiB")
    print(f"close during generation        {t_close:.2f} s, worker processes left: {len(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
