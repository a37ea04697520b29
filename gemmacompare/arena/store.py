"""Arena history: every blind round in one SQLite file under the data dir.

A round is written when both answers are in (unvoted), and its vote in its own
transaction the moment it is given; WAL mode, so a process killed between
rounds loses nothing already voted. Each call opens its own short connection:
votes are rare, and a file that another program holds or that got damaged
then fails one call with one sentence instead of poisoning the window.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

from gemmacompare.arena.battles import Battle, Side, VoteCounts
from gemmacompare.state.paths import app_dirs, private_file, set_aside

log = logging.getLogger(__name__)

T = TypeVar("T")

DB_NAME = "arena-history.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS battles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    prompt TEXT NOT NULL,
    mode TEXT NOT NULL,
    swapped INTEGER NOT NULL,
    side1_json TEXT NOT NULL,
    side2_json TEXT NOT NULL,
    key1 TEXT NOT NULL,
    key2 TEXT NOT NULL,
    vote_one INTEGER,
    vote_two INTEGER,
    vote_tie INTEGER,
    vote_both_bad INTEGER,
    voted TEXT NOT NULL DEFAULT '',
    not_counted TEXT NOT NULL DEFAULT ''
);
"""


class ArenaStoreError(Exception):
    """One sentence for the user: what failed and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_db_path() -> Path:
    return app_dirs().data / DB_NAME


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ArenaStore:
    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 5.0) -> None:
        self.path = Path(path) if path else default_db_path()
        self.timeout = timeout
        self.notice = ""  # a sentence to show once, e.g. that a damaged file was set aside
        self._ready = False

    # --- connection ------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        in_the_way = self._in_the_way()
        if in_the_way:
            raise ArenaStoreError(in_the_way)
        try:
            if self.path == default_db_path():
                # Prompts and answers are the user's own: 0700 folder, 0600 file
                # (SQLite gives its -wal and -shm files the database file's mode).
                private_file(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)  # the user's own folder: left as it is
        except OSError as exc:
            log.warning("arena folder %s: %s", self.path.parent, exc)
            raise ArenaStoreError(f"Cannot create the folder for the arena history ({self.path.parent}); "
                                  "check its permissions.") from exc
        db = sqlite3.connect(self.path, timeout=self.timeout)
        db.row_factory = sqlite3.Row
        if not self._ready:
            try:
                self._prepare(db)
            except sqlite3.DatabaseError as exc:
                db.close()
                if _is_locked(exc):
                    raise _locked_error(exc) from exc
                db = self._set_aside_and_recreate(exc)
            self._ready = True
        return db

    def _in_the_way(self) -> str:
        """One sentence when something that is not a database file sits where the database or its folder goes."""
        if self.path.is_dir():
            return (f"A folder is where the arena history's database file should be ({self.path}); "
                    "move or rename that folder.")
        for folder in (self.path.parent, *self.path.parent.parents):
            if folder.exists():
                if not folder.is_dir():
                    return (f"A file is where the arena history's folder should be ({folder}); "
                            "move or rename that file.")
                break
        return ""

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process in WAL mode
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.commit()
        db.execute("SELECT COUNT(*) FROM battles").fetchone()

    def _set_aside_and_recreate(self, exc: Exception) -> sqlite3.Connection:
        """A damaged file is renamed, never deleted, and a new history is started."""
        log.info("arena history %s is unreadable: %s", self.path, exc)
        try:
            aside = set_aside(self.path)
        except OSError as exc2:
            log.warning("could not set %s aside: %s", self.path, exc2)
            raise ArenaStoreError(f"The arena history {self.path} is damaged and could not be set aside; "
                                  "move it away by hand to start a new one.") from exc2
        self.notice = f"The arena history was damaged; it was set aside as {aside.name} and a new one started."
        db = sqlite3.connect(self.path, timeout=self.timeout)
        db.row_factory = sqlite3.Row
        try:
            self._prepare(db)
        except sqlite3.DatabaseError as exc3:
            db.close()
            raise _unreadable_error(self.path, exc3) from exc3
        return db

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(db) in one transaction; any database failure becomes one sentence."""
        try:
            db = self._connect()
        except sqlite3.DatabaseError as exc:
            raise (_locked_error(exc) if _is_locked(exc) else _unreadable_error(self.path, exc)) from exc
        try:
            with closing(db):
                with db:
                    return fn(db)
        except sqlite3.DatabaseError as exc:
            log.info("arena history %s: %s", self.path, exc)
            raise (_locked_error(exc) if _is_locked(exc) else _unreadable_error(self.path, exc)) from exc

    # --- writing ---------------------------------------------------------------

    def add_battle(self, battle: Battle) -> int:
        s1, s2 = battle.sides
        v = battle.votes

        def write(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "INSERT INTO battles (created, prompt, mode, swapped, side1_json, side2_json, key1, key2,"
                " vote_one, vote_two, vote_tie, vote_both_bad, voted, not_counted)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (battle.created or now_iso(), battle.prompt, battle.mode, int(battle.swapped),
                 json.dumps(s1.to_dict()), json.dumps(s2.to_dict()), s1.contender.key, s2.contender.key,
                 *((v.one, v.two, v.tie, v.both_bad) if v else (None,) * 4), battle.voted, battle.not_counted),
            )
            row_id = cur.lastrowid
            assert row_id is not None  # set by every successful INSERT
            return row_id

        return self._run(write)

    def set_votes(self, battle_id: int, votes: VoteCounts, not_counted: str = "") -> None:
        def write(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "UPDATE battles SET vote_one=?, vote_two=?, vote_tie=?, vote_both_bad=?, voted=?, not_counted=?"
                " WHERE id=?",
                (votes.one, votes.two, votes.tie, votes.both_bad, now_iso(), not_counted, battle_id),
            )
            if cur.rowcount != 1:
                raise ArenaStoreError(f"Round {battle_id} is not in the arena history any more; vote on a new round.")

        self._run(write)

    # --- reading ---------------------------------------------------------------

    def battles(self, voted_only: bool = False) -> list[Battle]:
        """Every stored round, oldest first (the order online Elo needs)."""
        where = " WHERE vote_one IS NOT NULL" if voted_only else ""
        rows = self._run(lambda db: db.execute(f"SELECT * FROM battles{where} ORDER BY id").fetchall())
        out = []
        for r in rows:
            try:
                out.append(_battle_from_row(r))
            except (ValueError, KeyError, TypeError) as exc:  # one bad row must not hide the rest
                log.warning("arena round %s skipped: %s", r["id"], exc)
        return out


def _battle_from_row(r: sqlite3.Row) -> Battle:
    votes = None
    if r["vote_one"] is not None:
        votes = VoteCounts(int(r["vote_one"]), int(r["vote_two"]), int(r["vote_tie"]), int(r["vote_both_bad"]))
    sides = (Side.from_dict(json.loads(r["side1_json"])), Side.from_dict(json.loads(r["side2_json"])))
    return Battle(prompt=r["prompt"], sides=sides, mode=r["mode"], swapped=bool(r["swapped"]),
                  created=r["created"], id=int(r["id"]), votes=votes, voted=r["voted"],
                  not_counted=r["not_counted"])


def _is_locked(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _locked_error(exc: Exception) -> ArenaStoreError:
    log.info("arena history locked: %s", exc)
    return ArenaStoreError("The arena history is in use by another program (another gemmacompare window?); "
                           "close it and try again.")


def _unreadable_error(path: Path, exc: Exception) -> ArenaStoreError:
    log.info("arena history %s: %s", path, exc)
    return ArenaStoreError(f"The arena history {path} cannot be read or written (damaged or no space left); "
                           "move it away to start a new one.")
