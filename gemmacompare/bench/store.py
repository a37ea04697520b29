"""Benchmark history: one SQLite file under the data dir, written as items finish.

WAL mode and one transaction per finished item: a process killed at any
moment (SIGKILL, power button on the laptop) loses at most the item that was
being generated; everything before it is on disk and the run can be resumed.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from gemmacompare.bench.records import (
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    BenchConfig,
    ItemResult,
    ModelInfo,
    StoredRun,
)
from gemmacompare.bench.tasks import Task
from gemmacompare.state.paths import app_dirs, private_dir, private_file, set_aside

log = logging.getLogger(__name__)

DB_NAME = "bench-history.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    suite_name TEXT NOT NULL,
    config_json TEXT NOT NULL,
    tasks_json TEXT NOT NULL,
    machine_json TEXT NOT NULL DEFAULT '{}',
    models_json TEXT NOT NULL DEFAULT '[]',
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS items (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    rep INTEGER NOT NULL,
    task_index INTEGER NOT NULL,
    model_index INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    expected TEXT NOT NULL,
    match TEXT NOT NULL,
    answer TEXT NOT NULL,
    thinking TEXT NOT NULL,
    extracted TEXT,
    correct INTEGER NOT NULL,
    stats_json TEXT NOT NULL,
    error TEXT,
    finished TEXT NOT NULL,
    extract_rule TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, rep, task_index, model_index)
);
"""


# SQLite stores integers as signed 64-bit; a larger id (bench --show 99999999999999999999) is no run.
_MAX_ROW_ID = (1 << 63) - 1


