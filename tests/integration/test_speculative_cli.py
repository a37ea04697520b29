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
    # The file keeps the draft's file name, not its path; a rerun finds it here by that name.
    assert run.models[0].settings["load"]["draft_model"] == demo_paths["smollm2"].name
    from gemmacompare.engine.rerun import RerunRefused, plan_rerun

    plan = plan_rerun(run)
    assert all(s.load.draft_model == smol for s in plan.settings)
    assert any("found its draft model" in x for x in plan.found)
    doc = json.loads((tmp_path / "c.gcrun").read_text())
    doc["models"][0]["settings"]["load"]["draft_model"] = "no-such-draft.gguf"
    (tmp_path / "d.gcrun").write_text(json.dumps(doc))
    with pytest.raises(RerunRefused, match="drafted with no-such-draft.gguf, which is not on this machine"):
        plan_rerun(read_run_file(tmp_path / "d.gcrun"))


def test_bench_ab_gives_a_table_by_kind_of_prompt(demo_paths, python_exe, tmp_path):
    out = cli(python_exe, "bench", str(demo_paths["smollm2"]), "--spec", "ngram", "--spec-ngram-n", "3",
              "--draft-max", "8", "--ab", "--runs", "1", "-n", "12", "--threads", "1", "-q", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split()[:3] == ["kind", "prompts", "runs"]
    assert [x.split()[0] for x in lines[2:]] == ["code", "prose", "structured", "repeat"]
    doc = json.loads((tmp_path / "speculation-ab.json").read_text())
    assert doc["suite"] == "speculation" and len(doc["prompts"]) == 8
    repeat = next(r for r in doc["by_kind"] if r["kind"] == "repeat")
    assert repeat["acceptance"] > 0 and repeat["speedup"] > 0


def _llama_server():
    from pathlib import Path

    found = sorted((Path.home() / ".cache" / "gemmacompare" / "llama-tools").glob("*/bin/llama-server"))
    return found[-1] if found else None


LLAMA_SERVER = _llama_server()  # looked up at import: each test's home is a private empty one


def test_a_llama_server_pane_gives_its_draft_counts(demo_paths, tmp_path):
    """llama.cpp's own server speculating (ngram-simple): a pane's Finished carries its timings'
    draft_n / draft_n_accepted, and the stats line says how much was accepted."""
    import time

    from gemmacompare.engine import protocol as p
    from gemmacompare.engine.metrics import RunRecord
    from gemmacompare.engine.remote.worker import RemoteWorker
    from tests.fake_servers import free_port, stop_process, wait_until_serving

    binary = LLAMA_SERVER
    if binary is None:
        pytest.skip("llama-server is not built here (scripts/build_llama_tools.sh)")
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([str(binary), "-m", str(demo_paths["smollm2"]), "--host", "127.0.0.1", "--port",
                             str(port), "-t", "1", "-c", "1024", "-np", "1", "--spec-type", "ngram-simple",
                             "--spec-ngram-simple-size-n", "3", "--spec-ngram-simple-size-m", "8"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/health", log, "llama-server")
        w = RemoteWorker("S")
        w.load(f"http://127.0.0.1:{port}/v1")
        rec = RunRecord("S", time.monotonic())
        for ev in w.generate(p.GenerateCommand(1, messages=(p.ChatMessage("user", REPEAT),),
                                               sampling=p.SamplingSettings(max_tokens=40))):
            rec.add(ev)
        w.close()
    finally:
        stop_process(proc)
    d = rec.finished.draft
    assert d is not None and d.kind == "server" and d.n_drafted > 0 and 0 < d.n_accepted <= d.n_drafted
    assert rec.stats().draft_kind == "server" and rec.stats().n_drafted == d.n_drafted
