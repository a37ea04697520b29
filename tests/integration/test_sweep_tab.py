"""The window's Context sweep tab (ui/sweep_tab.py) with pytest-qt, on SmolLM2 and the tiny synthetic
Qwen3.5: progress, Stop, two charts with one line per model, hover text, PNG and run file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemmacompare.models.synthetic import build
from gemmacompare.ui.bench_charts import model_colour
from gemmacompare.ui.sweep_tab import SweepTab

RUN_TIMEOUT_MS = 180_000  # two small models at three small depths on a shared 2-core machine


@pytest.fixture(scope="module")
def qwen_tiny(tmp_path_factory) -> Path:
    return build("qwen35-tiny", tmp_path_factory.mktemp("sweep-tab") / "qwen35-tiny.gguf").path


def _tab(qtbot, paths: list[str], depths: str, reps: int = 2) -> SweepTab:
    tab = SweepTab()
    qtbot.addWidget(tab)
    tab.set_models(paths)
    tab.depths_edit.setText(depths)
    tab.gen_spin.setValue(4)
    tab.pp_spin.setValue(16)
    tab.reps_spin.setValue(reps)
    tab.threads_spin.setValue(1)
    return tab


def test_a_sweep_runs_and_draws_two_charts_with_one_line_per_model(qtbot, demo_paths, qwen_tiny, tmp_path):
    tab = _tab(qtbot, [str(demo_paths["smollm2"]), str(qwen_tiny)], "0,64,256")
    seen: list[str] = []
    tab.worker.progress.connect(lambda message, done, total: seen.append(message))
    with qtbot.waitSignal(tab.running_changed, timeout=5000) as started:
        tab.run_button.click()
    assert started.args == [True] and not tab.run_button.isEnabled() and tab.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not tab.running, timeout=RUN_TIMEOUT_MS)
    assert any("depth 256" in m and "elapsed" in m for m in seen)  # progress while it ran
    assert "Sweep done" in tab.status_label.text()
    speed, memory = tab.charts.speed, tab.charts.memory
    assert set(speed.lines) == set(memory.lines) == {"A", "B"}  # one line per model in each chart
    for k, label in enumerate(("A", "B")):
        xs, ys = speed.lines[label].getData()
        assert list(xs) == [0.0, 64.0, 256.0] and all(y > 0 for y in ys)
        assert speed.lines[label].opts["pen"].color().name() == model_colour(k)
        assert label in memory.estimates  # the dashed estimate, out to the model's trained context
        ex, _ = memory.estimates[label].getData()
        assert 10 ** ex[-1] == pytest.approx(tab.result.models[k].n_ctx_train)
    hover = speed.hover_text("A", 1)
    assert "depth 64" in hover and "ms/token" in hover and "memory (llama.cpp)" in hover
    # Where llama.cpp sees a GPU, its memory is a horizontal line (this machine has none: an 8 GiB card's
    # figure, as a DepthMemory would carry it, drawn from the same result).
    tab.result.gpu_memory["CUDA0"] = 8 * 2**30
    tab.charts.set_result(tab.result)
    assert memory.gpu_lines == ["CUDA0"]
    png, run = tmp_path / "sweep.png", tmp_path / "sweep.gcrun"
    assert tab.save_png(png) and png.stat().st_size > 1000
    assert tab.save_run(run)
    doc = json.loads(run.read_text())
    assert doc["kind"] == "sweep" and len(doc["sweep"]["points"]) == 6


def test_stop_keeps_what_was_measured(qtbot, demo_paths):
    tab = _tab(qtbot, [str(demo_paths["smollm2"])], "0,64,256", reps=3)

    def stop_at_depth_64(message: str, done: int, total: int) -> None:
        if "depth 64" in message:
            tab.stop()

    tab.worker.progress.connect(stop_at_depth_64)
    tab.run_button.click()
    qtbot.waitUntil(lambda: not tab.running, timeout=RUN_TIMEOUT_MS)
    assert "Stopped" in tab.status_label.text()
    assert tab.result is not None and tab.result.stopped
    assert [x.depth for x in tab.result.points] == [0, 64]
    xs, _ = tab.charts.speed.lines["A"].getData()
    assert 0.0 in list(xs) and 256.0 not in list(xs)
    assert tab.save_button.isEnabled() and tab.run_button.isEnabled()


def test_bad_depths_get_one_sentence_and_nothing_runs(qtbot):
    tab = _tab(qtbot, ["x.gguf"], "0,lots")
    tab.run_button.click()
    assert not tab.running
    text = tab.status_label.text()
    assert text.startswith("Depths:") and "lots" in text and text.count("\n") == 0
