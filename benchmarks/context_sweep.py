"""The context sweep beside llama-bench's `-d`: tg and pp after each depth, the ratio per depth.

Same files, depths, threads and llama.cpp build (llama-bench from the very source llama-cpp-python
compiled; scripts/build_llama_tools.sh), runs alternated: at each depth, one llama-bench run
(`-p PP -n N -d D -r 1`: its own warm-up, one filler prefill, then one pp and one tg test), then one
repetition of the app's depth measurement (engine/local/depth_run.py: the same filler, pp and tg
after it), REPS times. The app's worker loads each model once, at the deepest depth's context;
llama-bench makes a context of D + N (tg) and D + PP (pp) per test. The size does not change the
work: llama.cpp's attention views the used cells padded to 256 (llama-kv-cache.cpp get_n_kv).

Printed per model and depth: llama-bench's and our tg (ms/token) and pp (t/s), llama.cpp's own
counter inside our worker, and our speed over llama-bench's (>1: ours is faster) as the geometric
mean of the paired per-repetition ratios with its 95% interval (engine/report/intervals.py).

    .venv/bin/python benchmarks/context_sweep.py --models smollm2 [PATH ...] --depths 0,1k,4k \
        [--tokens 64] [--pp 512] [--reps 3] [--threads 2] [--flash-attn auto] [--llama-bench PATH] [--json OUT]

On a quiet machine only: the figures mean nothing while other work shares the cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.local.model_worker import ModelWorker  # noqa: E402
from gemmacompare.engine.report.intervals import format_positive, positive_interval  # noqa: E402
from gemmacompare.engine.sweep import parse_depths  # noqa: E402
from gemmacompare.models.demo import resolve_model_arg  # noqa: E402

DEFAULT_LLAMA_BENCH = Path.home() / ".cache/gemmacompare/llama-tools/0.3.36-portable/bin/llama-bench"


def llama_bench(exe: Path, model: str, threads: int, depth: int, n_gen: int, n_pp: int, flash_attn: str) -> dict:
    """One llama-bench run at `depth`: {"tg_ms": ms per token, "pp_tps": t/s, "row": its tg row}."""
    cmd = [str(exe), "-m", model, "-t", str(threads), "-p", str(n_pp), "-n", str(n_gen), "-d", str(depth),
           "-r", "1", "-fa", flash_attn, "-ngl", "0", "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"llama-bench failed at depth {depth}:\n{out.stderr[-2000:]}")
    rows = json.loads(out.stdout)
    tg = next(r for r in rows if r["n_gen"] > 0)
    pp = next(r for r in rows if r["n_prompt"] > 0)
    return {"tg_ms": 1000.0 / float(tg["avg_ts"]), "pp_tps": float(pp["avg_ts"]), "row": tg}


def ours(worker: ModelWorker, depth: int, n_gen: int, n_pp: int, threads: int, rid: int) -> dict:
    """One repetition of the app's depth measurement: ms/token, pp t/s, and llama.cpp's counter for each."""
    got: dict = {}
    for ev in worker.generate(p.DepthCommand(rid, depth, n_gen, n_pp, reps=1, n_threads=threads, seed=rid)):
        if isinstance(ev, p.WorkerError):
            sys.exit(f"our worker failed at depth {depth}: {ev.message}")
        if isinstance(ev, p.DepthMeasured) and ev.test == p.TEST_TG:
            got["tg_ms"], got["tg_counter_ms"] = ev.seconds * 1000 / ev.n_tokens, ev.perf_ms / ev.n_tokens
            got["tg_graphs_reused"] = ev.graphs_reused
        elif isinstance(ev, p.DepthMeasured):
            got["pp_tps"], got["pp_counter_tps"] = ev.n_tokens / ev.seconds, ev.n_tokens * 1000 / ev.perf_ms
    return got


def ratio_text(values: list[float]) -> str:
    m, lo, hi = positive_interval(values)
    return f"{m:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "")


def main() -> int:
    ap = argparse.ArgumentParser(description="The context sweep beside llama-bench -d.")
    ap.add_argument("--models", nargs="+", default=["smollm2"], help="GGUF paths or demo keys")
    ap.add_argument("--depths", default="0,1k,4k", help="depths, k = 1024 (default 0,1k,4k)")
    ap.add_argument("--tokens", type=int, default=64, help="tg tokens (default 64)")
    ap.add_argument("--pp", type=int, default=512, help="pp tokens (default 512)")
    ap.add_argument("--reps", type=int, default=3, help="alternated repetitions at each depth (default 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flash-attn", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--llama-bench", type=Path, default=DEFAULT_LLAMA_BENCH)
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args()
    depths = parse_depths(args.depths)
    if not args.llama_bench.exists():
        sys.exit(f"no llama-bench at {args.llama_bench}; build it with scripts/build_llama_tools.sh")
    report = []
    for key in args.models:
        path = str(resolve_model_arg(key, 0))
        worker = ModelWorker("sweep-ref")
        n_ctx = max(256, max(depths) + max(args.tokens, args.pp))
        loaded = worker.load(path, p.LoadSettings(n_ctx=n_ctx, flash_attn=args.flash_attn))
        print(f"\n{Path(path).name}: ours loaded once with n_ctx {loaded.n_ctx}, n_batch {loaded.n_batch}, "
              f"flash_attn {loaded.flash_attn}, {args.threads} threads", flush=True)
        rid = 0
        for depth in depths:
            ref, mine = [], []
            for rep in range(args.reps):
                ref.append(llama_bench(args.llama_bench, path, args.threads, depth, args.tokens, args.pp,
                                       args.flash_attn))
                rid += 1
                mine.append(ours(worker, depth, args.tokens, args.pp, args.threads, rid))
                print(f"  d{depth} rep {rep + 1}: llama-bench tg {ref[-1]['tg_ms']:.2f} ms/token, pp "
                      f"{ref[-1]['pp_tps']:.1f} t/s | ours tg {mine[-1]['tg_ms']:.2f} ms/token (counter "
                      f"{mine[-1]['tg_counter_ms']:.2f}, graphs reused {mine[-1]['tg_graphs_reused']}/{args.tokens}), "
                      f"pp {mine[-1]['pp_tps']:.1f} t/s", flush=True)
            tg_ratio = [r["tg_ms"] / m["tg_ms"] for r, m in zip(ref, mine)]  # speed ratio: ours / llama-bench
            tg_counter = [r["tg_ms"] / m["tg_counter_ms"] for r, m in zip(ref, mine)]
            pp_ratio = [m["pp_tps"] / r["pp_tps"] for r, m in zip(ref, mine)]
            row = {"model": Path(path).name, "depth": depth, "llama_bench": [{k: v for k, v in r.items() if k != "row"}
                                                                            for r in ref],
                   "ours": mine, "tg_speed_ratio": tg_ratio, "tg_counter_ratio": tg_counter, "pp_ratio": pp_ratio,
                   "llama_bench_row": ref[-1]["row"]}
            report.append(row)
        worker.close()
    print(f"\nours / llama-bench (speed; >1: ours faster), geometric mean of {args.reps} paired reps [95%]:")
    print(f"{'model':32} {'depth':>7}  {'llama-bench tg ms':>18} {'ours tg ms':>18}  {'tg ratio':>22} "
          f"{'tg ratio (counter)':>22}  {'pp ratio':>22}")
    for row in report:
        lb = format_positive([r["tg_ms"] for r in row["llama_bench"]], 2)
        us = format_positive([m["tg_ms"] for m in row["ours"]], 2)
        print(f"{row['model'][:32]:32} {row['depth']:>7}  {lb:>18} {us:>18}  {ratio_text(row['tg_speed_ratio']):>22} "
              f"{ratio_text(row['tg_counter_ratio']):>22}  {ratio_text(row['pp_ratio']):>22}")
    r0 = report[0]["llama_bench_row"] if report else {}
    print(f"llama-bench {args.llama_bench} (build {r0.get('build_commit')}, n_batch {r0.get('n_batch')}, n_ubatch "
          f"{r0.get('n_ubatch')}, flash_attn {r0.get('flash_attn')}, poll {r0.get('poll')})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
