"""The arena below the window: ratings, storage, the command line."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from gemmacompare.arena.battles import (
    BOTH_BAD,
    NOT_COUNTED_ERROR,
    NOT_COUNTED_STOPPED,
    ONE_BETTER,
    TIE,
    TWO_BETTER,
    Battle,
    Contender,
    Side,
    SideDraw,
    VoteCounts,
    arrange,
    not_counted_reason,
)
from gemmacompare.arena.leaderboard import (
    build_leaderboard,
    leaderboard_csv,
    leaderboard_json,
    leaderboard_markdown,
)
from gemmacompare.arena.ratings import Comparison, bootstrap_intervals, bradley_terry, fit_strengths, online_elo
from gemmacompare.arena.store import ArenaStore, ArenaStoreError, default_db_path
from gemmacompare.cli.main import main

TRUE = {"alpha": 1150.0, "bravo": 1050.0, "charlie": 950.0, "delta": 850.0}  # mean 1000, as fitted ratings are


def synthetic(n: int, seed: int, ties: bool = False) -> list[Comparison]:
    """Votes drawn from known Bradley–Terry strengths (Elo scale)."""
    rng = np.random.default_rng(seed)
    keys = list(TRUE)
    out = []
    for _ in range(n):
        i, j = rng.choice(len(keys), 2, replace=False)
        a, b = keys[i], keys[j]
        p = 1.0 / (1.0 + 10 ** ((TRUE[b] - TRUE[a]) / 400))
        out.append(Comparison(a, b, float(rng.random() < p)))
    return out


def contender(name: str) -> Contender:
    return Contender(name, f"{name}.gguf", hashlib.sha256(name.encode()).hexdigest()[:16], "llama", "Q4_0")


def battle(c1: Contender, c2: Contender, votes: VoteCounts | None, stop=("eos", "eos"), error=("", ""),
           ms=(20.0, 40.0)) -> Battle:
    sides = tuple(Side(c, f"answer of {c.name}", "", {"seed": 42}, {"ms_per_token_p50": m, "time_to_answer_s": m / 10},
                       s, e) for c, s, e, m in zip((c1, c2), stop, error, ms))
    reason = not_counted_reason(sides, False)
    return Battle("Name a fruit.", sides, "race", False, votes=votes, not_counted=reason)


# --- Bradley–Terry ------------------------------------------------------------------

def test_bradley_terry_recovers_known_strengths():
    fit = bradley_terry(synthetic(6000, seed=1))
    got = {k: fit.rating(k) for k in fit.keys}
    assert sorted(got, key=got.get, reverse=True) == list(TRUE)
    for k, want in TRUE.items():
        assert abs(got[k] - want) < 30, (k, got[k], want)
    assert abs(np.mean(list(got.values())) - 1000) < 1e-6


def test_intervals_shrink_with_more_battles_and_cover_the_truth():
    few_keys, few_lo, few_hi = bootstrap_intervals(synthetic(200, seed=2), rounds=300, seed=0)
    many_keys, many_lo, many_hi = bootstrap_intervals(synthetic(5000, seed=3), rounds=300, seed=0)
    assert few_keys == many_keys
    few_w, many_w = few_hi - few_lo, many_hi - many_lo
    assert np.all(many_w < few_w / 2.5), (few_w, many_w)  # ~sqrt(25) = 5x narrower in theory
    for i, k in enumerate(many_keys):
        assert many_lo[i] - 15 < TRUE[k] < many_hi[i] + 15


def test_a_model_with_only_wins_gets_a_finite_rating():
    votes = [Comparison("champ", "other", 1.0)] * 50 + [Comparison("champ", "third", 1.0)] * 50 + \
            [Comparison("other", "third", 1.0), Comparison("third", "other", 1.0)] * 10
    fit = bradley_terry(votes)
    r = {k: fit.rating(k) for k in fit.keys}
    assert np.all(np.isfinite(fit.ratings))
    assert r["champ"] > r["other"] + 300 and r["champ"] < 2500
    assert abs(r["other"] - r["third"]) < 1e-6
    # More wins, higher rating, still finite: the virtual draws only bound it.
    r2 = bradley_terry(votes + [Comparison("champ", "other", 1.0)] * 200).rating("champ")
    assert r["champ"] < r2 < 3000
    _, lo, hi = bootstrap_intervals(votes, rounds=100)
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    with pytest.raises(ValueError):
        fit_strengths(fit.wins, fit.games, prior_games=0)


def test_ties_count_as_half_a_win_each_way():
    fit = bradley_terry([Comparison("x", "y", 0.5)] * 40)
    assert fit.rating("x") == pytest.approx(fit.rating("y"))
    assert fit.win_rate_matrix()[0, 1] == pytest.approx(0.5)
    # 30 wins + 20 ties of 50 = 40/50 = 80% for x
    fit = bradley_terry([Comparison("x", "y", 1.0)] * 30 + [Comparison("y", "x", 0.5)] * 20)
    assert fit.win_rate_matrix()[0, 1] == pytest.approx(0.8)
    assert fit.games[0, 1] == 50


def test_online_elo_uses_k4_base10_scale400_from_1000():
    assert online_elo([Comparison("x", "y", 1.0)]) == pytest.approx({"x": 1002.0, "y": 998.0})
    r = online_elo([Comparison("x", "y", 1.0), Comparison("y", "x", 0.5)])
    e = 1 / (1 + 10 ** ((998 - 1002) / 400))
    assert r["y"] == pytest.approx(998 + 4 * (0.5 - (1 - e)))


def test_show_of_hands_fits_like_the_same_single_votes():
    a, b = contender("a"), contender("b")
    room = [battle(a, b, VoteCounts(12, 7, 3, 1))]
    singles = [battle(a, b, VoteCounts.single(o)) for o, n in
               ((ONE_BETTER, 12), (TWO_BETTER, 7), (TIE, 3), (BOTH_BAD, 1)) for _ in range(n)]
    singles = singles[::2] + singles[1::2]  # order must not matter to Bradley–Terry
    lb_room, lb_single = build_leaderboard(room, bootstrap=200), build_leaderboard(singles, bootstrap=200)
    for r1, r2 in zip(lb_room.rows, lb_single.rows):
        assert r1.key == r2.key
        assert r1.rating == pytest.approx(r2.rating)
        assert (r1.lower, r1.upper) == pytest.approx((r2.lower, r2.upper))
        assert r1.votes == r2.votes == 23
        assert r1.win_rate == pytest.approx(r2.win_rate)
    assert lb_room.rows[0].key == a.key and lb_room.rows[0].win_rate == pytest.approx((12 + 2) / 23)
    assert lb_room.rows[0].battles == 1 and lb_single.rows[0].battles == 23


def test_vote_counts_reject_nonsense():
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            VoteCounts(bad, 0, 0, 0)
    with pytest.raises(ValueError):
        VoteCounts.single("3")


# --- rounds and sides ----------------------------------------------------------------

def test_sides_are_random_per_prompt_but_the_vote_maps_to_the_right_model():
    x, y = contender("x"), contender("y")
    draw = SideDraw(seed=1234)
    seen = set()
    for _ in range(200):
        swapped = draw.next_swapped()
        seen.add(swapped)
        s1, s2 = arrange(Side(x), Side(y), swapped)
        b = Battle("p", (s1, s2), "race", swapped, votes=VoteCounts.single(ONE_BETTER))
        board = build_leaderboard([b], bootstrap=10)
        winner = board.rows[0].key
        assert winner == (y.key if swapped else x.key)
    assert seen == {True, False}
    # Same seed, same draws: a recorded session can be replayed.
    d1, d2 = SideDraw(7), SideDraw(7)
    assert [d1.next_swapped() for _ in range(50)] == [d2.next_swapped() for _ in range(50)]


def test_stopped_or_errored_rounds_are_stored_but_not_counted():
    a, b = contender("a"), contender("b")
    stopped = battle(a, b, VoteCounts.single(ONE_BETTER), stop=("user_stop", "eos"))
    errored = battle(a, b, VoteCounts.single(ONE_BETTER), stop=("eos", "error"), error=("", "It crashed."))
    good = battle(a, b, VoteCounts.single(TWO_BETTER))
    assert stopped.not_counted == NOT_COUNTED_STOPPED and errored.not_counted == NOT_COUNTED_ERROR
    board = build_leaderboard([stopped, errored, good], bootstrap=20)
    assert board.rounds_counted == 1 and board.rounds_not_counted == 2
    assert board.rows[0].key == b.key and board.rows[0].votes == 1
    assert not_counted_reason(good.sides, user_stopped=True) == NOT_COUNTED_STOPPED


def test_leaderboard_puts_speed_beside_rating_and_exports():
    a, b = contender("fast"), contender("slow")
    battles = [battle(a, b, VoteCounts.single(ONE_BETTER), ms=(20.0 + i, 50.0)) for i in range(5)]
    battles.append(battle(b, a, VoteCounts.single(ONE_BETTER), ms=(52.0, 30.0)))
    board = build_leaderboard(battles, bootstrap=100)
    fast = next(r for r in board.rows if r.key == a.key)
    assert fast.median_ms_per_token == 22.5 and fast.median_time_to_answer_s == pytest.approx(2.25)  # 20..24 and 30
    assert fast.battles == 6 and fast.win_rate == pytest.approx(5 / 6)
    assert fast.lower < fast.rating < fast.upper
    assert board.win_rates["fast"]["slow"] == pytest.approx(5 / 6)
    data = json.loads(leaderboard_json(board))
    assert data["models"][0]["name"] == "fast" and data["games"]["fast"]["slow"] == 6
    csv_lines = leaderboard_csv(board).splitlines()
    assert csv_lines[0].startswith("rank,name,file_name,key,rating") and len(csv_lines) == 3
    md = leaderboard_markdown(board)
    assert "| 1 | fast |" in md and "Pairwise win rates" in md and "83% of 6" in md


# --- storage -------------------------------------------------------------------------

def test_store_round_trip_and_vote_later():
    store = ArenaStore()
    a, b = contender("a"), contender("b")
    bid = store.add_battle(battle(a, b, None))
    assert store.battles()[0].votes is None and store.battles(voted_only=True) == []
    store.set_votes(bid, VoteCounts(3, 1, 0, 2))
    got = store.battles()[0]
    assert got.id == bid and got.votes == VoteCounts(3, 1, 0, 2) and got.voted and got.counted
    assert got.sides[0].contender == a and got.sides[1].speed["ms_per_token_p50"] == 40.0
    assert got.sides[0].settings == {"seed": 42} and got.prompt == "Name a fruit."
    with pytest.raises(ArenaStoreError):
        store.set_votes(bid + 100, VoteCounts(1))


def _vote_then_die(home: str, n: int) -> None:
    os.environ["GEMMACOMPARE_HOME"] = home
    store = ArenaStore()
    for i in range(n):
        bid = store.add_battle(battle(contender("a"), contender("b"), None))
        store.set_votes(bid, VoteCounts.single(ONE_BETTER if i % 2 else TWO_BETTER))
    store.add_battle(battle(contender("a"), contender("b"), None))  # the next round, not voted yet
    os.kill(os.getpid(), 9)


def test_votes_survive_a_kill_between_rounds(app_home):
    proc = multiprocessing.get_context("spawn").Process(target=_vote_then_die, args=(str(app_home), 5))
    proc.start()
    proc.join(60)
    assert proc.exitcode == -9
    battles = ArenaStore().battles()
    assert len(battles) == 6 and sum(b.counted for b in battles) == 5 and battles[-1].votes is None


def test_damaged_history_is_set_aside_with_one_sentence():
    path = default_db_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    store = ArenaStore()
    assert store.battles() == []
    assert "set aside" in store.notice and store.notice.count(".") >= 1 and "\n" not in store.notice
    assert any(p.name.startswith(path.name + ".damaged-") for p in path.parent.iterdir())
    store.add_battle(battle(contender("a"), contender("b"), VoteCounts(1)))
    assert len(ArenaStore().battles()) == 1


def test_locked_history_gives_one_sentence():
    store = ArenaStore(timeout=0.2)
    store.add_battle(battle(contender("a"), contender("b"), None))
    other = sqlite3.connect(default_db_path(), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ArenaStoreError) as err:
            ArenaStore(timeout=0.2).set_votes(1, VoteCounts(1))
        msg = err.value.message
        assert "in use by another program" in msg and "\n" not in msg and "sqlite" not in msg.lower()
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.set_votes(1, VoteCounts(1))  # free again: nothing lost
    assert store.battles()[0].counted


# --- command line --------------------------------------------------------------------

def test_cli_list_and_leaderboard(capsys):
    store = ArenaStore()
    a, b = contender("SmolThing"), contender("GemThing")
    for i in range(4):
        store.add_battle(battle(a, b, VoteCounts.single(ONE_BETTER if i else TIE)))
    store.add_battle(battle(a, b, VoteCounts.single(ONE_BETTER), stop=("user_stop", "eos")))
    assert main(["arena", "--leaderboard", "--json", "--bootstrap", "50"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in data["models"]] == ["SmolThing", "GemThing"]
    assert data["rounds_counted"] == 4 and data["rounds_not_counted"] == 1
    assert main(["arena", "--leaderboard"]) == 0
    out = capsys.readouterr().out
    assert "SmolThing" in out and "median ms/token" in out and "4 counted rounds of 5 stored" in out
    assert main(["arena", "--list"]) == 0
    out = capsys.readouterr().out
    assert "not counted: a model was stopped early" in out and out.count("SmolThing") == 5
    assert main(["arena", "--list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5


def test_cli_arena_with_nothing_stored_and_damaged_file(capsys):
    assert main(["arena"]) == 0
    assert "No counted votes yet" in capsys.readouterr().out
    default_db_path().write_bytes(b"garbage" * 200)
    out = subprocess.run([sys.executable, "-m", "gemmacompare", "arena", "--list"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "set aside" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
