"""A real OpenAI-compatible server: `python -m llama_cpp.server` serving SmolLM2.

The local SmolLM2 and the same file served over HTTP are compared side by side,
in race and fair mode, through the same compare session the CLI and the benchmark use.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from gemmacompare.bench.records import BenchConfig
from gemmacompare.bench.runner import run_benchmark
from gemmacompare.bench.store import BenchStore
from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.remote.worker import RemoteWorker
from gemmacompare.engine.session import CompareSession

PROMPT = "Name three colours of the rainbow."
N = 24


def command(i: int) -> p.GenerateCommand:
    return p.GenerateCommand(1, (p.ChatMessage("user", PROMPT),), sampling=p.SamplingSettings(max_tokens=N))


@pytest.mark.parametrize("mode", ["race", "fair"])
def test_local_and_served_model_side_by_side(fresh_llama_cpp_server, demo_paths, mode):
    base, _ = fresh_llama_cpp_server
    with CompareSession(["A", "B"]) as pair:
        errors = pair.load([str(demo_paths["smollm2"]), base], p.LoadSettings(n_ctx=2048))
        assert errors == [None, None]
        assert pair.n_local == 1
        assert pair.loaded[1].facts.name == demo_paths["smollm2"].name  # the id is the path: its file name shows
        result = pair.run(command, mode=mode, threads_total=2)
    local, remote = result.runs
    assert local.error is None and remote.error is None, (local.error, remote.error)
    # Greedy decoding, same file, same llama.cpp: the same answer.
    assert remote.answer == local.answer
    assert len(local.answer) > 20
    ls, rs = local.stats(), remote.stats()
    assert ls.n_threads == 2  # the remote model takes no local threads, in race mode too
    assert rs.remote and rs.n_threads == 0
    # llama_cpp.server's stream carries no usage: only chunks are known, never called tokens.
    assert rs.server_source == "none" and rs.n_tokens is None and rs.gen_tps is None
    assert rs.n_chunks == len(remote.tokens) > 5 and rs.chunk_rate > 0
    assert rs.ttft_s > 0 and rs.total_s >= rs.ttft_s
    # Loopback: the server's process was found and its memory sampled.
    assert rs.peak_rss and rs.peak_rss > 50 * 2**20


def test_server_counts_match_the_servers_usage(llama_cpp_server, demo_paths):
    """The non-streamed usage of the same request counts what the local engine generated."""
    base, _ = llama_cpp_server
    model = httpx.get(f"{base}/models").json()["data"][0]["id"]
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": N,
            "temperature": 0, "repeat_penalty": 1.0, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": 42}
    reply = httpx.post(f"{base}/chat/completions", json=body, timeout=120).json()
    usage = reply["usage"]
    with CompareSession(["A"]) as pair:
        assert pair.load([str(demo_paths["smollm2"])], p.LoadSettings(n_ctx=2048)) == [None]
        local = pair.run(command, threads_total=2).runs[0]
    # The shared server reuses earlier requests' prompt prefix, so its greedy answer may
    # part from the local one (see fresh_llama_cpp_server): the prompt count is exact,
    # the generated count only where both ran to max tokens.
    assert usage["prompt_tokens"] == local.finished.n_prompt
    assert 0 < usage["completion_tokens"] <= N
    if reply["choices"][0]["finish_reason"] == "length" and local.finished.stop_reason == p.STOP_MAX_TOKENS:
        assert usage["completion_tokens"] == local.finished.n_generated == N
    w = RemoteWorker("B")
    w.load(base)
    rec = RunRecord("B", time.monotonic())
    for ev in w.generate(command(0)):
        rec.add(ev)
    w.close()
    # Chunks are at most the tokens (a token may send no text); they are not reported as tokens.
    assert 0 < rec.stats().n_chunks <= usage["completion_tokens"]


def test_stop_mid_stream_on_the_real_server(llama_cpp_server):
    base, _ = llama_cpp_server
    w = RemoteWorker("B")
    w.load(base)
    rec = RunRecord("B", time.monotonic())
    stopped = []

    def stop_after_first_chunks():
        while len(rec.tokens) < 3:
            time.sleep(0.01)
        stopped.append(time.monotonic())
        w.stop()

    threading.Thread(target=stop_after_first_chunks, daemon=True).start()
    cmd = p.GenerateCommand(1, (p.ChatMessage("user", "Write a long story about a dragon."),),
                            sampling=p.SamplingSettings(max_tokens=400))
    for ev in w.generate(cmd):
        rec.add(ev)
    assert rec.finished.stop_reason == p.STOP_USER
    assert time.monotonic() - stopped[0] < 0.5
    assert len(rec.tokens) < 100
    assert not rec.finished.server.complete
    # The server is free again at once (it saw the closed connection).
    rec2 = RunRecord("B", time.monotonic())
    for ev in w.generate(command(0)):
        rec2.add(ev)
    assert rec2.finished.stop_reason in (p.STOP_MAX_TOKENS, p.STOP_EOS) and rec2.answer
    w.close()


def test_bench_with_one_remote_model(fresh_llama_cpp_server, demo_paths):
    base, _ = fresh_llama_cpp_server
    with BenchStore() as store:
        config = BenchConfig(models=(str(demo_paths["smollm2"]), base), suite="reasoning", limit=2, runs=1,
                             warmup=0, settings={"max_tokens": 16}, threads=2)
        outcome = run_benchmark(config, store)
        assert outcome.status == "done", outcome.message
        run = store.get_run(outcome.run_id)
    assert len(run.items) == 4
    remote_items = [it for it in run.items if it.model_index == 1]
    local_items = [it for it in run.items if it.model_index == 0]
    assert all(it.error is None for it in run.items)
    # Only the server's first request evaluates the prompt as the local engine does
    # (one batch, nothing cached). From the second on, llama_cpp.server reuses the
    # first request's prompt prefix, so the prompt is split differently and on some
    # CPUs (AVX-512) the greedy answer parts from the local one: not guaranteed.
    assert remote_items[0].answer == local_items[0].answer
    assert all(it.answer.strip() for it in remote_items)
    assert all(it.stats["remote"] and it.stats["n_tokens"] is None and it.stats["n_chunks"] > 0 for it in remote_items)
    assert run.models[1].file_hash == "server"


def test_compare_cli_with_a_base_url(fresh_llama_cpp_server, demo_paths, tmp_path):
    base, _ = fresh_llama_cpp_server
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gemmacompare", "compare", str(demo_paths["smollm2"]), base, "-p", PROMPT,
         "-n", "12", "--json", str(out), "--mode", "fair"],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    assert "takes no CPU threads" in proc.stderr
    assert "chunks" in proc.stdout and "remote (none here)" in proc.stdout
    data = json.loads(out.read_text())
    remote = data["models"][1]
    assert remote["stats"]["remote"] and remote["server_figures"]["source"] == "none"
    assert remote["answer"] == data["models"][0]["answer"]


def test_models_cli_lists_a_servers_models(llama_cpp_server):
    base, _ = llama_cpp_server
    proc = subprocess.run([sys.executable, "-m", "gemmacompare", "models", "--server", base, "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 1 and rows[0]["id"].endswith(".gguf") and rows[0]["ref"].startswith(base + "#")
    proc = subprocess.run([sys.executable, "-m", "gemmacompare", "models", "--server", base],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "SmolLM2" in proc.stdout
