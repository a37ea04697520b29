"""The headless commands, run as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemmacompare.models.gguf_file import FileProblem
from tests.make_files import write_bad_version, write_broken_template, write_tiny_gguf, write_truncated

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=timeout, env={**os.environ},
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_inspect_prints_facts(demo_paths):
    out = cli("inspect", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]))
    assert out.returncode == 0, out.stderr
    assert "architecture:   llama" in out.stdout and "architecture:   gemma3" in out.stdout
    assert "Q4_1" in out.stdout and "Q4_K_M" in out.stdout
    assert "chat template:  no" in out.stdout
    assert out.stdout.count("runs on:        CPU · 0 layers offloaded (no GPU backend) · llama.cpp backends: CPU") == 2


def test_inspect_json(demo_paths):
    out = cli("inspect", "--json", str(demo_paths["gemma3"]))
    data = json.loads(out.stdout)
    assert data[0]["architecture"] == "gemma3" and data[0]["has_chat_template"] is False
    assert data[0]["runs_on"]["backend"] == "CPU" and data[0]["runs_on"]["layers_offloaded"] == 0


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda d, m: d / "missing.gguf", FileProblem.MISSING),
        (lambda d, m: d, FileProblem.DIRECTORY),
        (lambda d, m: _write(d / "e.gguf", b""), FileProblem.EMPTY),
        (lambda d, m: _write(d / "t.gguf", b"hello"), FileProblem.NOT_GGUF),
        (lambda d, m: write_bad_version(d / "v.gguf"), FileProblem.BAD_VERSION),
        (lambda d, m: write_truncated(m, d / "cut.gguf"), FileProblem.TRUNCATED),
        (lambda d, m: write_tiny_gguf(d / "a.gguf", "notarealarch"), FileProblem.UNKNOWN_ARCH),
    ],
    ids=lambda x: getattr(x, "name", ""),
)
def test_bad_files_have_distinct_exit_status(tmp_path, demo_paths, make, problem):
    path = make(tmp_path, demo_paths["smollm2"])
    out = cli("inspect", str(path))
    assert out.returncode == problem.value
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_compare_streams_both_and_writes_json(tmp_path, demo_paths):
    out_json = tmp_path / "run.json"
    out = cli("compare", "-p", "What is 2+2?", "-n", "12", "--mode", "fair", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    assert "[A] " in out.stdout and "[B] " in out.stdout
    assert "fair mode" in out.stdout and "gen t/s" in out.stdout
    data = json.loads(out_json.read_text())
    assert data["mode"] == "fair"
    assert [m["model"]["architecture"] for m in data["models"]] == ["llama", "gemma3"]
    assert "# [A] runs on CPU · 0/31 layers offloaded" in out.stderr
    assert "# [B] runs on CPU · 0/19 layers offloaded" in out.stderr
    assert "backend (llama.cpp)" in out.stdout and "CPU · 0/19 layers offloaded" in out.stdout
    assert [(m["placement"]["backend"], m["placement"]["layers_offloaded"]) for m in data["models"]] == [("CPU", 0)] * 2
    for m in data["models"]:
        toks = m["tokens"]
        assert 0 < len(toks) <= 12 and m["stats"]["n_tokens"] == len(toks)
        assert all(a["t"] <= b["t"] for a, b in zip(toks, toks[1:]))
        assert m["llama_perf"]["n_p_eval"] == m["stats"]["n_prompt"]
        assert m["memory"] and m["memory"][0]["rss"] > 0
        assert {k: m["settings"][k] for k in ("flash_attn", "type_k", "type_v")} == {
            "flash_attn": "auto", "type_k": "f16", "type_v": "f16"}


def test_compare_flash_attention_and_cache_type_options(tmp_path):
    out_json = tmp_path / "run.json"
    out = cli("compare", "smollm2", "smollm2", "-p", "Hi", "-n", "4", "-fa", "off", "-ctk", "q8_0",
              "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    settings = [m["settings"] for m in json.loads(out_json.read_text())["models"]]
    assert [(s["flash_attn"], s["type_k"], s["type_v"]) for s in settings] == [("off", "q8_0", "f16")] * 2
    out = cli("compare", "-p", "hi", "--flash-attn", "sometimes")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_broken_chat_template_is_reported_once_and_the_other_model_answers(tmp_path, demo_paths):
    broken = write_broken_template(demo_paths["smollm2"], tmp_path / "typo.gguf")
    out = cli("inspect", str(broken))
    assert out.returncode == 0
    assert "chat template:  present but broken (line 5: Encountered unknown tag 'endfro'." in out.stdout
    out = cli("compare", str(broken), "smollm2", "-p", "Hi", "-n", "6", "--mode", "fair")
    sentence = "chat template of Smollm2 135M 8k Lc100K Mix1 Ep2 is broken (line 5: Encountered unknown tag 'endfro'."
    assert out.stderr.count(sentence) == 1, out.stderr
    assert "use raw completion or pick another file." in out.stderr
    assert "exited" not in out.stderr and "context size" not in out.stderr
    assert "[B] " in out.stdout  # the other model answered
    out = cli("compare", str(broken), "smollm2", "-p", "Once upon a time", "-n", "4", "--raw")
    assert out.returncode == 0 and "[A] " in out.stdout and "broken" not in out.stderr


def test_compare_bad_model_exits_with_its_status(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_text("x")
    out = cli("compare", str(bad), "smollm2", "-p", "hi")
    assert out.returncode == FileProblem.NOT_GGUF.value
    assert "not a GGUF" in out.stderr


def test_bad_arguments_are_refused_before_loading(tmp_path):
    out = cli("compare", "-p", "hi", "-n", "0")
    assert out.returncode == 2 and "too small" in out.stderr
    out = cli("compare", "-p", "hi", "--json", str(tmp_path / "missing" / "x.json"))
    assert out.returncode == 2 and "cannot write" in out.stderr and "loading" not in out.stderr


def test_ignore_eos_reaches_compare_and_bench_settings():
    """--ignore-eos parses in both doors and lands in the settings each one builds."""
    from gemmacompare.bench.records import BenchConfig
    from gemmacompare.bench.runner import run_settings as bench_settings
    from gemmacompare.cli.compare import run_settings
    from gemmacompare.cli.main import build_parser

    ap = build_parser()
    cmp_args = ap.parse_args(["compare", "-p", "hi", "-n", "64", "--ignore-eos"])
    assert run_settings(cmp_args, 0).sampling.ignore_eos is True
    assert run_settings(ap.parse_args(["compare", "-p", "hi"]), 0).sampling.ignore_eos is False
    assert ap.parse_args(["bench", "--ignore-eos"]).ignore_eos is True
    assert bench_settings(BenchConfig(models=("x",), ignore_eos=True)).sampling.ignore_eos is True
