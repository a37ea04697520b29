"""The Benchmark tab, driven like a user would (offscreen), on the real demo models."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from gemmacompare.bench.records import STATUS_STOPPED
from gemmacompare.bench.runner import BenchOutcome
from gemmacompare.bench.store import BenchStore

pytestmark = pytest.mark.gui

TIMEOUT_MS = 150_000


@pytest.fixture
def tab(qtbot, demo_paths):
    from gemmacompare.ui.bench_tab import BenchmarkTab

    w = BenchmarkTab()
    qtbot.addWidget(w)
    w.set_models([str(demo_paths["smollm2"]), str(demo_paths["gemma3"])])
    w.limit_spin.setValue(2)
    w.runs_spin.setValue(1)
    w.warmup_spin.setValue(0)
    w.tokens_spin.setValue(16)
    w.resize(1280, 820)
    w.show()
    yield w
    w.shutdown()


def test_start_stop_resume_with_live_table_and_charts(qtbot, tab, tmp_path):
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()
    assert not tab._chart_timer.isActive()  # nothing to draw: an idle tab does not wake
    qtbot.mouseClick(tab.start_button, qtbot_button())
    assert tab.stop_button.isEnabled() and not tab.start_button.isEnabled()

    # Stop as soon as the first task has both answers in the table.
    qtbot.waitUntil(lambda: tab.table.rowCount() >= 2, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not tab._dirty, timeout=2000)  # the new rows reached the charts
    with qtbot.waitSignal(tab.run_finished, timeout=TIMEOUT_MS) as stopped:
        qtbot.mouseClick(tab.stop_button, qtbot_button())
    assert stopped.args[1] == "stopped"
    assert tab.table.rowCount() == 2 and tab.resume_button.isEnabled()

    with qtbot.waitSignal(tab.run_finished, timeout=TIMEOUT_MS) as done:
        qtbot.mouseClick(tab.resume_button, qtbot_button())
    assert done.args[1] == "done"
    assert tab.table.rowCount() == 4
    assert tab.progress.value() == tab.progress.maximum() == 4
    assert not tab.resume_button.isEnabled() and tab.export_button.isEnabled()

    names = {tab.summary_table.item(r, 1).text() for r in range(tab.summary_table.rowCount())}
    assert len(names) == 2
    qtbot.wait(400)  # one chart refresh
    qtbot.waitUntil(lambda: not tab._chart_timer.isActive(), timeout=2000)  # drawn, asleep again
    assert_readable_layout(tab, names)
    tab.grab().save("/tmp/bench_tab.png")

    files = tab.export(tmp_path / "export")
    assert {f.suffix for f in files} == {".json", ".csv", ".md", ".png"}
    with BenchStore() as store:
        assert len(store.get_run(tab.run_id).items) == 4
    assert tab.history_combo.count() == 1


def test_bad_task_file_is_a_message_not_a_crash(qtbot, tab, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\n')
    tab.suite_combo.insertItem(0, bad.name, str(bad))
    tab.suite_combo.setCurrentIndex(0)
    qtbot.mouseClick(tab.start_button, qtbot_button())
    assert "bad.jsonl line 1: missing field 'answer'" in tab.status_label.text()
    assert not tab.running and tab.start_button.isEnabled()


def test_shutdown_never_closes_the_history_under_a_running_thread(qtbot, tab, monkeypatch):
    """The window gives the thread 1 s; one still busy after that must find the history open."""
    import gemmacompare.ui.bench_tab as bench_tab

    release = threading.Event()
    wrote: list[str] = []
    errors: list[BaseException] = []

    class SlowRunner:
        """Ignores stop for a while, like a model in the middle of a long prefill."""

        def __init__(self, store):
            self.store = store

        def stop(self):
            pass

        def run(self, run_id, on_progress=None, on_item=None):
            release.wait(30)
            try:
                self.store.set_status(run_id, STATUS_STOPPED, "item finished after the window closed")
                wrote.append(self.store.get_run(run_id).status)
            except BaseException as exc:
                errors.append(exc)
                raise
            return BenchOutcome(run_id, STATUS_STOPPED)

    monkeypatch.setattr(bench_tab, "BenchRunner", SlowRunner)
    qtbot.mouseClick(tab.start_button, qtbot_button())
    assert tab.running
    thread = tab._thread

    t0 = time.monotonic()
    tab.shutdown(timeout=1.0)
    assert time.monotonic() - t0 < 2.0
    assert thread.is_alive()
    tab.store.list_runs()  # still open

    release.set()
    thread.join(10)
    assert not thread.is_alive()
    assert errors == [] and wrote == [STATUS_STOPPED]
    with pytest.raises(sqlite3.ProgrammingError):
        tab.store.list_runs()  # the thread closed it as it ended
    tab.shutdown(timeout=1.0)  # again (the fixture does too): harmless


def test_shutdown_when_idle_closes_the_history(tab):
    t0 = time.monotonic()
    tab.shutdown(timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    with pytest.raises(sqlite3.ProgrammingError):
        tab.store.list_runs()


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_random_pick_and_compare_with_a_past_run(qtbot, tab):
    tab.limit_spin.setValue(1)
    tab.random_check.setChecked(True)
    tab.seed_spin.setValue(7)
    cfg = tab.config()
    assert cfg.sample == 1 and cfg.limit is None and cfg.seed == 7
    for _ in range(2):
        with qtbot.waitSignal(tab.run_finished, timeout=TIMEOUT_MS) as done:
            tab.start()
        assert done.args[1] == "done"
    first, second = sorted(tab.store.list_runs(), key=lambda r: r.id)[:2]
    # Same seed: the same random task both times.
    assert {it.task_id for it in first.items} == {it.task_id for it in second.items}
    assert tab.compare_with(first.id)
    runs = {tab.summary_table.item(r, 0).text() for r in range(tab.summary_table.rowCount())}
    assert runs == {f"#{first.id} fair", f"#{second.id} fair"}
    assert tab.summary_table.rowCount() == 4  # two models in each run


def assert_readable_layout(tab, names: set[str]) -> None:
    """What the walk found at 1280-1600 pixels: the summary scrolled sideways and cut its rows,
    model names under the bars ran into each other, the title's legend was cut, and the last
    bar group was clipped."""
    qtbot_process_events()
    summary = tab.summary_table
    assert summary.horizontalScrollBar().maximum() == 0, "the summary needs a horizontal scroll bar"
    assert summary.verticalScrollBar().maximum() == 0, "the summary hides a model's row"
    legend = tab.charts.legend.text()
    for name in names:
        assert name in legend
    for chart in (tab.charts.speed, tab.charts.accuracy):
        ticks = chart.getAxis("bottom")._tickLevels[0]
        assert [label for _, label in ticks] == ["A", "B"]
    times = tab.charts.times
    assert "■" not in times.plotItem.titleLabel.text  # one legend, above the charts
    (x0, x1), _ = times.viewRange()
    groups = len({(it.rep, it.task_index) for it in tab.items})
    assert x0 <= -0.5 and x1 >= groups - 0.5  # every bar of the first and last group in view


def qtbot_process_events() -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()


def test_a_chart_saved_alone_names_its_lettered_models(qtbot):
    """bench --out saves each chart alone: its axis says A and B, so its title must say who they are."""
    from gemmacompare.ui.bench_charts import AccuracyChart, ItemTimeChart, SpeedChart

    for cls in (ItemTimeChart, SpeedChart, AccuracyChart):
        alone, in_tab = cls(legend_in_title=True), cls()
        qtbot.addWidget(alone)
        qtbot.addWidget(in_tab)
        for chart in (alone, in_tab):
            chart.set_items([], ["SmolLM2 <b>x</b>", "Gemma"])
        title = alone.plotItem.titleLabel.text
        assert "<b>A</b>&nbsp;SmolLM2 &lt;b&gt;x&lt;/b&gt;" in title and "<b>B</b>&nbsp;Gemma" in title, title
        assert "Gemma" not in in_tab.plotItem.titleLabel.text