class BenchStoreError(Exception):
    """The history file cannot be used; `message` is one sentence saying what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_db_path() -> Path:
    return app_dirs().data / DB_NAME


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class BenchStore:
    """Thread-safe access to the history file (one connection, one lock)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        if path:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # the user's own folder: left as it is
        else:
            private_dir(self.path.parent)
        self._lock = threading.Lock()
        self.notice = ""  # a sentence to show once, e.g. that a damaged file was set aside
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """The connection, ready; a damaged file is set aside (as the arena's is) and a new one started."""
        try:
            return self._connect_and_prepare()
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                log.info("bench history %s locked: %s", self.path, exc)
                raise BenchStoreError("The benchmark history is in use by another program (another gemmacompare?);"
                                      " close it and try again.") from None
            log.info("bench history %s is unreadable: %s", self.path, exc)
        try:
            aside = set_aside(self.path)
        except OSError as exc:
            log.warning("could not set %s aside: %s", self.path, exc)
            raise BenchStoreError(f"The benchmark history {self.path} is damaged and could not be set aside; "
                                  "move it away by hand to start a new one.") from None
        self.notice = (f"The benchmark history was damaged; it was set aside as {aside.name} "
                       "and a new one started.")
        try:
            return self._connect_and_prepare()
        except sqlite3.DatabaseError as exc:
            log.info("bench history %s: %s", self.path, exc)
            raise BenchStoreError(f"The benchmark history {self.path} cannot be created (no space left, or the "
                                  "folder is read-only); check the folder and try again.") from None

    def _connect_and_prepare(self) -> sqlite3.Connection:
        if not self.path.exists():
            # SQLite gives its -wal and -shm files the database file's mode.
            private_file(self.path)
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with self._lock:
                db.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable against a killed process in WAL mode (only an
                # OS crash could drop the last commits), and costs no fsync per item.
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                db.executescript(_SCHEMA)
                columns = {r["name"] for r in db.execute("PRAGMA table_info(items)")}
                if "extract_rule" not in columns:  # a history file from before rules were recorded
                    db.execute("ALTER TABLE items ADD COLUMN extract_rule TEXT NOT NULL DEFAULT ''")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.commit()
                # Reading every page of both tables finds damage now, not in the middle of `--list`.
                db.execute("SELECT COUNT(*), MAX(length(config_json)) FROM runs").fetchone()
                db.execute("SELECT COUNT(*), MAX(length(stats_json)) FROM items").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "BenchStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------

    def create_run(self, config: BenchConfig, suite_name: str, tasks: tuple[Task, ...]) -> int:
        now = _now()
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO runs (created, updated, status, pid, suite_name, config_json, tasks_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, now, STATUS_RUNNING, os.getpid(), suite_name, json.dumps(config.to_dict()),
                 json.dumps([asdict(t) for t in tasks])),
            )
            run_id = cur.lastrowid
            assert run_id is not None  # set by every successful INSERT
            return run_id

    def set_status(self, run_id: int, status: str, message: str = "") -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE runs SET status=?, message=?, updated=?, pid=? WHERE id=?",
                (status, message, _now(), os.getpid(), run_id),
            )

    def claim_run(self, run_id: int) -> int | None:
        """Mark the run as running in this process, unless another live process runs it.

        Returns that other process's id (nothing changed), else None. Checked and
        written in one write transaction, so two processes resuming the same run
        at once cannot both win.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT status, pid, updated FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is not None and row["status"] == STATUS_RUNNING and row["pid"] != os.getpid() \
                        and _pid_running(row["pid"], row["updated"]):
                    self._db.rollback()
                    return int(row["pid"])
                self._db.execute("UPDATE runs SET status=?, message='', updated=?, pid=? WHERE id=?",
                                 (STATUS_RUNNING, _now(), os.getpid(), run_id))
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
        return None

    def owner_pid(self, run_id: int) -> int | None:
        """The id of another live process that is running this run, else None."""
        with self._lock:
            row = self._db.execute("SELECT status, pid, updated FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None or row["status"] != STATUS_RUNNING or row["pid"] == os.getpid():
            return None
        return int(row["pid"]) if _pid_running(row["pid"], row["updated"]) else None

    def set_environment(self, run_id: int, machine: dict[str, Any], models: Sequence[ModelInfo | None]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE runs SET machine_json=?, models_json=?, updated=? WHERE id=?",
                (json.dumps(machine), json.dumps([m.to_dict() if m else None for m in models]), _now(), run_id),
            )

    def add_items(self, run_id: int, items: list[ItemResult]) -> None:
        """All models' results for one task, in one transaction."""
        now = _now()
        rows = [
            (run_id, it.rep, it.task_index, it.model_index, it.task_id, it.expected, it.match, it.answer,
             it.thinking, it.extracted, int(it.correct), json.dumps(it.stats), it.error, now, it.extract_rule)
            for it in items
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO items (run_id, rep, task_index, model_index, task_id, expected, match, answer,"
                " thinking, extracted, correct, stats_json, error, finished, extract_rule)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            self._db.execute("UPDATE runs SET updated=? WHERE id=?", (now, run_id))

    # --- reading ----------------------------------------------------------------

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Rows of a query; damage found only now (a bad page) is one sentence, not a DatabaseError."""
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.ProgrammingError:
            raise  # a closed store is a mistake of ours, not damage to the file
        except sqlite3.DatabaseError as exc:
            log.info("bench history %s: %s", self.path, exc)
            raise BenchStoreError(f"The benchmark history {self.path} cannot be read (damaged); move it away to "
                                  "start a new one.") from None

    def list_runs(self) -> list[StoredRun]:
        """Every run, newest first, without its items; a damaged row is left out (and logged)."""
        runs = []
        for r in self._read("SELECT * FROM runs ORDER BY id DESC"):
            try:
                runs.append(self._run_from_row(r, ()))
            except _BAD_ROW as exc:
                log.warning("benchmark run %s skipped: its record is damaged (%s)", r["id"], exc)
        return runs

    def item_counts(self) -> dict[int, int]:
        rows = self._read("SELECT run_id, COUNT(*) FROM items GROUP BY run_id")
        return {int(r[0]): int(r[1]) for r in rows}

    def get_run(self, run_id: int) -> StoredRun | None:
        """The run with its items; None when there is none (any id, however large). Raises BenchStoreError."""
        if not 0 < run_id <= _MAX_ROW_ID:
            return None
        rows = self._read("SELECT * FROM runs WHERE id=?", (run_id,))
        if not rows:
            return None
        item_rows = self._read("SELECT * FROM items WHERE run_id=? ORDER BY rep, task_index, model_index", (run_id,))
        try:
            return self._run_from_row(rows[0], tuple(_item_from_row(r) for r in item_rows))
        except _BAD_ROW as exc:
            log.warning("benchmark run %s unreadable: %s", run_id, exc)
            raise BenchStoreError(f"Benchmark run #{run_id} is damaged in the history file and cannot be shown; "
                                  "see `gemmacompare bench --list` for the others.") from None

    def _run_from_row(self, row: sqlite3.Row, items: tuple[ItemResult, ...]) -> StoredRun:
        status = row["status"]
        if status == STATUS_RUNNING and not _pid_running(row["pid"], row["updated"]):
            status = STATUS_INTERRUPTED
        models = tuple(ModelInfo.from_dict(m) if m else None for m in json.loads(row["models_json"]))
        config = BenchConfig.from_dict(json.loads(row["config_json"]))
        if len(models) < len(config.models):
            models = models + (None,) * (len(config.models) - len(models))
        return StoredRun(
            id=int(row["id"]),
            created=row["created"],
            updated=row["updated"],
            status=status,
            config=config,
            suite_name=row["suite_name"],
            tasks=tuple(_task_from_dict(t) for t in json.loads(row["tasks_json"])),
            machine=json.loads(row["machine_json"]),
            models=models,
            message=row["message"],
            items=items,
        )


# What a damaged or hand-edited row raises while being turned into records.
_BAD_ROW = (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError)


def _is_locked(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _pid_running(pid: int | None, updated: str | None = None) -> bool:
    """Whether the process that wrote a run is still alive.

    A process started after the run's last write cannot be its writer (the
    pid was reused, e.g. after a reboot), so it does not count.
    """
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = proc.create_time()
    except psutil.Error:
        return False
    if updated:
        try:
            last_write = datetime.fromisoformat(updated).timestamp()
        except ValueError:
            return True
        # `updated` is kept to the second; allow for that and small clock steps.
        if started > last_write + 2.0:
            return False
    return True


def _task_from_dict(d: dict[str, Any]) -> Task:
    return Task(d["id"], d["prompt"], tuple(d["expected"]), d["match"], d.get("category", ""),
                tuple(d.get("choices", ())))


def _item_from_row(r: sqlite3.Row) -> ItemResult:
    return ItemResult(
        rep=r["rep"], task_index=r["task_index"], task_id=r["task_id"], model_index=r["model_index"],
        expected=r["expected"], match=r["match"], answer=r["answer"], thinking=r["thinking"],
        extracted=r["extracted"], correct=bool(r["correct"]), stats=json.loads(r["stats_json"]), error=r["error"],
        extract_rule=r["extract_rule"],
    )
