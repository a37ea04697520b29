"""Does the benchmark harness cost generation speed? Bench run vs bare engine, same prompt.

Bench: BenchRunner over a one-task suite (the compare session with its memory sampler,
scoring, one SQLite commit per item), `--reps` repetitions.
Bare: ModelWorker.generate with the identical GenerateCommand, run right after
each bench item from the item callback, so the two alternate on a warm machine.
Generation t/s is first-to-last token in both (metrics.RunStats.gen_tps);
medians are compared (and the best of N, for a shared machine). Target ratio >= 0.98.

    .venv/bin/python benchmarks/bench_overhead.py [--model smollm2] [--threads 2] [--tokens 128] [--reps 5]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_speed import speed_args  # noqa: E402

from gemmacompare.bench.records import BenchConfig  # noqa: E402
from gemmacompare.bench.runner import BenchRunner, build_command, create_run  # noqa: E402
from gemmacompare.bench.store import BenchStore  # noqa: E402
from gemmacompare.bench.tasks import load_task_file  # noqa: E402
from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.local.model_worker import ModelWorker  # noqa: E402
from gemmacompare.engine.metrics import RunRecord  # noqa: E402
from gemmacompare.engine.modes import (
    FAIR,  # noqa: E402
    threads_for_mode,  # noqa: E402
)
from gemmacompare.state.paths import use_scratch_home  # noqa: E402

PROMPT = "Write a long story about a dragon who learns to bake bread in a small mountain village."


def bare_run(worker: ModelWorker, cmd: p.GenerateCommand) -> tuple[float, int]:
    rec = RunRecord("bare", time.monotonic())
    for ev in worker.generate(cmd):
        rec.add(ev)
    st = rec.stats()
    return st.gen_tps or 0.0, st.n_tokens


def main() -> int:
    args, path = speed_args("Generation speed inside a bench run vs a bare engine run.")

    home = use_scratch_home("gemmacompare-overhead-")  # keep the user's history clean
    suite_file = home / "overhead.jsonl"
    suite_file.write_text(json.dumps({"id": "story", "prompt": PROMPT, "answer": "dragon", "match": "regex"}) + "\n")
    config = BenchConfig(models=(path,), suite=str(suite_file), runs=args.reps, warmup=1, mode=FAIR,
                         settings={"max_tokens": args.tokens, "n_ctx": 1024}, threads=args.threads,
                         instruction="")
    task = load_task_file(suite_file).tasks[0]
    base = build_command(task, config)
    n_threads = threads_for_mode(FAIR, args.threads, 1)
    cmd = p.GenerateCommand(base.request_id, base.messages, base.raw_prompt, base.sampling, base.enable_thinking,
                            n_threads)

    worker = ModelWorker("bare")
    worker.load(path, p.LoadSettings(n_ctx=1024))
    bare_run(worker, cmd)  # warm-up, like the bench's own

    bench_tps: list[float] = []
    bare_tps: list[float] = []

    def after_item(items) -> None:
        it = items[0]
        bench_tps.append(it.stat("gen_tps") or 0.0)
        tps, n = bare_run(worker, cmd)
        bare_tps.append(tps)
        print(f"rep {it.rep + 1}: bench {bench_tps[-1]:6.1f} t/s ({it.stats['n_tokens']} tokens)   "
              f"bare {tps:6.1f} t/s ({n} tokens)", flush=True)

    with BenchStore() as store:
        run_id = create_run(store, config)
        outcome = BenchRunner(store).run(run_id, on_item=after_item)
    worker.close()
    if outcome.status != "done" or not bench_tps:
        print(f"benchmark did not finish: {outcome}")
        return 1

    med = statistics.median
    ratio = med(bench_tps) / med(bare_tps)
    print()
    print(f"model {Path(path).name}, {n_threads} threads, {args.tokens} tokens max, {args.reps} reps (medians)")
    print(f"bare engine (ModelWorker.generate)  {med(bare_tps):7.1f} t/s")
    print(f"inside a bench run                  {med(bench_tps):7.1f} t/s")
    print(f"ratio bench / bare                  {ratio:7.3f}   (target >= 0.98)")
    paired = [b / a for a, b in zip(bare_tps, bench_tps) if a > 0]
    print(f"median of paired ratios (each bench item / the bare run right after it)  {med(paired):.3f}")
    # On a shared machine a rep can be hit by someone else's job; the best of N
    # shows each side undisturbed.
    print(f"best of {args.reps}: bare {max(bare_tps):.1f} t/s, bench {max(bench_tps):.1f} t/s, "
          f"ratio {max(bench_tps) / max(bare_tps):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
