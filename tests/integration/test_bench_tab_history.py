"""The Benchmark tab with a damaged or unusable history file (issue 24, item 3): one sentence, window up."""

from __future__ import annotations

import sqlite3

import pytest

from gemmacompare.bench.store import BenchStore, BenchStoreError, default_db_path

pytestmark = pytest.mark.gui


def _tab(qtbot):
    from gemmacompare.ui.bench_tab import BenchmarkTab

    tab = BenchmarkTab()
    qtbot.addWidget(tab)
    tab.show()
    return tab


def test_a_damaged_history_is_set_aside_and_said_once(qtbot):
    path = default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 16)  # a header, then garbage
    tab = _tab(qtbot)
    try:
        text = tab.status_label.text()
        assert text.startswith("The benchmark history was damaged; it was set aside as bench-history.sqlite3")
        assert text.endswith(".") and "\n" not in text
        assert tab.start_button.isEnabled() and tab.history_combo.count() == 0  # a new, empty history works
    finally:
        tab.shutdown()
    assert list(path.parent.glob("bench-history.sqlite3.damaged-*"))


def test_a_history_that_cannot_be_opened_is_one_sentence_and_the_tab_stays(qtbot, monkeypatch):
    import gemmacompare.ui.bench_tab as bench_tab

    sentence = "The benchmark history is in use by another program (another gemmacompare?); close it and try again."

    def refuse() -> BenchStore:
        raise BenchStoreError(sentence)

    monkeypatch.setattr(bench_tab, "BenchStore", refuse)
    tab = _tab(qtbot)
    try:
        assert tab.status_label.text() == f"⚠ {sentence}"
        assert not tab.start_button.isEnabled()
        tab.start()  # a click that gets through anyway: the same sentence, nothing raised
        assert tab.status_label.text() == f"⚠ {sentence}"
        assert tab.load_run(1) is None and tab.export(default_db_path().parent) == []
        tab.refresh_history()
    finally:
        tab.shutdown()


def test_a_history_locked_by_another_program(qtbot, monkeypatch):
    # The real refusal: another connection holds the file's write lock.
    import gemmacompare.bench.store as store_module

    path = default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    BenchStore().close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    real_connect = sqlite3.connect
    # SQLite waits up to 10 s for a lock; a tenth of a second says the same here.
    monkeypatch.setattr(store_module.sqlite3, "connect", lambda *a, **kw: real_connect(*a, **{**kw, "timeout": 0.1}))
    try:
        tab = _tab(qtbot)
        try:
            assert "in use by another program" in tab.status_label.text()
            assert not tab.start_button.isEnabled()
        finally:
            tab.shutdown()
    finally:
        other.execute("ROLLBACK")
        other.close()
