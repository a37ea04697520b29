"""Engine generation speed vs llama.cpp's own llama-bench, side by side.

llama-bench is built from the very llama.cpp source that llama-cpp-python
compiled (scripts/build_llama_tools.sh), so both sides run the same code. Both
use llama.cpp's defaults (flash attention auto, f16 KV cache, n_batch 2048,
n_ubatch 512) unless told otherwise here, and the same model, threads and token
count. Runs alternate (llama-bench tg N, then the engine for N tokens), and the
medians are compared. A bare loop sharing the engine's own context settings hid
that flash attention was off; only llama.cpp's own tool is the reference now.

    .venv/bin/python benchmarks/engine_speed.py [--model smollm2] [--threads 2] [--tokens 128] [--reps 5]
        [--flash-attn auto|on|off] [--llama-bench PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.local.model_worker import ModelWorker  # noqa: E402
from gemmacompare.engine.metrics import RunRecord  # noqa: E402
from gemmacompare.models.demo import resolve_model_arg  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def engine_run(worker: ModelWorker, n_tokens: int, threads: int) -> tuple[float, float, float, float, int]:
    """(wall t/s, llama.cpp eval t/s, median worker->parent latency ms, parent CPU µs/token, prompt tokens)."""
    cmd = p.GenerateCommand(
        request_id=1, raw_prompt=PROMPT, n_threads=threads,
        sampling=p.SamplingSettings(max_tokens=n_tokens, temperature=0.0),
    )
    rec = RunRecord("bench", time.monotonic())
    lat = []
    cpu0 = time.thread_time()
    for ev in worker.generate(cmd):
        if isinstance(ev, p.Token):
            lat.append((time.monotonic() - ev.t) * 1000)
        rec.add(ev)
    cpu = time.thread_time() - cpu0
    st = rec.stats()
    if st.n_tokens < n_tokens:
        print(f"  note: stopped after {st.n_tokens} tokens ({st.stop_reason})")
    return st.gen_tps, st.llama_eval_tps, statistics.median(lat), cpu / max(1, st.n_tokens) * 1e6, st.n_prompt


def speed_args(description: str, extra=None) -> tuple[argparse.Namespace, str]:
    """The options every engine speed script takes, and the model's path."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default="smollm2", help="GGUF path or demo key")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    if extra:
        extra(ap)
    args = ap.parse_args()
    return args, str(resolve_model_arg(args.model, 0))


def find_llama_bench(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    # Prints the folder of an existing build, or builds one first (minutes).
    out = subprocess.run([str(ROOT / "scripts" / "build_llama_tools.sh")], capture_output=True, text=True,
                         env={**os.environ, "LLAMA_TOOLS_TARGETS": "llama-bench"})
    if out.returncode != 0:
        sys.exit(f"could not build llama-bench:\n{out.stderr[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1]) / "llama-bench"


def llama_bench_run(exe: Path, model: str, threads: int, n_tokens: int, depth: int, flash_attn: str) -> dict:
    """One llama-bench tg run (its own warm-up, then one repetition) after `depth`
    tokens of context, as the engine generates after its prompt: its JSON row."""
    cmd = [str(exe), "-m", model, "-t", str(threads), "-p", "0", "-n", str(n_tokens), "-d", str(depth), "-r", "1",
           "-fa", flash_attn, "-ngl", "0", "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def main() -> int:
    def extra(ap):
        ap.add_argument("--flash-attn", choices=("auto", "on", "off"), default="auto")
        ap.add_argument("--llama-bench", help="path of a llama-bench binary (default: build or reuse one)")

    args, path = speed_args("Engine generation speed vs llama.cpp's llama-bench.", extra)
    exe = find_llama_bench(args.llama_bench)

    t0 = time.monotonic()
    worker = ModelWorker("bench")
    worker.start()
    settings = p.LoadSettings(n_ctx=512, flash_attn=args.flash_attn)
    loaded = worker.load(path, settings)
    start_load = time.monotonic() - t0
    depth = engine_run(worker, 16, args.threads)[4]  # warm-up, and the prompt's length
    # llama-bench sizes its context to exactly depth + tokens, and with flash
    # attention the work per token grows with the KV cells in view (padded to 256
    # in a larger context), so the engine gets the same context size.
    loaded = worker.load(path, replace(settings, n_ctx=depth + args.tokens))
    engine_run(worker, 16, args.threads)
    ref, eng, eng_llama, lat, cpu = [], [], [], [], []
    row: dict = {}
    for i in range(args.reps):
        row = llama_bench_run(exe, path, args.threads, args.tokens, depth, args.flash_attn)
        ref.append(float(row["avg_ts"]))
        e = engine_run(worker, args.tokens, args.threads)
        eng.append(e[0])
        eng_llama.append(e[1])
        lat.append(e[2])
        cpu.append(e[3])
        print(f"rep {i + 1}: llama-bench tg{args.tokens} {ref[-1]:.1f} t/s   engine {eng[-1]:.1f} t/s "
              f"(llama.cpp counters {eng_llama[-1]:.1f})", flush=True)
    worker.close()

    med = statistics.median
    print()
    print(f"model {Path(path).name}, {args.threads} threads, {args.tokens} tokens after {depth} of prompt, "
          f"{args.reps} alternating reps (medians)")
    print(f"llama-bench: {exe}  (build {row.get('build_commit')}, flash_attn {row.get('flash_attn')}, "
          f"type_k {row.get('type_k')}, type_v {row.get('type_v')}, n_batch {row.get('n_batch')}, "
          f"n_ubatch {row.get('n_ubatch')}, n_depth {row.get('n_depth')}, context {depth + args.tokens})")
    print(f"engine: flash_attn {loaded.flash_attn}, type_k {loaded.type_k}, type_v {loaded.type_v}, "
          f"n_batch {loaded.n_batch}, context {loaded.n_ctx}, greedy")
    print(f"llama-bench tg{args.tokens} @ d{depth:<3} {med(ref):6.1f} t/s")
    print(f"engine (wall clock)   {med(eng):8.1f} t/s   ratio {med(eng) / med(ref):.3f}  (target >= 0.97)")
    print(f"engine (llama.cpp)    {med(eng_llama):8.1f} t/s   ratio {med(eng_llama) / med(ref):.3f}")
    paired = [e / r for e, r in zip(eng, ref)]
    print(f"median of the per-rep ratios (engine wall clock / llama-bench, each pair run back to back): "
          f"{med(paired):.3f}")
    print(f"worker start + load   {start_load:8.2f} s    (load alone {loaded.load_seconds:.2f} s)")
    print(f"token latency to parent {med(lat):6.2f} ms;  parent CPU per token {med(cpu):.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
