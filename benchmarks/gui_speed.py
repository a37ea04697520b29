"""The window's own cost while both demo models stream.

Reports, in one run:
- time from process start to an interactive window (models still loading),
- event-loop lag p50/p99 from a 5 ms probe timer while both panes stream,
- generation t/s seen by the engine with the window open vs headless
  (the compare session, same prompt, same mode and threads), medians and ratio, also
  counted only while both models generate (a reply's own t/s includes the
  stretch it runs alone once the other is done),
- the app's own RSS, apart from the worker processes.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_speed.py [--reps 3] [--tokens 128]

With --source replay, both panes are fed at GPU-class rates instead (see
benchmarks/gui_replay.py: the real worker pipe and everything above it, a
recorded-style stream of real token texts below it) and it reports event-loop
lag, the backlog from a token's arrival to its paint, chart refresh cost
against answer length and the app's CPU per token:

    .venv/bin/python benchmarks/gui_speed.py --source replay [--rate 1000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

T_PROCESS_START = time.monotonic()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gemmacompare.engine.report.intervals import TOO_FEW, positive_interval  # noqa: E402
from gemmacompare.state.paths import use_scratch_home  # noqa: E402
from gemmacompare.state.settings_table import with_values  # noqa: E402

use_scratch_home("gemmacompare-bench-")

PROMPT = "Write a short story about a lighthouse keeper."
RAW_PROMPT = "Once upon a time, a lighthouse keeper"
RAW = False  # --raw: raw completion in both the window and the headless runs


def pump(app, cond, timeout=300.0, wake=None) -> None:
    """Run Qt's event loop, as the app does, until cond().

    cond() is checked whenever the Qt signal `wake` fires, or at 20 Hz when
    there is none. A processEvents()/sleep loop would add its own wake-ups to
    the CPU figures; while the window streams, even the 20 Hz check would add
    ten a second that the app itself does not have.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    if cond():
        return
    loop = QEventLoop()
    t0 = time.monotonic()
    timed_out = []

    def check() -> None:
        if cond():
            loop.quit()
        elif time.monotonic() - t0 > timeout:
            timed_out.append(True)
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    if wake is None:
        timer.setInterval(50)
    else:
        wake.connect(check)
        timer.setSingleShot(True)
        timer.setInterval(int(timeout * 1000) + 1)
    timer.start()
    loop.exec()
    timer.stop()
    if wake is not None:
        wake.disconnect(check)
    if timed_out:
        raise TimeoutError


def overlap_tps(runs) -> list[float] | None:
    """Each model's t/s over the span when both were generating (the later
    first token to the earlier last token). A reply's gen t/s also counts the
    stretch it runs alone after the other model finished, whose length moves
    with the other model's speed; this one compares like with like."""
    times = [[tok.t for tok in r.tokens] for r in runs]
    if len(times) != 2 or any(len(t) < 2 for t in times):
        return None
    start, end = max(t[0] for t in times), min(t[-1] for t in times)
    if end - start < 1.0:
        return None
    return [sum(1 for x in t if start < x <= end) / (end - start) for t in times]


def add_each(lists: list[list[float]], values: list[float] | None) -> None:
    """Append values[i] to lists[i] (nothing when a rep gave no values)."""
    for dest, v in zip(lists, values or ()):
        dest.append(v)


def demo_pair(n_models: int = 2):
    """The demo models in a compare session, loaded as the window's panes load
    them (a third is SmolLM2 again); a model that failed to load has its
    sentence in pair.load_errors."""
    from gemmacompare.engine import protocol as pr
    from gemmacompare.engine.session import CompareSession
    from gemmacompare.models.demo import demo_models

    paths = [str(d.path) for d in demo_models()[:2]]
    paths = (paths * 2)[:n_models]
    pair = CompareSession(["A", "B", "C", "D"][:n_models])
    pair.load(paths, pr.LoadSettings(n_ctx=4096))
    return pair


def headless_race(pair, tokens: int):
    """One headless race on PROMPT: what each window rep is compared with."""
    from gemmacompare.engine import protocol as pr

    if RAW:  # raw completion: both models write to max tokens, whatever their templates or frames do
        return pair.run(lambda i: pr.GenerateCommand(1, raw_prompt=RAW_PROMPT,
                                                     sampling=pr.SamplingSettings(max_tokens=tokens)), mode="race")
    return pair.run(lambda i: pr.GenerateCommand(1, messages=(pr.ChatMessage("user", PROMPT),),
                                                 sampling=pr.SamplingSettings(max_tokens=tokens)), mode="race")


