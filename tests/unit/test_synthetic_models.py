"""Synthetic models without running them: parameter counts of the published shapes,
full vocabularies and the script that writes a tiny file (through the real engine:
tests/integration/test_synthetic_models_run.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gemmacompare.models.gguf_file import read_model_facts
from gemmacompare.models.synthetic_presets import PRESETS
from gemmacompare.models.synthetic_tensors import parameter_count
from gemmacompare.models.synthetic_vocab import build_vocab


def test_full_size_gemma4_count_matches_the_published_one():
    count = parameter_count(PRESETS["gemma4-e2b"])
    # Model card: 2.3B effective (all but the per-layer embedding table), 5.1B with it
    # and with the vision and audio encoders (~0.45B, not in a text GGUF).
    assert abs(count.effective / 2.3e9 - 1) < 0.05
    assert 4.5e9 < count.total < 4.8e9
    assert count.per_layer_embeddings == 262144 * 35 * 256


def test_full_size_qwen35_count_is_the_configs():
    count = parameter_count(PRESETS["qwen35-4b"])
    embd = 248320 * 2560  # tied output layer
    deltanet = 2560 * (2 * 2048 + 4096) + 2560 * 4096 + 4 * 8192 + 2 * 32 + 2 * 2560 * 32 + 128 + 4096 * 2560
    attention = 2560 * 8192 + 2 * 2560 * 1024 + 4096 * 2560 + 2 * 256
    per_layer = 2 * 2560 + 3 * 2560 * 9216
    assert count.total == embd + 2560 + 24 * (deltanet + per_layer) + 8 * (attention + per_layer)
    # The checkpoint's language model, to the parameter: the Hub total less the vision
    # tower and the MTP head (the preset's [Q35-hub]), which a text GGUF does not hold.
    published = PRESETS["qwen35-4b"].published
    assert published.compared == 4_659_865_088 - 333_514_240 - 120_599_552 == count.total


def test_full_size_llama32_count_is_the_configs_and_within_5_percent_of_the_card():
    count = parameter_count(PRESETS["llama32-3b"])
    embd = 128256 * 3072  # tied output layer
    attention = 3072 * 3072 + 2 * 3072 * 1024 + 3072 * 3072  # q, k and v of 8 KV heads of 128, output
    per_layer = 2 * 3072 + attention + 3 * 3072 * 8192
    rope_freqs = 64  # Llama 3's rope scaling, one factor per rotated pair of a 128-wide head
    assert count.total == embd + 3072 + 28 * per_layer + rope_freqs == 3_212_749_888
    assert count.per_layer_embeddings == 0
    # Model card: "3B (3.21B)"; keras-hub's 3,606,752,256 counts the output layer apart.
    published = PRESETS["llama32-3b"].published
    assert published.compared == 3_210_000_000 and abs(count.total / published.compared - 1) < 0.05
    assert count.total + 128256 * 3072 - rope_freqs == 3_606_752_256


def test_llama3_rope_factors_follow_the_converter():
    """conversion/llama.py: 1 below a wavelength of 8192 / 4, 32 above 8192, smooth between."""
    from gemmacompare.models.synthetic import _rope_freqs

    factors = _rope_freqs(PRESETS["llama32-3b"].shape)
    assert factors.shape == (64,)
    assert factors[0] == 1.0 and factors[-1] == 32.0
    assert all(a <= b for a, b in zip(factors, factors[1:]))  # longer wavelengths, larger factors
    assert any(1.0 < f < 32.0 for f in factors)


def test_make_synthetic_prints_the_published_count_less_what_the_file_lacks():
    out = subprocess.run(
        [sys.executable, "scripts/make_synthetic.py", "qwen35-4b", "--count-only"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (
        "published:   4,659,865,088 total (Qwen/Qwen3.5-4B safetensors total on Hugging Face) minus "
        "vision tower 333,514,240, MTP head 120,599,552 = 4,205,751,296 (4.2B); ours +0.0% (within 5%)"
    ) in out.stdout


@pytest.mark.parametrize("preset", ["gemma4-e2b", "qwen35-4b", "llama32-3b"])
def test_full_vocabulary_keeps_its_size_and_the_templates_tokens(preset):
    p_ = PRESETS[preset]
    vocab = build_vocab(p_.family, p_.shape.n_vocab)
    assert len(vocab.tokens) == len(set(vocab.tokens)) == p_.shape.n_vocab
    wanted = {
        "gemma4": ("<bos>", "<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>", "<|tool_call>"),
        "qwen35": ("<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "<|endoftext|>"),
        "llama": ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"),
    }[p_.family]
    assert set(wanted) <= set(vocab.tokens)
    if p_.family == "llama":
        # Llama 3's ids: the special tokens follow 128,000 BPE tokens, in the tokenizer's order.
        assert (vocab.bos, vocab.eos) == (128000, 128009) and vocab.pad is None
        assert vocab.id("<|start_header_id|>") == 128006 and vocab.tokens[-1] == "<|reserved_special_token_247|>"
        assert sorted(vocab.eog) == [128001, 128008, 128009]


def test_scripts_make_synthetic_writes_a_tiny_file(tmp_path):
    out = subprocess.run(
        [sys.executable, "scripts/make_synthetic.py", "qwen35-tiny", str(tmp_path / "q.gguf"), "--type", "Q8_0"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "parameters:  6,059,696" in out.stdout and "written:" in out.stdout and "quantising" in out.stdout
    assert read_model_facts(tmp_path / "q.gguf").quantization == "Q8_0"
