"""The leaderboard: preference (ratings from stored votes) beside speed (from the same rounds)."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gemmacompare.arena.battles import Battle, Contender
from gemmacompare.arena.ratings import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_PRIOR_GAMES,
    ELO_K,
    Comparison,
    bootstrap_intervals,
    bradley_terry,
    online_elo,
)
from gemmacompare.engine.report.stats_table import markdown_table, text_table

METHOD = (f"Bradley–Terry maximum likelihood over all counted votes (ties and 'both bad' = half a win each way; "
          f"each model drew {DEFAULT_PRIOR_GAMES:g} virtual game against a 1000 reference so all-wins stays finite), "
          f"95% percentile bootstrap over votes ({DEFAULT_BOOTSTRAP} samples); "
          f"online Elo k={ELO_K:g}, base 10, scale 400, start 1000. Speed: medians over every round a model "
          "finished, race and fair mode together.")


@dataclass(frozen=True)
class ModelRow:
    key: str
    name: str
    file_name: str
    rating: float
    lower: float
    upper: float
    elo: float
    battles: int  # counted rounds the model was in
    votes: float  # weighted votes (a show of 23 hands is 23)
    win_rate: float | None  # (wins + ties / 2) / votes
    median_ms_per_token: float | None
    median_time_to_answer_s: float | None

    @property
    def plus(self) -> float:
        return self.upper - self.rating

    @property
    def minus(self) -> float:
        return self.rating - self.lower

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Leaderboard:
    rows: tuple[ModelRow, ...]  # best rating first
    win_rates: dict[str, dict[str, float | None]]  # row model -> column model -> win rate
    games: dict[str, dict[str, float]]
    rounds_stored: int
    rounds_counted: int
    rounds_not_counted: int
    method: str = METHOD

    def to_dict(self) -> dict[str, Any]:
        return {"models": [r.to_dict() for r in self.rows], "win_rates": self.win_rates, "games": self.games,
                "rounds_stored": self.rounds_stored, "rounds_counted": self.rounds_counted,
                "rounds_not_counted": self.rounds_not_counted, "method": self.method}


def vote_comparisons(battles: list[Battle]) -> list[Comparison]:
    """One row per (battle, outcome) with its count: the unit the bootstrap resamples."""
    rows = []
    for b in battles:
        v = b.votes
        if v is None or not b.counted:
            continue
        k1, k2 = b.sides[0].contender.key, b.sides[1].contender.key
        for score, n in ((1.0, v.one), (0.0, v.two), (0.5, v.tie + v.both_bad)):
            if n:
                rows.append(Comparison(k1, k2, score, float(n)))
    return rows


def battle_comparisons(battles: list[Battle]) -> list[Comparison]:
    """One row per battle in time order with the mean score: the unit online Elo updates on."""
    rows = []
    for b in battles:
        v = b.votes
        if v is None or not b.counted:
            continue
        rows.append(Comparison(b.sides[0].contender.key, b.sides[1].contender.key,
                               (v.one + 0.5 * (v.tie + v.both_bad)) / v.total, float(v.total)))
    return rows


def build_leaderboard(battles: list[Battle], bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> Leaderboard:
    counted = [b for b in battles if b.counted]
    votes = vote_comparisons(counted)
    fit = bradley_terry(votes)
    keys, lower, upper = (bootstrap_intervals(votes, rounds=bootstrap, seed=seed) if votes
                          else ((), np.empty(0), np.empty(0)))
    elo = online_elo(battle_comparisons(counted))
    names = _display_names(battles)
    rate = fit.win_rate_matrix()
    rows = []
    for i, key in enumerate(fit.keys):
        n_votes = float(fit.games[i].sum())
        speed = _speed(battles, key)
        rows.append(ModelRow(
            key=key, name=names[key].name, file_name=names[key].file_name,
            rating=float(fit.ratings[i]), lower=float(lower[keys.index(key)]), upper=float(upper[keys.index(key)]),
            elo=elo.get(key, 1000.0),
            battles=sum(1 for b in counted if key in (b.sides[0].contender.key, b.sides[1].contender.key)),
            votes=n_votes, win_rate=float(fit.wins[i].sum() / n_votes) if n_votes else None,
            median_ms_per_token=speed[0], median_time_to_answer_s=speed[1],
        ))
    rows.sort(key=lambda r: -r.rating)
    labels = {k: names[k].name for k in fit.keys}
    win_rates = {labels[a]: {labels[b]: (None if math.isnan(rate[i, j]) else float(rate[i, j]))
                             for j, b in enumerate(fit.keys) if j != i} for i, a in enumerate(fit.keys)}
    games = {labels[a]: {labels[b]: float(fit.games[i, j]) for j, b in enumerate(fit.keys) if j != i}
             for i, a in enumerate(fit.keys)}
    voted = [b for b in battles if b.votes is not None and b.votes.total]
    return Leaderboard(tuple(rows), win_rates, games, len(battles), len(counted),
                       sum(1 for b in voted if not b.counted))


def _display_names(battles: list[Battle]) -> dict[str, Contender]:
    """The latest identity per model; two different files with one name get the file name added."""
    latest: dict[str, Contender] = {}
    for b in battles:
        for s in b.sides:
            latest[s.contender.key] = s.contender
    by_name: dict[str, int] = {}
    for c in latest.values():
        by_name[c.name] = by_name.get(c.name, 0) + 1
    out = {}
    for key, c in latest.items():
        if by_name[c.name] > 1:
            c = Contender(f"{c.name} ({c.file_name or key[:8]})", c.file_name, c.file_hash, c.architecture,
                          c.quantization)
        out[key] = c
    return out


def _speed(battles: list[Battle], key: str) -> tuple[float | None, float | None]:
    """Median ms/token and median time to answer over every answer the model finished normally."""
    ms, tta = [], []
    for b in battles:
        for s in b.sides:
            if s.contender.key != key or s.error or s.stop_reason in ("user_stop", "error", ""):
                continue
            if s.speed.get("ms_per_token_p50") is not None:
                ms.append(float(s.speed["ms_per_token_p50"]))
            if s.speed.get("time_to_answer_s") is not None:
                tta.append(float(s.speed["time_to_answer_s"]))
    return (statistics.median(ms) if ms else None), (statistics.median(tta) if tta else None)


# --- tables and exports ----------------------------------------------------------

HEADER = ["rank", "model", "rating", "95% CI", "Elo", "battles", "votes", "win rate", "median ms/token",
          "median time to answer"]


def table_rows(board: Leaderboard) -> list[list[str]]:
    rows = [HEADER]
    for n, r in enumerate(board.rows, 1):
        rows.append([
            str(n), r.name, f"{r.rating:.0f}", f"+{r.plus:.0f} / -{r.minus:.0f}", f"{r.elo:.0f}", str(r.battles),
            f"{r.votes:g}", "-" if r.win_rate is None else f"{r.win_rate:.0%}",
            "-" if r.median_ms_per_token is None else f"{r.median_ms_per_token:.1f}",
            "-" if r.median_time_to_answer_s is None else f"{r.median_time_to_answer_s:.2f} s",
        ])
    return rows


def summary_line(board: Leaderboard) -> str:
    skipped = f", {board.rounds_not_counted} voted but not counted" if board.rounds_not_counted else ""
    return f"{board.rounds_counted} counted rounds of {board.rounds_stored} stored{skipped}."


def leaderboard_text(board: Leaderboard) -> str:
    if not board.rows:
        return "No counted votes yet: run a blind round (F8 in the window) and vote.\n"
    return text_table(table_rows(board)) + "\n" + summary_line(board) + "\n"


def leaderboard_markdown(board: Leaderboard) -> str:
    parts = ["## Arena leaderboard", "", markdown_table(table_rows(board)), "", summary_line(board), ""]
    names = [r.name for r in board.rows]
    if len(names) > 1:
        head = ["win rate (row vs column)", *names]
        matrix = [head] + [[a, *("-" if a == b or board.win_rates[a].get(b) is None
                                 else f"{board.win_rates[a][b]:.0%} of {board.games[a][b]:g}" for b in names)]
                           for a in names]
        parts += ["### Pairwise win rates", "", markdown_table(matrix), ""]
    parts += [f"_{board.method}_", ""]
    return "\n".join(parts)


def leaderboard_csv(board: Leaderboard) -> str:
    buf = io.StringIO()
    fields = ["rank", "name", "file_name", "key", "rating", "lower_95", "upper_95", "elo", "battles", "votes",
              "win_rate", "median_ms_per_token", "median_time_to_answer_s"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for n, r in enumerate(board.rows, 1):
        w.writerow([n, r.name, r.file_name, r.key, f"{r.rating:.1f}", f"{r.lower:.1f}", f"{r.upper:.1f}",
                    f"{r.elo:.1f}", r.battles, f"{r.votes:g}", "" if r.win_rate is None else f"{r.win_rate:.4f}",
                    "" if r.median_ms_per_token is None else f"{r.median_ms_per_token:.2f}",
                    "" if r.median_time_to_answer_s is None else f"{r.median_time_to_answer_s:.3f}"])
    return buf.getvalue()


def leaderboard_json(board: Leaderboard) -> str:
    return json.dumps(board.to_dict(), indent=2, default=_json_default)


def _json_default(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v).__name__)
