"""The window with three models: add a pane, race, fair with a replay of all three,
presentation mode, remove a pane; and `compare` with three models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from gemmacompare.state.settings import load_settings
from tests.integration.test_gui import ask, make_window, set_short

pytestmark = pytest.mark.gui


def test_three_panes_race_replay_and_remove(qtbot, demo_paths):
    w = make_window(qtbot)
    try:
        qtbot.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert len(w.panes) == 3 and w.panes[2].label == "C" and w.panes[2].remove_button.isVisibleTo(w)
        assert w.charts.labels == ["A", "B", "C"] and len(w.charts.rate_curves) == 3
        assert "Model C added" in w.banner.text()
        assert w.panes[2].set_model(str(demo_paths["smollm2"]))  # a demo model may appear twice
        qtbot.waitUntil(lambda: all(p.state == "ready" for p in w.panes), timeout=60_000)
        assert "Model C added" not in w.banner.text()  # loaded: the sentence is stale
        set_short(w, 12)

        w.race_radio.setChecked(True)
        ask(qtbot, w, "Name a colour.")
        assert all(p.record and p.record.finished for p in w.panes)
        assert [p.record.stats().n_threads for p in w.panes] == list(w.runner.state.result.split.threads)
        assert "ranked by ms/token" in w.banner.text() and "Race" in w.banner.text()
        assert all(p.series() is not None and p.series().token_times.size for p in w.panes)

        w.fair_radio.setChecked(True)
        ask(qtbot, w, "Name a fruit.", timeout=180_000)  # compare_finished comes after the replay of all three
        assert "Fair" in w.banner.text() and "each alone" in w.banner.text()
        for p in w.panes:
            assert p.record.stats().n_threads == w.total_threads
            assert p.chat.replies()[-1].answer.text == p.record.answer  # replay rebuilt the full text

        w.presentation_action.setChecked(True)
        qtbot.waitUntil(lambda: w.isFullScreen(), timeout=5_000)
        assert all(p.isVisible() and p.width() > 100 for p in w.panes)
        w.presentation_action.setChecked(False)

        assert "C" in w.banner.text()  # the verdict ranks B among the three
        w.remove_pane(1)
        assert "Model B removed" in w.banner.text() and "each alone" not in w.banner.text()
        assert [p.label for p in w.panes] == ["A", "C"] and [p.index for p in w.panes] == [0, 1]
        assert w.session.labels == ["A", "C"] and w.charts.labels == ["A", "C"]
        assert not any(p.remove_button.isVisibleTo(w) for p in w.panes)  # two is the least
        w.race_radio.setChecked(True)
        ask(qtbot, w, "Name an animal.")
        assert all(p.record.finished for p in w.panes)
        w.remove_pane(0)
        assert len(w.panes) == 2 and "Two models at least" in w.banner.text()
    finally:
        w.close()
    saved = load_settings().settings
    assert len(saved.panes) == len(saved.models) == 2


def test_compare_with_three_models_writes_three_in_its_json(demo_paths, tmp_path):
    out = tmp_path / "three.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gemmacompare", "compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]),
         str(demo_paths["smollm2"]), "-p", "Name a colour.", "-n", "8", "--json", str(out),
         "--threads", "1,2,1", "--mode", "fair"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[C]" in proc.stdout and "ranked by ms/token" in proc.stdout
    data = json.loads(out.read_text())
    assert [m["label"] for m in data["models"]] == ["A", "B", "C"]
    assert data["threads_per_model"] == [1, 2, 1] and data["mode"] == "fair"
    assert all(m["stats"]["n_tokens"] > 0 and m["settings"]["n_threads"] for m in data["models"])
    bad = subprocess.run([sys.executable, "-m", "gemmacompare", "compare", "a.gguf", "b.gguf", "-p", "x",
                          "--threads", "1,2,3"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--threads has 3 values for 2 models" in bad.stderr


def test_bench_with_three_models_exports_three(demo_paths, tmp_path):
    out = tmp_path / "out"
    smol, gemma = str(demo_paths["smollm2"]), str(demo_paths["gemma3"])
    proc = subprocess.run(
        [sys.executable, "-m", "gemmacompare", "bench", smol, gemma, smol, "--limit", "1", "-n", "8",
         "--warmup", "0", "--mode", "race", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 models" in proc.stdout + proc.stderr
    data = json.loads(next(out.glob("bench-*.json")).read_text())
    assert len(data["models"]) == 3 and len(data["summary"]) == 3
    # Race: the machine's threads split three ways (at least one each), recorded per model.
    assert [row["n_threads"] for row in data["summary"]] == [m["n_threads"] for m in data["models"]]
    assert len({row["model_name"] for row in data["summary"]}) == 3  # the same file twice is told apart
    rows = next(out.glob("bench-*-summary.csv")).read_text().splitlines()
    assert len(rows) == 4  # header and one row per model
    listing = subprocess.run([sys.executable, "-m", "gemmacompare", "bench", "--list"],
                             capture_output=True, text=True, timeout=60)
    # Models by the names people know them by (the demo's label), not the files' general.name.
    assert listing.returncode == 0 and "Gemma-3-270M Q4_K_M base" in listing.stdout
    assert not any("Smollm2 135M 8k" in row["model_name"] for row in data["summary"])


def test_three_models_named_at_start_open_three_panes(qtbot, demo_paths):
    smol, gemma = str(demo_paths["smollm2"]), str(demo_paths["gemma3"])
    w = make_window(qtbot, [smol, gemma, smol])
    try:
        assert [p.model_path for p in w.panes] == [smol, gemma, smol]
        assert [p.label for p in w.panes] == ["A", "B", "C"] and w.session.labels == ["A", "B", "C"]
        w.set_presentation(True)
        assert not any(p.facts_label.isVisible() for p in w.panes)  # the answers get the room
        w.set_presentation(False)
        assert all(p.facts_label.isVisible() for p in w.panes)
    finally:
        w.close()
    assert load_settings().settings.models == (smol, gemma, smol)
