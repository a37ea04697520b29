"""The benchmark history and task files against damage and absurd input (issue 24, items 3 and 7)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from gemmacompare.bench.records import BenchConfig
from gemmacompare.bench.store import BenchStore, BenchStoreError, default_db_path
from gemmacompare.bench.tasks import TaskFileError, load_task_file
from gemmacompare.cli.main import main


def _one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and "DatabaseError" not in text and "OverflowError" not in text
    return lines[0]


def _store_with_a_run(path) -> int:
    with BenchStore(path) as store:
        from gemmacompare.bench.tasks import Task

        return store.create_run(BenchConfig(models=("a.gguf", "b.gguf"), suite="reasoning"), "reasoning",
                                (Task("t1", "1+1?", ("2",), "number"),))


@pytest.mark.parametrize("command", [["bench", "--list"], ["bench", "--show", "1"]])
def test_a_damaged_history_is_set_aside_with_one_sentence(capsys, command):
    path = default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 16)  # a header, then garbage
    rc = main(command)
    err = capsys.readouterr().err
    assert err.startswith("note: The benchmark history was damaged; it was set aside as bench-history.sqlite3"
                          ".damaged-")
    assert rc in (0, 2)
    aside = list(path.parent.glob("bench-history.sqlite3.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"SQLite format 3")
    assert main(["bench", "--list"]) == 0  # the new history works, and says nothing about the old one again
    assert "damaged" not in capsys.readouterr().err


def test_damaged_pages_found_when_opening_are_set_aside(tmp_path):
    path = tmp_path / "h.sqlite3"
    _store_with_a_run(path)
    with sqlite3.connect(path) as db:  # fold the WAL in, so the damage below hits the real pages
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xa5" * 4096  # the second page: a table's root
    path.write_bytes(bytes(data))
    store = BenchStore(path)
    try:
        assert "set aside" in store.notice and store.list_runs() == []
    finally:
        store.close()


def test_a_damaged_run_record_is_one_sentence(tmp_path):
    path = tmp_path / "h.sqlite3"
    run_id = _store_with_a_run(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET config_json=? WHERE id=?", ("[" * 100_000, run_id))
    with BenchStore(path) as store:
        assert store.list_runs() == []  # left out, and logged
        with pytest.raises(BenchStoreError) as info:
            store.get_run(run_id)
    assert info.value.message == (f"Benchmark run #{run_id} is damaged in the history file and cannot be shown; "
                                  "see `gemmacompare bench --list` for the others.")


@pytest.mark.parametrize("run_id", ["99999999999999999999", "9223372036854775808"])  # below 1: argparse refuses
def test_show_of_an_impossible_id_is_one_sentence(capsys, run_id):
    assert main(["bench", "--show", run_id]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == f"error: there is no benchmark run #{int(run_id)}; see `gemmacompare bench --list`."


def test_a_suite_from_dev_zero_is_read_with_a_limit():
    t0 = time.monotonic()
    with pytest.raises(TaskFileError) as info:
        load_task_file("/dev/zero")
    assert time.monotonic() - t0 < 5.0
    assert str(info.value) == "zero: larger than 64 MiB, so it was not read; split it into smaller suites."


def test_a_json_bomb_line_in_a_suite_names_the_line(tmp_path):
    p = tmp_path / "bomb.jsonl"
    p.write_text('{"prompt": "1+1?", "answer": "2"}\n' + "[" * 100_000 + "\n")
    with pytest.raises(TaskFileError, match=r"^bomb.jsonl line 2: not a task line \(nested too deep"):
        load_task_file(p)
