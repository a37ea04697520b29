"""The seed's third row, Llama-3.2-3B's architecture (llama.cpp's `llama`), through the real
engine on a tiny synthetic file the test writes itself (preset llama32-tiny): it loads, the
real Llama 3.2 template formats the chat, it streams as long as asked, and llama.cpp's KV
account equals the estimate from the GGUF facts (a KV cache on every layer)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.models.gguf_file import read_model_facts
from gemmacompare.models.synthetic import build
from gemmacompare.models.synthetic_presets import PRESETS
from gemmacompare.models.synthetic_tensors import parameter_count


@pytest.fixture(scope="module")
def llama_file(tmp_path_factory) -> Path:
    return build("llama32-tiny", tmp_path_factory.mktemp("synthetic") / "llama32-tiny.gguf").path


def test_facts_and_inspect_say_llama_and_synthetic(llama_file, python_exe):
    facts = read_model_facts(llama_file)
    assert facts.architecture == "llama" and facts.quantization == "Q4_K_M"
    assert facts.synthetic and facts.name.startswith("Synthetic Llama-3.2")
    assert facts.parameters == parameter_count(PRESETS["llama32-tiny"]).total
    assert facts.context_length == 131072 and facts.file_size < 8 * 2**20
    out = subprocess.run([python_exe, "-m", "gemmacompare", "inspect", str(llama_file)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "architecture:   llama" in out.stdout
    assert "weights:        synthetic weights (speed and memory only)" in out.stdout


def test_loads_streams_through_the_llama_template_and_kv_matches_the_estimate(llama_file):
    w = ModelWorker("llama32-tiny")
    try:
        loaded = w.load(str(llama_file), p.LoadSettings(n_ctx=512))
        (cpu,) = loaded.placement.memory
        # A KV cache on every layer: 4 layers x K and V x 2 heads of 64 x f16, 512 cells.
        assert cpu.kv_cache == loaded.facts.memory_at(512).kv_cache == 512 * 4 * 2 * (2 * 64) * 2
        assert cpu.recurrent_state == 0
        rec = RunRecord(w.label, time.monotonic())
        question = (p.ChatMessage("user", "What is the capital of France?"),)
        for ev in w.generate(p.GenerateCommand(1, messages=question, sampling=p.SamplingSettings(max_tokens=8),
                                               n_threads=1)):
            rec.add(ev)
    finally:
        w.close()
    assert rec.error is None, rec.error
    prompt = rec.prompt.prompt_text
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date")
    assert prompt.endswith("What is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    # End-of-generation rows (<|end_of_text|>, <|eom_id|>, <|eot_id|>) are zero: it runs as long as asked.
    assert rec.finished.stop_reason == p.STOP_MAX_TOKENS and rec.finished.n_generated == 8
    assert rec.prefill.n_prompt == rec.finished.n_prompt > 20
