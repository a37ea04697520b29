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
