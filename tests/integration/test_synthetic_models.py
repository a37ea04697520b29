"""The seed architectures (llama.cpp's gemma4 and qwen35) through the real engine,
on tiny synthetic files the tests write themselves (models/synthetic.py).

Random-weight files (Q4_K_M, the default type) check loading, streaming, stop and
that a request starts from a clean recurrent state; scripted files (a bigram table
in the weights) check the thinking split through the real chat templates.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.models.gguf_file import ModelFacts, read_model_facts
from gemmacompare.models.synthetic import build
from gemmacompare.models.synthetic_presets import PRESETS
from gemmacompare.models.synthetic_tensors import parameter_count

FAMILIES = ("gemma4", "qwen35")


QUESTION = (p.ChatMessage("user", "What is the capital of France?"),)


LOAD = p.LoadSettings(n_ctx=512, n_threads=1)


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
    for ev in w.generate(p.GenerateCommand(30, messages=QUESTION, sampling=p.SamplingSettings(max_tokens=100_000))):
        rec.add(ev)
        if stopped_at is None and len(rec.tokens) >= 3:
            stopped_at = time.monotonic()
            w.stop()
    assert rec.finished.stop_reason == p.STOP_USER
    assert 3 <= rec.finished.n_generated < 100_000
    assert time.monotonic() - stopped_at < 3.0  # the 0.5 s target: benchmarks/stop_latency.py
    assert w.alive  # stopped by the flag, not by a kill
    assert run(w, 31, max_tokens=2).finished.n_generated == 2  # and it answers again