def mean_interval(values: list[float]) -> str:
    """The ratios' 95% interval, on the log scale (a ratio's interval never reaches zero): how far a few
    reps on this machine can be trusted (single reps of identical runs spread ±10% here)."""
    if len(values) < 2:
        return f" ({TOO_FEW})"
    mean, lo, hi = positive_interval(values)
    if lo is None or hi is None:
        return f" ({TOO_FEW})"
    return f", geometric mean {mean:.3f} (95% CI {lo:.3f}-{hi:.3f})"


def ratio_line(window: list[float], headless: list[float], names: tuple[str, str] = ("window", "headless")) -> str:
    """Window vs headless t/s: medians, their ratio, and the per-rep ratios.

    Each window rep is paired with the headless rep right after it, so the
    median of the pairs' ratios is less moved by a slow spell of the machine
    than the ratio of the two medians.
    """
    med = statistics.median
    per_rep = [a / b for a, b in zip(window, headless)]
    return (f"{names[0]} {med(window):.1f} t/s, {names[1]} {med(headless):.1f} t/s, "
            f"ratio {med(window) / med(headless):.3f}, "
            f"median of paired ratios {med(per_rep):.3f}{mean_interval(per_rep)}  "
            f"(per-rep ratios {', '.join(f'{r:.3f}' for r in per_rep)})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", choices=("models", "replay"), default="models",
                    help="models: both demo models stream for real; replay: a token stream at --rate")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--raw", action="store_true",
                    help="raw completion (no template or base-model frame): every model writes to --tokens, "
                         "so runs of different versions compare like with like")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rate", type=float, default=1000.0, help="replay: tokens/s per pane")
    ap.add_argument("--seconds", type=float, default=20.0, help="replay: length of each answer in seconds")
    ap.add_argument("--no-probe", action="store_true", help="replay: no lag probe (its 200 Hz timer costs CPU)")
    ap.add_argument("--paint-tally", action="store_true",
                    help="replay: list what was repainted, by widget (the filter costs CPU itself)")
    ap.add_argument("--no-charts", action="store_true", help="hide the charts (to see their share of the lag)")
    ap.add_argument("--panes", type=int, choices=(2, 3, 4), default=2,
                    help="models side by side (a third and fourth are the demo models again)")
    args = ap.parse_args()
    global RAW
    RAW = args.raw
    if args.source == "replay":
        from gui_replay import run_replay

        return run_replay(args, T_PROCESS_START, pump)

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)

    from gui_replay import open_window

    w = open_window(args)
    app.processEvents()
    t_interactive = time.monotonic() - T_PROCESS_START
    pump(app, lambda: all(p.state == "ready" for p in w.panes))
    while len(w.panes) < args.panes:
        extra = w.add_pane()
        extra.set_model(w.panes[len(w.panes) - 3].model_path)
        pump(app, lambda: all(p.state == "ready" for p in w.panes))
    t_models = time.monotonic() - T_PROCESS_START
    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": args.tokens, "raw_mode": args.raw})

    from gui_replay import LagProbe

    probe = LagProbe()
    lags = probe.lags

    import psutil

    me = psutil.Process()
    # The headless runs alternate with the window's, so a change in the
    # machine's load hits both sides alike. The window stays open but idle
    # meanwhile (its CPU during headless runs is printed).
    n = args.panes
    pair = demo_pair(n)
    head_tps: list[list[float]] = [[] for _ in range(n)]
    head_both: list[list[float]] = [[] for _ in range(n)]  # overlap_tps per rep
    gui_both: list[list[float]] = [[] for _ in range(n)]
    idle_cpu_s: list[float] = []

    # Share of a core this process used during each rep (CPU seconds / wall seconds).
    head_share: list[float] = []
    gui_share: list[float] = []

    def headless_rep() -> None:
        cpu0, t0 = sum(me.cpu_times()[:2]), time.monotonic()
        res = headless_race(pair, args.tokens)
        idle_cpu_s.append(sum(me.cpu_times()[:2]) - cpu0)
        head_share.append(idle_cpu_s[-1] / (time.monotonic() - t0))
        add_each(head_both, overlap_tps(res.runs))
        for i, run in enumerate(res.runs):
            if run.error or not run.stats().gen_tps:
                print(f"headless run {i} failed: {run.error or run.stats()}")
                continue
            head_tps[i].append(run.stats().gen_tps)

    gui_tps: list[list[float]] = [[] for _ in range(n)]
    rss_app = []
    cpu_ms_per_token: list[float] = []
    # The 200 Hz lag probe costs CPU itself, so it runs in one extra rep whose
    # t/s and CPU figures are left out.
    for rep in range(args.reps + 1):
        lag_rep = rep == args.reps
        w.prompt.setPlainText(RAW_PROMPT if RAW else PROMPT)
        cpu0, t0 = sum(me.cpu_times()[:2]), time.monotonic()
        if lag_rep:
            probe.start()
        w.send()
        if os.environ.get("GUI_PROFILE"):
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            pump(app, lambda: not w.busy, wake=w.compare_finished)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        else:
            pump(app, lambda: not w.busy, wake=w.compare_finished)
        probe.stop()
        if not lag_rep:
            n_tokens = sum(len(p.record.tokens) for p in w.panes)
            cpu_ms_per_token.append((sum(me.cpu_times()[:2]) - cpu0) * 1000 / max(1, n_tokens))
            gui_share.append((sum(me.cpu_times()[:2]) - cpu0) / (time.monotonic() - t0))
            rss_app.append(me.memory_info().rss)
            for i, p in enumerate(w.panes):
                gui_tps[i].append(p.record.stats().gen_tps)
            add_each(gui_both, overlap_tps([p.record for p in w.panes]))
        w.new_chat()
        if not lag_rep:
            headless_rep()
    # Closing mid-generation: how long until the window and both workers are gone.
    for p in w.panes:
        p.settings = with_values(p.settings, {"max_tokens": 100000})
    w.prompt.setPlainText(RAW_PROMPT if RAW else PROMPT)
    w.send()
    pump(app, lambda: all(p.record and p.record.tokens for p in w.panes))
    pids = [p.worker.pid for p in w.panes]
    t0 = time.monotonic()
    w.close()
    t_close = time.monotonic() - t0
    left = [pid for pid in pids if pid and psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    app.processEvents()

    pair.close()

    med = statistics.median
    q = statistics.quantiles(lags, n=100, method="inclusive")
    print(f"launch to interactive window   {t_interactive:.2f} s   (both models ready at {t_models:.2f} s)")
    print(f"event-loop lag while streaming (one extra rep) p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, "
          f"max {max(lags):.1f} ms ({len(lags)} probes)")
    print(f"race mode, medians of {args.reps} alternating reps:")
    names = ("A (SmolLM2-135M)", "B (Gemma-3-270M)", "C (SmolLM2-135M)", "D (Gemma-3-270M)")[:n]
    for i, name in enumerate(names):
        print(f"{name}: {ratio_line(gui_tps[i], head_tps[i])}")
    for i, name in enumerate(("A", "B", "C", "D")[:n]):
        if gui_both[i] and len(gui_both[i]) == len(head_both[i]):
            print(f"{name} while both generate: {ratio_line(gui_both[i], head_both[i])}")
    print(f"app CPU per streamed token     {med(cpu_ms_per_token):.3f} ms  (window process only, both panes' "
          f"tokens; per rep: {', '.join(f'{c:.3f}' for c in cpu_ms_per_token)})")
    print(f"this process during headless runs (idle window + compare session) {med(idle_cpu_s) * 1000:.0f} ms CPU "
          "per run")
    # Steadier than the t/s ratios on a noisy machine: with one single-thread
    # model per core, each model gets (cores - this process's share) / 2 cores.
    cores = psutil.cpu_count() or 2
    g, h = med(gui_share), med(head_share)
    print(f"CPU accounting: this process used {g:.1%} of a core with the window streaming, {h:.1%} headless; "
          f"a model sharing the {cores} cores throughout keeps {(cores - g) / (cores - h):.3f} of its headless speed")
    print(f"app RSS without workers        {med(rss_app) / 2**20:.0f} MiB")
    print(f"close during generation        {t_close:.2f} s, worker processes left: {len(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
