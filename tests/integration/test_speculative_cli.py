"""`compare MODEL --draft D --ab` and `--spec ngram --ab` on the demo models, through the real command line."""

from __future__ import annotations

import json
import subprocess

import pytest

from gemmacompare.engine.run_file import read_run_file

REPEAT = ("Repeat this paragraph exactly: The lighthouse stood on a rock at the edge of the bay. Every night its "
          "keeper climbed the spiral stairs.")


def cli(python_exe, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python_exe, "-m", "gemmacompare", *args], capture_output=True, text=True, timeout=300)


def test_ab_with_the_model_as_its_own_draft_records_its_statistics(demo_paths, python_exe, tmp_path):
    smol = str(demo_paths["smollm2"])
    out = cli(python_exe, "compare", smol, "--draft", smol, "--ab", "--runs", "2", "-n", "16", "--threads", "1",
              "-p", "Name three primary colours.", "--json", str(tmp_path / "ab.json"),
              "--save-run", str(tmp_path / "ab.gcrun"))
    assert out.returncode == 0, out.stderr
    assert "speed-up (plain over draft ms/token)" in out.stdout and "accepted" in out.stdout
    assert "acceptance by draft position: 100% 100% 100%" in out.stdout
    ab = json.loads((tmp_path / "ab.json").read_text())["ab"]
    assert ab["acceptance"] == 1.0 and len(ab["per_run_ms_per_token"]) == 2
    assert ab["speedup"] > 0 and ab["speedup_low"] < ab["speedup_high"]
    run = read_run_file(tmp_path / "ab.gcrun")
    plain, spec = run.models
    assert plain.record.finished.draft is None and plain.settings["load"]["speculation"] == "off"
    d = spec.record.finished.draft
    assert spec.settings["load"]["speculation"] == "draft" and spec.settings["load"]["draft_max"] == 0
    assert d is not None and d.kind == "draft" and d.n_accepted == d.n_drafted > 0 and d.accepted_tokens


def test_ab_with_ngram_lookup_counts_acceptance(demo_paths, python_exe):
    out = cli(python_exe, "compare", str(demo_paths["smollm2"]), "--spec", "ngram", "--spec-ngram-n", "3",
              "--draft-max", "8", "--ab", "--runs", "1", "-n", "32", "--threads", "1", "-p", REPEAT)
    assert out.returncode == 0, out.stderr
    assert "[ngram] The lighthouse" in out.stdout and "accepted" in out.stdout
    assert "One repetition gives no interval" in out.stdout


@pytest.mark.parametrize("args, words", [
    (["--draft", "gemma3"], "cannot draft for"),  # SmolLM2's vocabulary is not Gemma's
    ([], "needs a draft model (--draft FILE) or n-gram lookup"),
    (["--draft", "/nonexistent/d.gguf"], "draft model"),
    (["--spec", "ngram", "--temp", "0.7"], "greedy sampling only"),
])
def test_ab_refusals_are_one_sentence(demo_paths, python_exe, args, words):
    out = cli(python_exe, "compare", str(demo_paths["smollm2"]), *args, "--ab", "--runs", "1", "-n", "8",
              "--threads", "1", "-p", "hi")
    assert out.returncode != 0
    errors = [x for x in out.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], out.stderr
    assert "Traceback" not in out.stderr


def test_plain_compare_with_a_draft_runs_it_and_saves_its_statistics(demo_paths, python_exe, tmp_path):
    smol = str(demo_paths["smollm2"])
    out = cli(python_exe, "compare", smol, smol, "--draft", smol, "--mode", "fair", "-n", "8", "--threads", "1",
              "-p", "Name three primary colours.", "--save-run", str(tmp_path / "c.gcrun"))
    assert out.returncode == 0, out.stderr
    run = read_run_file(tmp_path / "c.gcrun")
    assert all(m.record.finished.draft is not None for m in run.models)
