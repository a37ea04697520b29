"""The seed architectures (llama.cpp's gemma4 and qwen35) through the real engine,
on tiny synthetic files the tests write themselves (models/synthetic.py).

Random-weight files (Q4_K_M, the default type) check loading, streaming, stop and
that a request starts from a clean recurrent state; scripted files (a bigram table
in the weights) check the thinking split through the real chat templates.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from gemmacompare.bench.export import markdown_report, summary_rows
from gemmacompare.bench.records import STATUS_DONE, BenchConfig
from gemmacompare.bench.runner import run_benchmark
from gemmacompare.bench.store import BenchStore
from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import FAIR, RACE
from gemmacompare.engine.session import CompareSession, RunStarted
from gemmacompare.models.gguf_file import ModelFacts, read_model_facts
from gemmacompare.models.synthetic import build
from gemmacompare.models.synthetic_presets import PRESETS
from gemmacompare.models.synthetic_tensors import parameter_count

FAMILIES = ("gemma4", "qwen35")


QUESTION = (p.ChatMessage("user", "What is the capital of France?"),)


LOAD = p.LoadSettings(n_ctx=512)
ONE_THREAD = 1  # each request: light on a shared 2-core machine


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory) -> dict[str, Path]:
    """{family: random-weight Q4_K_M file, family + "-scripted": scripted Q8_0 file}."""
    folder = tmp_path_factory.mktemp("synthetic")
    files: dict[str, Path] = {}
    for family in FAMILIES:
        files[family] = build(f"{family}-tiny", folder / f"{family}-tiny.gguf").path
        files[f"{family}-scripted"] = build(
            f"{family}-tiny", folder / f"{family}-tiny-scripted.gguf", "Q8_0", scripted=True
        ).path
    return files


@pytest.fixture(scope="module")
def workers(synthetic_files):
    """One loaded worker per file, shared by the tests of this module."""
    started: dict[str, ModelWorker] = {}
    try:
        for key, path in synthetic_files.items():
            w = ModelWorker(key)
            w.load(str(path), LOAD)
            started[key] = w
        yield started
    finally:
        for w in started.values():
            w.close()


def run(worker: ModelWorker, rid: int, max_tokens: int = 8, **kw) -> RunRecord:
    kw.setdefault("messages", QUESTION)
    kw.setdefault("n_threads", ONE_THREAD)
    rec = RunRecord(worker.label, time.monotonic())
    for ev in worker.generate(p.GenerateCommand(rid, sampling=p.SamplingSettings(max_tokens=max_tokens), **kw)):
        rec.add(ev)
    assert rec.error is None, rec.error
    return rec


@pytest.mark.parametrize("family", FAMILIES)
def test_facts_say_synthetic_and_show_the_layout(synthetic_files, family):
    facts: ModelFacts = read_model_facts(synthetic_files[family])
    assert facts.architecture == family and facts.quantization == "Q4_K_M"
    assert facts.synthetic and facts.name.startswith("Synthetic ")
    assert facts.thinking_switch
    assert facts.reasoning == {"gemma4": "gemma4-channel", "qwen35": "think-tags"}[family]
    assert facts.file_size < 16 * 2**20
    assert facts.parameters == parameter_count(PRESETS[f"{family}-tiny"]).total
    layout = dict(facts.layout)
    if family == "gemma4":
        assert layout["attention"] == "8 sliding-window (128 tokens), 2 full"
        assert "last 5 layers" in layout["KV cache"] and "per-layer emb" in layout
    else:
        assert layout["attention"] == "6 Gated DeltaNet (recurrent state), 2 full attention"


@pytest.mark.parametrize("family", FAMILIES)
def test_inspect_shows_the_architecture(synthetic_files, family, python_exe):
    out = subprocess.run(
        [python_exe, "-m", "gemmacompare", "inspect", str(synthetic_files[family])],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"architecture:   {family}" in out.stdout
    assert "weights:        synthetic weights (speed and memory only)" in out.stdout
    assert ("sliding-window" if family == "gemma4" else "Gated DeltaNet") in out.stdout


@pytest.mark.parametrize("family", FAMILIES)
def test_loads_and_streams(workers, family):
    w = workers[family]
    assert w.loaded.facts.architecture == family and w.loaded.facts.synthetic
    assert {b.kind for b in w.loaded.placement.buffers} >= {"model", "compute"}
    rec = run(w, 1, max_tokens=12)
    # End-of-generation rows are zero in the output layer: the run lasts as asked.
    assert rec.finished.stop_reason == p.STOP_MAX_TOKENS
    assert len(rec.tokens) == rec.finished.n_generated == 12
    assert rec.finished.perf.n_eval == 11
    times = [t.t for t in rec.tokens]
    assert times == sorted(times) and rec.prefill.n_prompt == rec.finished.n_prompt > 5


@pytest.mark.parametrize("family", FAMILIES)
def test_identical_greedy_requests_give_identical_tokens(workers, family):
    """Another request in between must leave nothing behind: Qwen3.5's DeltaNet
    layers keep a recurrent state, not only a KV cache."""
    w = workers[family]
    first = run(w, 10, max_tokens=10)
    run(w, 11, max_tokens=10, messages=(p.ChatMessage("user", "Something else entirely, and longer."),))
    again = run(w, 12, max_tokens=10)
    assert [t.token_id for t in again.tokens] == [t.token_id for t in first.tokens]


@pytest.mark.parametrize(
    ("family", "thinking", "expected_thinking"),
    [("gemma4", True, " hmm"), ("gemma4", False, ""), ("qwen35", True, " hmm"), ("qwen35", False, "")],
)
def test_thinking_split_through_the_real_template(workers, family, thinking, expected_thinking):
    rec = run(workers[f"{family}-scripted"], 20, max_tokens=8, enable_thinking=thinking)
    prompt = rec.prompt.prompt_text
    if family == "gemma4":
        # Thinking on: <|think|> in the system turn; off: an empty thought is pre-filled.
        assert ("<|think|>" in prompt) is thinking
        assert prompt.endswith("<|turn>model\n" if thinking else "<|channel>thought\n<channel|>")
        assert not rec.prompt.thinking_prefilled
    else:
        # Qwen3.5's template opens the thought itself; off: an empty one, closed.
        assert prompt.endswith("<think>\n" if thinking else "<think>\n\n</think>\n\n")
        assert rec.prompt.thinking_prefilled is thinking
    assert rec.thinking == expected_thinking
    assert rec.answer.startswith(" Paris Paris")
    stats = rec.stats()
    markers = {"gemma4": 3, "qwen35": 1}[family]  # <|channel>, "thought", <channel|> / </think>
    assert stats.n_thinking == ((1 + markers) if thinking else 0)
    assert stats.n_thinking + stats.n_answer == 8
    assert "<" not in rec.answer and "<" not in rec.thinking  # markers are never shown


@pytest.mark.parametrize("family", FAMILIES)
def test_stop_during_decode(workers, family):
    w = workers[family]
    rec = RunRecord(w.label, time.monotonic())
    stopped_at = None
    for ev in w.generate(p.GenerateCommand(30, messages=QUESTION, sampling=p.SamplingSettings(max_tokens=100_000),
                                           n_threads=ONE_THREAD)):
        rec.add(ev)
        if stopped_at is None and len(rec.tokens) >= 3:
            stopped_at = time.monotonic()
            w.stop()
    assert rec.finished.stop_reason == p.STOP_USER
    assert 3 <= rec.finished.n_generated < 100_000
    assert time.monotonic() - stopped_at < 3.0  # the 0.5 s target: benchmarks/stop_latency.py
    assert w.alive  # stopped by the flag, not by a kill
    assert run(w, 31, max_tokens=2).finished.n_generated == 2  # and it answers again


# --- memory as llama.cpp accounts it ------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_llama_cpp_memory_matches_the_estimate_from_the_facts(workers, family):
    """The worker reads llama.cpp's buffers per part; the GGUF facts predict the KV cache and
    the recurrent state to the byte (llama.cpp logs MiB with two decimals)."""
    w = workers[family]
    (cpu,) = w.loaded.placement.memory
    assert cpu.device == "CPU" and cpu.weights > 0 and cpu.compute > 0
    estimate = w.loaded.facts.memory_at(w.loaded.n_ctx)
    assert cpu.kv_cache == estimate.kv_cache
    assert abs(cpu.recurrent_state - estimate.recurrent_state) <= 0.005 * 2**20
    if family == "qwen35":
        # 6 DeltaNet layers: conv (4 - 1) * (256 + 2 * 2 * 64) + state 64 * 256, f32, one sequence.
        assert estimate.recurrent_state == 6 * (3 * 512 + 64 * 256) * 4
        assert estimate.kv_bytes_per_token == 2 * (2 * 256 * 2)  # 2 attention layers, K and V, 1 head of 256, f16
    else:
        assert cpu.recurrent_state == estimate.recurrent_state == 0
        # 5 layers keep KV (the last 5 reuse it): 1 full of head 256 grows with the context; the
        # 4 sliding ones of head 128 stop at the window, unless swa_full gives them a full-size cache.
        assert estimate.kv_bytes_per_token == 1 * (2 * 256 * 2)
        full = w.loaded.facts.memory_at(w.loaded.n_ctx, swa_full=True)
        assert full.kv_bytes_per_token == 4 * (2 * 128 * 2) + 1 * (2 * 256 * 2)


@pytest.mark.parametrize("swa_full", [False, True])
def test_sliding_window_cache_size_follows_swa_full(synthetic_files, swa_full):
    """At 4,096 tokens Gemma's sliding layers get a window-sized cache by default, as llama.cpp's
    tools size it (pad256(window 128 + n_ubatch 512) = 768 cells), and a full-size one with
    swa_full; llama.cpp's own account of its buffers says which, and the estimate agrees."""
    facts = read_model_facts(synthetic_files["gemma4"])
    settings = p.LoadSettings(n_ctx=4096) if not swa_full else p.LoadSettings(n_ctx=4096, swa_full=True)
    w = ModelWorker("gemma4-4k")
    try:
        loaded = w.load(str(synthetic_files["gemma4"]), settings)
    finally:
        w.close()
    assert loaded.swa_full is swa_full
    swa_cells = 4096 if swa_full else 768
    full_layer_kv = 4096 * 1 * (2 * 256 * 2)  # 1 full-attention layer keeping KV, head 256, f16
    swa_kv = swa_cells * 4 * (2 * 128 * 2)  # 4 sliding layers keeping KV, head 128, f16
    assert loaded.placement.memory[0].kv_cache == full_layer_kv + swa_kv
    estimate = facts.memory_at(4096, swa_full=swa_full)
    assert (estimate.kv_cache, estimate.kv_cache_swa) == (full_layer_kv + swa_kv, swa_kv)


