"""How fast Stop takes effect: during decode and during a long prefill.

Latency = from ModelWorker.stop() to the Finished event in the parent. Target 0.5 s.

    .venv/bin/python benchmarks/stop_latency.py [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.local.model_worker import ModelWorker  # noqa: E402
from gemmacompare.models.demo import resolve_model_arg  # noqa: E402


def stop_latency(worker: ModelWorker, cmd: p.GenerateCommand, after_s: float) -> tuple[float, str, bool]:
    stopped = {}

    def stop() -> None:
        stopped["t"] = time.monotonic()
        worker.stop()

    timer = threading.Timer(after_s, stop)
    timer.start()
    events = list(worker.generate(cmd))
    done = time.monotonic()
    timer.join()
    fin = events[-1]
    saw_prefill = any(isinstance(e, p.PrefillDone) for e in events)
    return (done - stopped["t"]) * 1000, getattr(fin, "stop_reason", "error"), saw_prefill


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    w = ModelWorker("stop")
    w.load(str(resolve_model_arg("gemma3", 1)), p.LoadSettings(n_ctx=4096))
    decode = p.GenerateCommand(1, raw_prompt="Once upon a time", sampling=p.SamplingSettings(max_tokens=100000))
    prefill = p.GenerateCommand(2, raw_prompt="The quick brown fox jumps over the lazy dog. " * 300,
                                sampling=p.SamplingSettings(max_tokens=4), n_threads=1)
    for name, cmd, after in (("decode", decode, 1.0), ("prefill (~3,000 tokens, 1 thread)", prefill, 0.3)):
        lat, reasons, prefilled = [], set(), 0
        for _ in range(args.reps):
            ms, reason, saw = stop_latency(w, cmd, after)
            lat.append(ms)
            reasons.add(reason)
            prefilled += saw
        print(f"stop during {name}: median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms "
              f"(stop reasons {sorted(reasons)}, worker alive: {w.alive}, prefill finished in {prefilled}/{args.reps})")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
