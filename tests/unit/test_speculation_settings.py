"""Speculation's settings and flags, and the A/B's figures (engine/speculation_ab.py)."""

from __future__ import annotations

import math

import pytest

from gemmacompare.cli.main import build_parser
from gemmacompare.engine import protocol as p
from gemmacompare.engine.speculation_ab import ABResult, merged, plain_and_speculating
from gemmacompare.state.settings_table import LoadSettings, RunSettings, SettingError, validate


@pytest.mark.parametrize("flags, message", [
    (["--spec", "psychic"], "Speculation must be one of off, draft, ngram"),
    (["--draft-max", "-1"], "The draft length must be between 0 and 256"),
    (["--draft-max", "1e9"], "not a whole number"),
    (["--draft-min", "100000"], "The least draft length must be between 0 and 256"),
    (["--spec-ngram-n", "0"], "The n-gram length must be between 1 and 64"),
])
def test_bad_speculation_flags_are_refused_in_one_sentence(flags, message, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "-p", "hi", *flags])
    assert message in capsys.readouterr().err


def test_flags_reach_the_load_settings():
    from gemmacompare.cli.compare import run_settings

    args = build_parser().parse_args(["compare", "-p", "hi", "--spec", "ngram", "--draft-max", "8",
                                      "--draft-min", "2", "--spec-ngram-n", "3"])
    s = run_settings(args, 0)
    assert isinstance(s, RunSettings)
    assert (s.load.speculation, s.load.draft_max, s.load.draft_min, s.load.ngram_n) == ("ngram", 8, 2, 3)
    assert s.load.draft_length() == 8 and LoadSettings(speculation="draft").draft_length() == 3
    assert LoadSettings(speculation="ngram").draft_length() == 48  # llama.cpp's ngram-simple size_m


def test_a_draft_that_is_not_found_is_one_sentence():
    from gemmacompare.cli.compare import run_settings

    args = build_parser().parse_args(["compare", "-p", "hi", "--draft", "no-such-model-anywhere"])
    said = run_settings(args, 0)
    assert isinstance(said, str) and said.startswith("The draft model:")


@pytest.mark.parametrize("settings, words", [
    (LoadSettings(speculation="draft"), "needs the draft model's file"),
    (LoadSettings(speculation="ngram", draft_max=2, draft_min=3), "least draft length (3)"),
    (LoadSettings(speculation="draft", draft_model="d.gguf", draft_min=4), "draft length (3)"),
])
def test_load_settings_problems(settings, words):
    assert words in (settings.problem() or "")


def test_a_stranger_value_is_refused_by_the_table():
    with pytest.raises(SettingError):
        validate("speculation", "psychic")
    with pytest.raises(SettingError):
        validate("draft_model", "x" * (2 << 20))


def test_the_ab_sides_differ_only_in_speculation():
    s = RunSettings(load=LoadSettings(draft_model="d.gguf"))
    plain, spec = plain_and_speculating(s)
    assert plain.load.speculation == "off" and spec.load.speculation == "draft"
    assert plain.sampling == spec.sampling and plain.load.n_ctx == spec.load.n_ctx


def test_the_speedup_is_a_ratio_with_a_log_scale_interval():
    d1 = p.DraftStats("ngram", 10, 5, 2, 1, (2, 2, 2), (2, 2, 1), 1.0, 10.0)
    d2 = p.DraftStats("ngram", 4, 4, 1, 0, (1, 1), (1, 1), 1.0, 5.0)
    r = ABResult(("plain", "ngram"), per_run_ms=[(20.0, 10.0), (22.0, 10.0), (18.0, 10.0)], drafts=[d1, d2])
    assert r.speedups() == [2.0, 2.2, 1.8]
    figures = r.to_dict()
    assert figures["speedup_low"] < figures["speedup"] < figures["speedup_high"]
    assert math.isclose(figures["speedup"], (2.0 * 2.2 * 1.8) ** (1 / 3))
    m = merged([d1, d2])
    assert m is not None and m.drafted_at == (3, 3, 2) and m.accepted_at == (3, 3, 1)
    assert figures["acceptance"] == 9 / 14 and figures["mean_accepted"] == 3.0
    text = "\n".join(r.lines())
    assert "speed-up (plain over ngram ms/token): 1.99 [" in text and "acceptance by draft position" in text
    assert "nothing was measured" in ABResult(("a", "b")).lines()[0]


def test_the_table_by_kind_pools_each_kinds_prompts():
    from gemmacompare.engine.speculation_ab import kind_rows, kind_table

    d = p.DraftStats("ngram", 8, 6, 2, 0, (2, 2, 2, 2), (2, 2, 1, 1), 0.1, 3.0)
    repeat = [ABResult(("plain", "ngram"), per_run_ms=[(10.0, 5.0)], drafts=[d]),
              ABResult(("plain", "ngram"), per_run_ms=[(12.0, 6.0)], drafts=[d])]
    prose = [ABResult(("plain", "ngram"), per_run_ms=[(10.0, 11.0)])]
    rows = kind_rows({"repeat": repeat, "prose": prose})
    assert rows[0]["kind"] == "repeat" and rows[0]["runs"] == 2 and rows[0]["acceptance"] == 0.75
    assert math.isclose(rows[0]["speedup"], 2.0) and rows[1]["acceptance"] is None
    table = kind_table(rows).splitlines()
    assert table[0].startswith("kind") and table[1].startswith("repeat") and "2.00x [" in table[1]
    assert table[2].startswith("prose") and "0.91x (one run)" in table[2]


@pytest.mark.parametrize("timings, expected", [
    ({"draft_n": 10, "draft_n_accepted": 7}, (10, 7)),
    ({}, None),
    ({"draft_n": 3, "draft_n_accepted": 5}, None),  # more accepted than drafted: nonsense
    ({"draft_n": -1, "draft_n_accepted": 0}, None),
    ({"draft_n": 1e400, "draft_n_accepted": 1}, None),  # a float (Infinity in a stranger's JSON)
    ({"draft_n": True, "draft_n_accepted": True}, None),
    ({"draft_n": 10**30, "draft_n_accepted": 1}, None),
    ({"draft_n": "10", "draft_n_accepted": "7"}, None),
])
def test_llama_servers_draft_counts_are_read_from_its_timings(timings, expected):
    from gemmacompare.engine.remote.stream import server_draft

    got = server_draft(timings)
    assert (None if got is None else (got.n_drafted, got.n_accepted)) == expected
    assert got is None or got.kind == "server"


def test_the_stats_line_says_how_much_of_the_draft_was_accepted():
    from gemmacompare.engine.metrics import RunRecord
    from gemmacompare.ui.stats_format import stats_line

    rec = RunRecord("A", 0.0)
    for i in range(3):
        rec.add(p.Token(1, i, 7, 0.1 * (i + 1), "answer", "", "w "))
    rec.add(p.Finished(1, p.STOP_MAX_TOKENS, 5, 3, 0.0, 0.5, None, 2,
                       draft=p.DraftStats("ngram", 4, 3, 1, 0, (1, 1, 1, 1), (1, 1, 1, 0))))
    s = rec.stats()
    assert s.draft_kind == "ngram" and s.draft_acceptance == 0.75 and s.to_dict()["n_drafted"] == 4
    assert "ngram drafts: 75% accepted (3/4)" in stats_line(s, "fair mode")
    plain = RunRecord("B", 0.0)
    plain.add(p.Finished(1, p.STOP_EOS, 5, 0, 0.0, 0.5, None, 2))
    assert "drafts" not in stats_line(plain.stats(), "fair mode")
