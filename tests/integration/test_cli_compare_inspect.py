"""The headless commands, run as a user would run them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gemmacompare.models.gguf_file import FileProblem
from tests.make_files import write_bad_version, write_broken_template, write_tiny_gguf, write_truncated
from tests.unit.test_cli import cli


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_inspect_prints_facts(demo_paths):
    out = cli("inspect", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]))
    assert out.returncode == 0, out.stderr
    assert "architecture:   llama" in out.stdout and "architecture:   gemma3" in out.stdout
    assert "Q4_1" in out.stdout and "Q4_K_M" in out.stdout
    assert "chat template:  no" in out.stdout
    # No GPU device here: lavapipe is a CPU-type Vulkan device, which llama.cpp skips unless asked.
    # The Vulkan module is built in where setup could build it (then "no GPU device found").
    runs_on = re.findall(r"runs on: +CPU · 0 layers offloaded \((no GPU backend|no GPU device found)\) · "
                         r"llama.cpp backends: (?:Vulkan, )?CPU\n", out.stdout)
    assert len(runs_on) == 2, out.stdout
    assert "load_backend" not in out.stderr  # llama.cpp's info lines (with full paths) stay out of the terminal


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
        # A single prompt is read whole (the conversation cache is for the window's turns), and says so.
        assert m["settings"]["cache"] == m["stats"]["cache_policy"] == "cold"
        assert (m["stats"]["n_reused"], m["stats"]["n_prefilled"]) == (0, m["stats"]["n_prompt"])
    assert re.search(r"prompt cache\s+cold\s+cold", out.stdout), out.stdout


def test_compare_flash_attention_and_cache_type_options(tmp_path):
    out_json = tmp_path / "run.json"
    out = cli("compare", "smollm2", "smollm2", "-p", "Hi", "-n", "4", "-fa", "off", "-ctk", "q8_0",
              "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    settings = [m["settings"] for m in json.loads(out_json.read_text())["models"]]
    assert [(s["flash_attn"], s["type_k"], s["type_v"]) for s in settings] == [("off", "q8_0", "f16")] * 2
    out = cli("compare", "-p", "hi", "--flash-attn", "sometimes")
    assert out.returncode == 2 and "Flash attention must be one of auto, on, off, not 'sometimes'." in out.stderr


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