def test_inspect_estimates_memory_at_chosen_contexts(synthetic_files, python_exe):
    out = subprocess.run(
        [python_exe, "-m", "gemmacompare", "inspect", "--ctx", "4096,max", str(synthetic_files["qwen35"])],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "memory @ 4,096: 12.0 MiB = weights 3.6 MiB + KV cache 8.0 MiB + recurrent state 420.0 KiB" in out.stdout
    assert "memory @ 262,144: " in out.stdout and "KV cache 512.0 MiB" in out.stdout
    js = subprocess.run(
        [python_exe, "-m", "gemmacompare", "inspect", "--json", "--ctx", "1000", str(synthetic_files["gemma4"])],
        capture_output=True, text=True, timeout=120,
    )
    (est,) = json.loads(js.stdout)[0]["memory_estimates"]
    assert (est["n_ctx"], est["cells"]) == (1000, 1024)  # llama.cpp pads the context to 256 cells
    # Sliding layers window-sized by default (768 cells of 2 KiB), the full layer 1,024 cells of 1 KiB.
    assert est["kv_cache"] == 1024 * 1024 + 768 * 2048 and est["recurrent_state"] == 0 and not est["swa_full"]
    assert est["total"] == est["weights"] + est["kv_cache"]
    full = subprocess.run(
        [python_exe, "-m", "gemmacompare", "inspect", "--swa-full", "--ctx", "1000", str(synthetic_files["gemma4"])],
        capture_output=True, text=True, timeout=120,
    )
    assert full.returncode == 0, full.stderr
    assert "KV cache 3.0 MiB" in full.stdout and "(KV 2.5 MiB window-sized" in full.stdout


def test_compare_shows_llama_cpp_memory_in_its_table_and_json(synthetic_files, python_exe, tmp_path):
    out_json = tmp_path / "run.json"
    out = subprocess.run(
        [python_exe, "-m", "gemmacompare", "compare", str(synthetic_files["gemma4"]), str(synthetic_files["qwen35"]),
         "-p", "Hello", "-n", "6", "--ctx", "512", "--mode", "fair", "--ignore-eos", "--json", str(out_json)],
        capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stderr
    rows = {line.split("  ")[0]: line for line in out.stdout.splitlines()}
    for row in ("weights (llama.cpp)", "KV cache (llama.cpp)", "recurrent state (llama.cpp)",
                "compute buffers (llama.cpp)", "memory total (llama.cpp)"):
        assert row in rows, out.stdout
    assert "1.5 MiB CPU" in rows["KV cache (llama.cpp)"] and "1.0 MiB CPU" in rows["KV cache (llama.cpp)"]
    data = json.loads(out_json.read_text())
    gemma, qwen = (m["llama_cpp_memory"][0] for m in data["models"])
    assert gemma["kv_cache"] == 3072 * 512 and gemma["recurrent_state"] == 0
    assert qwen["recurrent_state"] > 0 and qwen["total"] == sum(
        qwen[k] for k in ("weights", "kv_cache", "recurrent_state", "output", "compute"))
    assert [m["stats"]["n_tokens"] for m in data["models"]] == [6, 6]


# --- race, fair and stop through the compare session ------------------------------------------

LONG_PROMPT = "The quick brown fox jumps over the lazy dog. " * 60  # ~2,700 tokens: ~1 s of prefill on 1 thread


@pytest.fixture(scope="module")
def session(synthetic_files):
    with CompareSession(("gemma4", "qwen35")) as s:
        errors = s.load([str(synthetic_files["gemma4"]), str(synthetic_files["qwen35"])],
                        p.LoadSettings(n_ctx=4096))
        assert errors == [None, None]
        yield s


def _commands(max_tokens: int, **kw) -> dict[int, p.GenerateCommand]:
    kw.setdefault("messages", QUESTION)
    return {i: p.GenerateCommand(100 + i, sampling=p.SamplingSettings(max_tokens=max_tokens), **kw) for i in (0, 1)}


@pytest.mark.parametrize("mode", [RACE, FAIR])
def test_race_and_fair_with_both_architectures(session, mode):
    started: list[RunStarted] = []
    result = session.run(_commands(48), mode=mode, threads_total=2,
                         on_event=lambda i, ev: started.append(ev) if isinstance(ev, RunStarted) else None)
    assert [r.error for r in result.runs] == [None, None]
    assert [r.finished.stop_reason for r in result.runs] == [p.STOP_MAX_TOKENS] * 2
    assert [len(r.tokens) for r in result.runs] == [48, 48] and result.complete
    # Race splits the two threads; fair gives each model both, one after the other.
    assert [e.n_threads for e in sorted(started, key=lambda e: e.index)] == ([1, 1] if mode == RACE else [2, 2])
    gemma, qwen = result.runs
    if mode == FAIR:
        assert gemma.finished.t_end <= qwen.t_send
    else:
        assert abs(gemma.t_send - qwen.t_send) < 0.5  # sent together


def test_stop_during_prefill_through_the_session(session):
    """Fair mode: the first model is stopped as its prompt goes in (the worker sends PromptReady
    just before a ~1 s prefill, so the stop lands inside it on any machine); the second never starts."""
    stopped_at: list[float] = []

    def on_event(i: int, ev) -> None:
        if i == 0 and isinstance(ev, p.PromptReady):
            stopped_at.append(time.monotonic())
            session.stop()

    result = session.run(_commands(8, messages=(), raw_prompt=LONG_PROMPT), mode=FAIR, threads_total=1,
                         on_event=on_event)
    first, second = result.runs
    assert first.finished.stop_reason == p.STOP_USER and first.prefill is None and not first.tokens
    assert first.finished.t_end - stopped_at[0] < 3.0  # the 0.5 s target: benchmarks/stop_latency.py
    assert second.finished.stop_reason == p.STOP_USER and second.finished.n_generated == 0
    assert result.user_stopped and not result.complete
    again = session.run(_commands(4), mode=FAIR, threads_total=2)
    assert [r.finished.n_generated for r in again.runs] == [4, 4]


def test_stop_during_decode_through_the_session(session):
    """Race mode, stopped once both models are decoding (on a busy machine one may still be in
    its prefill when the other has tokens, so the stop waits for both)."""
    stopped_at: list[float] = []
    seen = [0, 0]

    def on_event(i: int, ev) -> None:
        if isinstance(ev, p.Token):
            seen[i] += 1
            if min(seen) >= 3 and not stopped_at:
                stopped_at.append(time.monotonic())
                session.stop()

    result = session.run(_commands(100_000), mode=RACE, threads_total=2, on_event=on_event)
    for r in result.runs:
        assert r.finished.stop_reason == p.STOP_USER and 3 <= r.finished.n_generated < 100_000
        assert r.finished.t_end - stopped_at[0] < 3.0


# --- a benchmark item -------------------------------------------------------------------------

def test_bench_runs_an_item_on_both_architectures(synthetic_files):
    config = BenchConfig(models=(str(synthetic_files["gemma4"]), str(synthetic_files["qwen35"])), limit=1,
                         runs=1, warmup=0,
                         settings={"max_tokens": 8, "n_ctx": 512, "ignore_eos": True})
    with BenchStore() as store:
        out = run_benchmark(config, store)
        run = store.get_run(out.run_id)
    assert out.status == STATUS_DONE and len(run.items) == 2
    assert [it.stats["n_tokens"] for it in run.items] == [8, 8] and all(it.error is None for it in run.items)
    assert [m.architecture for m in run.models] == ["gemma4", "qwen35"]
    # llama.cpp's memory account travels with the run into the exports.
    rows = summary_rows(run)
    assert [r["llama_kv_bytes"] for r in rows] == [3072 * 512, 2048 * 512]
    assert rows[0]["llama_recurrent_bytes"] == 0 < rows[1]["llama_recurrent_bytes"]
    report = markdown_report(run)
    assert "(EOS ignored)" in report and "recurrent" in report and "CPU: weights" in report


def test_the_window_and_compare_label_a_synthetic_file(qtbot, synthetic_files, demo_paths, python_exe):
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    w = MainWindow(load_settings(), [str(synthetic_files["gemma4"]), str(demo_paths["smollm2"])])
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.panes[0].facts_label.text() != "", timeout=30_000)
        assert ModelFacts.SYNTHETIC_LABEL in w.panes[0].facts_label.text()
        assert ModelFacts.SYNTHETIC_LABEL not in w.panes[1].facts_label.text()
    finally:
        w.close()
    out = subprocess.run([python_exe, "-m", "gemmacompare", "compare", str(synthetic_files["qwen35"]),
                          str(demo_paths["smollm2"]), "-p", "hi", "-n", "2"],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert ModelFacts.SYNTHETIC_LABEL in out.stderr.splitlines()[0]
