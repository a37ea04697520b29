"""The context sweep (engine/sweep.py, engine/local/depth_run.py) on real models: SmolLM2 and the
tiny synthetic Gemma-4 and Qwen3.5 files, at small depths with a few tokens, one thread each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemmacompare.cli.main import main
from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.sweep import ContextSweep, SweepModel, SweepSettings, estimate_curve, plan
from gemmacompare.models.gguf_file import read_model_facts
from gemmacompare.models.synthetic import build

DEPTHS = (0, 64, 256)
SMALL = SweepSettings(depths=DEPTHS, n_gen=4, n_pp=16, reps=2, threads=1)
MIB_ROUNDING = 0.01 * 2**20  # llama.cpp logs buffer sizes in MiB with two decimals


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sweep-synthetic")
    return {family: build(f"{family}-tiny", folder / f"{family}-tiny.gguf").path for family in ("gemma4", "qwen35")}


@pytest.fixture(scope="module")
def swept(demo_paths, tiny_files):
    """One sweep of the three files, every model load counted."""
    loads: list[str] = []
    real_load = ModelWorker.load

    def counting_load(self, path, settings=p.LoadSettings()):
        loads.append(str(path))
        return real_load(self, path, settings)

    mp = pytest.MonkeyPatch()
    mp.setattr(ModelWorker, "load", counting_load)
    try:
        progress = []
        paths = [str(demo_paths["smollm2"]), str(tiny_files["gemma4"]), str(tiny_files["qwen35"])]
        result = ContextSweep(paths, SMALL).run(progress.append)
    finally:
        mp.undo()
    return result, loads, progress


def test_depths_in_order_each_model_loaded_once(swept):
    result, loads, progress = swept
    assert not result.stopped
    assert sorted(loads) == sorted(m.path for m in result.models)  # one load each, none between depths
    for m in result.models:
        assert m.error == ""
        assert [x.depth for x in result.points if x.label == m.label] == list(DEPTHS)
        assert m.loaded is not None and m.loaded.n_ctx >= SMALL.n_ctx_at(max(DEPTHS))
    assert [x.depth for x in result.points] == sorted(x.depth for x in result.points)  # depth by depth
    for x in result.points:
        assert len(x.tg_ms) == SMALL.reps and len(x.pp_tps) == SMALL.reps
        assert len(x.tg_perf_ms) == SMALL.reps  # llama.cpp's own counter beside ours
        # Decodes reuse the compute graph after the first (the first too when a one-token decode came just
        # before, e.g. the warm-up), the hybrid Qwen3.5 included; from an empty state (depth 0) the hybrid
        # builds it twice: its recurrent input changes once the state exists (rs_z in llama-graph.cpp).
        least = SMALL.n_gen - (2 if x.depth == 0 else 1)
        assert all(least <= n <= SMALL.n_gen for n in x.tg_graphs_reused), (x.label, x.depth, x.tg_graphs_reused)
        assert len(x.tg_graphs_reused) == SMALL.reps
    assert any("loaded once" in n for n in result.notes)
    assert progress[-1].done == progress[-1].total == 3 * len(DEPTHS) * SMALL.reps * 2
    assert progress[-1].left_s is not None and "elapsed" in progress[-1].message


def test_kv_and_recurrent_account_equal_the_estimate(swept):
    result, _, _ = swept
    for x in result.points:
        assert x.estimate is not None
        assert x.part("KV") == pytest.approx(x.estimate.kv_cache, abs=MIB_ROUNDING), (x.label, x.depth)
        assert x.part("RS") == pytest.approx(x.estimate.recurrent_state, abs=MIB_ROUNDING), (x.label, x.depth)
        assert x.memory_total > x.part("KV")  # weights and compute come with it
    qwen = [x for x in result.points if x.label == "C"]
    assert all(x.part("RS") > 0 for x in qwen)  # the DeltaNet state, the same at every depth
    assert len({x.part("RS") for x in qwen}) == 1


def test_estimate_curve_equals_inspect_ctx(swept, capsys):
    result, _, _ = swept
    for m in result.models:
        sizes = [256, 512, 4096]
        curve = dict(estimate_curve(m, SMALL.load, sizes))
        assert main(["inspect", m.path, "--json", "--ctx", ",".join(map(str, sizes))]) == 0
        shown = json.loads(capsys.readouterr().out)[0]["memory_estimates"]
        assert {e["n_ctx"]: e["total"] for e in shown} == curve


def test_a_depth_past_the_trained_context_is_left_out_with_one_sentence(demo_paths):
    facts = read_model_facts(demo_paths["smollm2"])
    m = SweepModel("A", str(demo_paths["smollm2"]), facts)
    plan([m], SweepSettings(depths=(0, facts.context_length or 0), n_gen=4, n_pp=16), None)
    assert m.depths == (0,)
    assert len(m.left_out) == 1 and m.left_out[0].count(". ") == 0 and "trained for" in m.left_out[0]


def test_a_depth_past_free_memory_is_skipped(demo_paths):
    m = SweepModel("A", str(demo_paths["smollm2"]), read_model_facts(demo_paths["smollm2"]))
    plan([m], SweepSettings(depths=(0, 4096), n_gen=4, n_pp=16), free_bytes=120 * 2**20)
    assert m.depths == (0,) and "free here" in m.left_out[0]


def _sweep_stopped_at(paths, when) -> object:
    job = ContextSweep(paths, SMALL)

    def progress(pr):
        if when(pr):
            job.stop()

    return job.run(progress)


def test_stop_between_depths_keeps_what_was_measured(demo_paths):
    result = _sweep_stopped_at([str(demo_paths["smollm2"])], lambda pr: pr.done == SMALL.reps * 2)
    assert result.stopped
    assert [x.depth for x in result.points] == [0]
    assert len(result.points[0].tg_ms) == SMALL.reps and len(result.points[0].pp_tps) == SMALL.reps


def test_stop_inside_a_depth_keeps_what_was_measured(demo_paths):
    result = _sweep_stopped_at([str(demo_paths["smollm2"])], lambda pr: pr.depth == 64 and pr.done > SMALL.reps * 2)
    assert result.stopped
    assert [x.depth for x in result.points] == [0, 64]
    inside = result.points[1]
    assert 1 <= len(inside.tg_ms) < SMALL.reps + 1 and len(inside.pp_tps) < SMALL.reps
    assert len(result.points[0].tg_ms) == SMALL.reps


def test_cli_sweep_writes_json_and_run_file(demo_paths, tiny_files, tmp_path, capsys):
    out_json, run = tmp_path / "sweep.json", tmp_path / "sweep.gcrun"
    rc = main(["sweep", str(demo_paths["smollm2"]), str(tiny_files["qwen35"]), "--depths", "0,64",
               "-n", "4", "--pp", "16", "--reps", "2", "--threads", "1",
               "--json", str(out_json), "--save-run", str(run)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "depth 64" in captured.err and "elapsed" in captured.err  # progress on stderr
    assert "ms/token" in captured.out and "loaded once" in captured.out  # the table and how it ran
    doc = json.loads(out_json.read_text())
    assert [x["depth"] for x in doc["points"]] == [0, 0, 64, 64]
    assert all(len(x["tg_ms_per_token"]) == 2 for x in doc["points"])
    assert "at its trained context of 8,192 tokens" in captured.out
    curve = doc["models"][1]["estimate_curve"]  # Qwen3.5: the estimate out to its 262,144 tokens
    assert curve[-1][0] == 262144 and curve == sorted(curve)
    saved = json.loads(run.read_text())
    assert saved["kind"] == "sweep" and saved["sweep"]["points"] == doc["points"]
    assert str(tmp_path) not in run.read_text()  # file names only, as every run file
    assert main(["replay", str(run)]) != 0  # a sweep has no replies: one sentence, not a crash
    err = capsys.readouterr().err
    assert "holds a context sweep" in err and err.count("\n") == 1


def test_cli_sweep_says_which_depth_is_left_out(demo_paths, capsys):
    rc = main(["sweep", str(demo_paths["smollm2"]), "--depths", "0,9000", "-n", "2", "--pp", "8", "--reps", "1",
               "--threads", "1"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Depth 9,000 is left out for" in captured.err


def test_cli_sweep_refuses_bad_depths(capsys):
    assert main(["sweep", "x.gguf", "--depths", "0,abc"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "abc" in err


def test_a_sweep_at_depth_zero_alone_fits_its_context(demo_paths):
    """Depth 0 loads max(-n, -p) cells: the warm-ups (a -p prefill, then one decode) run apart,
    as llama-bench's pp and tg tests warm up apart, so neither overflows that context."""
    settings = SweepSettings(depths=(0,), n_gen=4, n_pp=256, reps=1, threads=1)  # 256 cells: llama.cpp pads to 256
    result = ContextSweep([str(demo_paths["smollm2"])], settings).run(lambda _progress: None)
    assert result.models[0].error == ""
    assert result.models[0].loaded is not None and result.models[0].loaded.n_ctx <= 256
    assert [x.depth for x in result.points] == [0] and len(result.points[0].tg_ms) == 1
