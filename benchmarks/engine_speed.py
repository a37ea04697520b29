"""Engine generation speed vs llama.cpp's own, on one model and thread count.

Reference: a minimal loop in this script (llama_decode of one token + the native
greedy sampler, nothing else), the same work llama-bench's tg measures.
Engine: the same prompt through a ModelWorker process (detokenize, reasoning
split, timestamp, pipe to the parent). Runs alternate, medians are compared.

    .venv/bin/python benchmarks/engine_speed.py [--model smollm2] [--threads 2] [--tokens 128] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.models.demo import resolve_model_arg  # noqa: E402
from gemmacompare.engine.model_worker import ModelWorker  # noqa: E402
from gemmacompare.engine.metrics import RunRecord  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def reference_loop(llm, n_tokens: int, threads: int) -> float:
    """Tokens/sec of a bare decode + greedy-sample loop (first to last token)."""
    import ctypes

    import llama_cpp as L

    ctx = llm.ctx
    L.llama_set_n_threads(ctx, threads, threads)
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    toks = llm.tokenize(PROMPT.encode(), add_bos=True)
    arr = (L.llama_token * len(toks))(*toks)
    L.llama_decode(ctx, L.llama_batch_get_one(arr, len(toks)))
    smpl = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    L.llama_sampler_chain_add(smpl, L.llama_sampler_init_greedy())
    one = (L.llama_token * 1)()
    ptr = ctypes.cast(one, ctypes.POINTER(L.llama_token))
    tok = L.llama_sampler_sample(smpl, ctx, -1)
    t0 = time.perf_counter()
    for _ in range(n_tokens - 1):
        one[0] = tok
        L.llama_decode(ctx, L.llama_batch_get_one(ptr, 1))
        tok = L.llama_sampler_sample(smpl, ctx, -1)
    dt = time.perf_counter() - t0
    L.llama_sampler_free(smpl)
    return (n_tokens - 1) / dt


def reference_server(conn, path: str, threads: int) -> None:
    import os

    import llama_cpp

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=threads, verbose=False)
    while (n := conn.recv()) is not None:
        conn.send(reference_loop(llm, n, threads))


def engine_run(worker: ModelWorker, n_tokens: int, threads: int) -> tuple[float, float, float, float]:
    """(wall t/s, llama.cpp eval t/s, median worker->parent latency ms, parent CPU µs/token)."""
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
    return st.gen_tps, st.llama_eval_tps, statistics.median(lat), cpu / max(1, st.n_tokens) * 1e6


def speed_args(description: str) -> tuple[argparse.Namespace, str]:
    """The options every engine speed script takes, and the model's path."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default="smollm2", help="GGUF path or demo key")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    return args, str(resolve_model_arg(args.model, 0))


def main() -> int:
    args, path = speed_args("Engine generation speed vs a bare llama.cpp loop.")

    # The reference runs in its own process too, so that neither side shares a
    # process (or llama.cpp's spinning thread pool) with the other.
    import multiprocessing as mp

    mpctx = mp.get_context("spawn")
    ref_conn, child = mpctx.Pipe()
    ref_proc = mpctx.Process(target=reference_server, args=(child, path, args.threads), daemon=True)
    ref_proc.start()

    def reference(n: int) -> float:
        ref_conn.send(n)
        return ref_conn.recv()

    t0 = time.monotonic()
    worker = ModelWorker("bench")
    worker.start()
    loaded = worker.load(path, p.LoadSettings(n_ctx=512, n_threads=args.threads))
    start_load = time.monotonic() - t0

    reference(16)  # warm-up both
    engine_run(worker, 16, args.threads)
    ref, eng, eng_llama, lat, cpu = [], [], [], [], []
    for i in range(args.reps):
        ref.append(reference(args.tokens))
        e = engine_run(worker, args.tokens, args.threads)
        eng.append(e[0])
        eng_llama.append(e[1])
        lat.append(e[2])
        cpu.append(e[3])
        print(f"rep {i + 1}: reference {ref[-1]:.1f} t/s   engine {eng[-1]:.1f} t/s (llama.cpp counters {eng_llama[-1]:.1f})")
    worker.close()
    ref_conn.send(None)
    ref_proc.join(5)

    med = statistics.median
    print()
    print(f"model {Path(path).name}, {args.threads} threads, {args.tokens} tokens, {args.reps} reps (medians)")
    print(f"reference loop        {med(ref):8.1f} t/s")
    print(f"engine (wall clock)   {med(eng):8.1f} t/s   ratio {med(eng) / med(ref):.3f}  (target >= 0.97)")
    print(f"engine (llama.cpp)    {med(eng_llama):8.1f} t/s")
    print(f"worker start + load   {start_load:8.2f} s    (load alone {loaded.load_seconds:.2f} s)")
    print(f"token latency to parent {med(lat):6.2f} ms;  parent CPU per token {med(cpu):.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
