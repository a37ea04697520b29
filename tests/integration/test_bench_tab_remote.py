"""The Benchmark tab with one local demo model and one model on a server (offscreen)."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import Qt

from gemmacompare.bench.store import BenchStore
from tests.integration.test_llama_server_recorded import final_figures

pytestmark = pytest.mark.gui

TIMEOUT_MS = 240_000


def run_tab(qtbot, models: list[str]):
    from gemmacompare.ui.bench_tab import BenchmarkTab

    tab = BenchmarkTab()
    qtbot.addWidget(tab)
    tab.set_models(models)
    tab.limit_spin.setValue(2)
    tab.runs_spin.setValue(1)
    tab.warmup_spin.setValue(0)
    tab.tokens_spin.setValue(12)
    tab.show()
    with qtbot.waitSignal(tab.run_finished, timeout=TIMEOUT_MS) as done:
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert done.args[1] == "done", tab.status_label.text()
    return tab


def rows(tab) -> list[dict[str, str]]:
    cols = [tab.table.horizontalHeaderItem(c).text() for c in range(tab.table.columnCount())]
    return [{cols[c]: tab.table.item(r, c).text() for c in range(len(cols))} for r in range(tab.table.rowCount())]


def test_bench_tab_with_a_local_and_a_served_model(qtbot, demo_paths, fresh_llama_cpp_server):
    # A server of its own: its prompt cache would change the shared server's greedy answers later.
    base, _ = fresh_llama_cpp_server
    where = urlsplit(base).netloc
    tab = run_tab(qtbot, [str(demo_paths["smollm2"]), base])
    try:
        assert tab.models_label.text().splitlines() == [demo_paths["smollm2"].name, f"server model @ {where}"]
        table = rows(tab)
        assert len(table) == 4 and all(r["verdict"] != "error" for r in table), table
        local = [r for r in table if r["model"] == tab.labels[0]]
        served = [r for r in table if r["model"] == tab.labels[1]]
        assert len(local) == len(served) == 2
        assert all(r["tokens"].isdigit() and float(r["gen t/s"]) > 0 for r in local)
        # llama_cpp.server streams no counts: chunks, never called tokens, and chunks/s.
        assert all(r["tokens"].endswith(" chunks") and r["gen t/s"].endswith(" chunks/s") for r in served), served
        assert all(r["answer"] for r in served)
        with BenchStore() as store:
            run = store.get_run(tab.run_id)
        assert [m.file_hash for m in run.models] == [run.models[0].file_hash, "server"]
        # The server model is told apart from the same file run here, in the tables and charts.
        assert tab.labels == [run.models[0].name, f"{demo_paths['smollm2'].name} @ {where}"]
        assert [tab.summary_table.item(r, 1).text() for r in range(2)] == tab.labels
    finally:
        tab.shutdown()
    # `bench --list` names the served model as model-id @ host:port, not the URL's last segment.
    out = subprocess.run([sys.executable, "-m", "gemmacompare", "bench", "--list"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"{run.models[0].name}, {demo_paths['smollm2'].name} @ {where}" in out.stdout, out.stdout


def test_bench_tab_shows_a_servers_own_figures(qtbot, demo_paths, misbehaving_server):
    """llama-server's usage and timings (real responses replayed at the network edge) appear as server-reported."""
    tab = run_tab(qtbot, [str(demo_paths["smollm2"]), misbehaving_server.url("llama-server")])
    try:
        served = [r for r in rows(tab) if r["model"] == tab.labels[1]]
        assert len(served) == 2
        usage, timings = final_figures("chat-stream")
        assert all(r["tokens"] == f"{usage['completion_tokens']} (server-reported)" for r in served), served
        server = f" · server {timings['predicted_per_second']:.1f}"
        assert all(r["gen t/s"].endswith(server) for r in served), [r["gen t/s"] for r in served]
    finally:
        tab.shutdown()
