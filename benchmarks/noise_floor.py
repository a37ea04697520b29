"""How far apart two identical race runs land on this machine (an A/A test).

gui_speed.py compares each window rep with the headless rep right after it.
This runs the same headless race twice per rep instead (same models, prompt,
threads and token count; nothing differs), so the ratios it prints are pure
machine noise: the spread any window-vs-headless figure is read against. With
--reps 15 it also prints the median of each block of 5 reps, the statistic
gui_speed.py's target uses.

    .venv/bin/python benchmarks/noise_floor.py [--reps 15] [--tokens 512]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gui_speed import demo_pair, headless_race, ratio_line  # noqa: E402

from gemmacompare.engine.session import CompareSession  # noqa: E402

BLOCK = 5


def race_tps(pair: CompareSession, tokens: int) -> list[float]:
    res = headless_race(pair, tokens)
    for run in res.runs:
        if run.error or not run.stats().gen_tps:
            raise SystemExit(f"a run failed: {run.error.message if run.error else run.stats()}")
    return [run.stats().gen_tps for run in res.runs]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--tokens", type=int, default=512)
    args = ap.parse_args()
    pair = demo_pair()
    try:
        if any(pair.load_errors):
            raise SystemExit(f"could not load the demo models: {[e.message for e in pair.load_errors if e]}")
        first: list[list[float]] = [[], []]
        second: list[list[float]] = [[], []]
        for rep in range(args.reps):
            for dest in (first, second):
                for i, tps in enumerate(race_tps(pair, args.tokens)):
                    dest[i].append(tps)
            pairs = ", ".join(f"{a[-1]:.1f} / {b[-1]:.1f} t/s" for a, b in zip(first, second))
            print(f"rep {rep + 1}/{args.reps}: {pairs}", flush=True)
    finally:
        pair.close()
    med = statistics.median
    print(f"race mode, identical headless runs, {args.reps} reps of {args.tokens} tokens:")
    for i, name in enumerate(("A (SmolLM2-135M)", "B (Gemma-3-270M)")):
        print(f"{name}: {ratio_line(first[i], second[i], ('run 1', 'run 2'))}")
        blocks = [(first[i][k:k + BLOCK], second[i][k:k + BLOCK]) for k in range(0, args.reps - BLOCK + 1, BLOCK)]
        if blocks:
            ratios = ", ".join(f"{med(a) / med(b):.3f} (paired {med(x / y for x, y in zip(a, b)):.3f})"
                               for a, b in blocks)
            print(f"  median of {BLOCK}, block by block: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
