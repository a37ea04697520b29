"""The settings table: one declaration read by every door (flags, the window's file, bench, run files)."""

from __future__ import annotations

import math

import pytest

from gemmacompare.bench.records import BenchConfig
from gemmacompare.cli.compare import run_settings as compare_settings
from gemmacompare.cli.main import build_parser, main
from gemmacompare.engine import protocol as p
from gemmacompare.engine.run_file import settings_from_dict, settings_to_dict
from gemmacompare.engine.run_settings import command_for
from gemmacompare.state import defaults
from gemmacompare.state.settings_table import (
    SETTINGS,
    RunSettings,
    SettingError,
    from_flat,
    to_flat,
    validate,
    window_defaults,
    with_values,
)

BAD_SAMPLING = [("top_p", 5.0), ("top_p", -1.0), ("min_p", -3.0), ("temperature", -1.0), ("temperature", math.nan),
                ("top_p", math.inf), ("repeat_penalty", -math.inf), ("max_tokens", 0), ("top_k", -1)]


@pytest.mark.parametrize("name, value", BAD_SAMPLING)
def test_out_of_range_sampling_is_refused_in_one_sentence(name, value):
    with pytest.raises(SettingError) as info:
        validate(name, value)
    text = str(info.value)
    assert text.endswith(".") and "\n" not in text and len(text) < 200


@pytest.mark.parametrize("name, value", [("swa_full", 1), ("swa_full", "yes"), ("n_ctx", True), ("n_ctx", 2048.0),
                                         ("flash_attn", "maybe"), ("type_k", "q3_weird"), ("stop", "END"),
                                         ("stop", ["x"] * 1000), ("system_prompt", 7), ("max_tokens", None)])
def test_values_of_the_wrong_kind_are_refused(name, value):
    with pytest.raises(SettingError):
        validate(name, value)


def test_good_values_come_back_as_the_setting_holds_them():
    assert validate("temperature", 1) == 1.0 and isinstance(validate("temperature", 1), float)
    assert validate("stop", ["a", "b"]) == ("a", "b")
    assert validate("thinking", None) is None  # the template's default
    assert validate("raw_mode", True) is True  # by the settings file's name too


@pytest.mark.parametrize("flag, value, sentence", [
    ("--top-p", "5", "Top-p must be between 0 and 1, not 5."),
    ("--top-p", "-1", "Top-p must be between 0 and 1, not -1."),
    ("--min-p", "-3", "Min-p must be between 0 and 1, not -3."),
    ("--temp", "-1", "The temperature must be between 0 and 5, not -1."),
    ("--temp", "nan", "'nan' is not a finite number"),
    ("--top-p", "inf", "'inf' is not a finite number"),
])
def test_compare_refuses_sampling_outside_the_table(capsys, flag, value, sentence):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "-p", "hi", flag, value])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"{flag}: {sentence}")


def test_flags_fill_the_settings_as_declared():
    ap = build_parser()
    plain = compare_settings(ap.parse_args(["compare", "-p", "hi"]), 0)
    assert plain.load.swa_full is False and plain.load.n_ctx == defaults.HEADLESS_N_CTX
    assert plain.sampling == RunSettings().sampling and plain.prompt.thinking is None
    args = ap.parse_args(["compare", "-p", "hi", "--swa-full", "--top-p", "0.5", "-ctk", "q8_0", "--no-think",
                          "--ctx", "512,1024", "--threads", "2,3", "--stop", "END", "--system", "Be brief."])
    a, b = compare_settings(args, 0), compare_settings(args, 1)
    assert a.load.swa_full and a.sampling.top_p == 0.5 and a.load.type_k == "q8_0" and a.prompt.thinking is False
    assert (a.load.n_ctx, b.load.n_ctx) == (512, 1024) and (a.prompt.n_threads, b.prompt.n_threads) == (2, 3)
    assert a.sampling.stop == ("END",) and a.prompt.system_prompt == "Be brief."
    # One --threads value is the total, split by the mode: no model has threads of its own.
    assert compare_settings(ap.parse_args(["compare", "-p", "hi", "--threads", "2"]), 1).prompt.n_threads == 0


def test_bench_takes_the_same_flags_and_the_defaults_max_tokens():
    ap = build_parser()
    args = ap.parse_args(["bench", "--swa-full", "--ctx", "1024", "--seed", "5"])
    assert args.max_tokens == defaults.MAX_TOKENS and args.sample_seed == 5
    from gemmacompare.cli.args import flag_values

    config = BenchConfig(models=("x",), settings=flag_values(args))
    s = config.run_settings()
    assert s.load.swa_full and s.load.n_ctx == 1024 and s.sampling.temperature == 0.0
    assert s.sampling.seed == defaults.SEED  # --seed is bench's task sample seed, not the sampler's


def test_bench_config_reads_runs_stored_before_the_table():
    old = {"models": ["a.gguf"], "n_ctx": 1024, "gpu_layers": -1, "max_tokens": 32, "ignore_eos": True,
           "thinking": False, "flash_attn": "off", "type_k": "q8_0", "type_v": "f16", "threads": 2}
    config = BenchConfig.from_dict(old)
    s = config.run_settings()
    assert (s.load.n_ctx, s.load.n_gpu_layers, s.load.flash_attn, s.load.type_k) == (1024, -1, "off", "q8_0")
    assert (s.sampling.max_tokens, s.sampling.ignore_eos, s.prompt.thinking, config.threads) == (32, True, False, 2)
    assert BenchConfig.from_dict(config.to_dict()).run_settings() == s
    with pytest.raises(SettingError):
        BenchConfig.from_dict({**old, "settings": {"top_p": 5}})


def test_window_settings_file_keeps_flat_names_and_every_setting():
    s = with_values(window_defaults(), {"swa_full": True, "temperature": 0.7, "raw_mode": True})
    flat = to_flat(s)
    assert flat["swa_full"] is True and flat["raw_mode"] is True and "raw" not in flat
    assert set(flat) == {x.flat for x in SETTINGS}
    assert from_flat(flat) == s
    assert window_defaults().prompt.thinking is True  # the window asks for thinking where the template can


def test_run_file_settings_round_trip_and_are_checked():
    s = with_values(RunSettings(), {"swa_full": True, "top_k": 7, "stop": ["END"], "n_threads": 3})
    d = settings_to_dict(s)
    assert d["load"]["swa_full"] is True and "server" not in d
    assert settings_from_dict(d) == RunSettings(load=s.load, sampling=s.sampling, prompt=s.prompt)
    assert settings_from_dict({"load": {"n_threads": 4}}).load == p.LoadSettings()  # older files' field is left
    with pytest.raises(SettingError):
        settings_from_dict({"sampling": {"top_p": 5}})


def test_one_thread_field_reaches_the_request():
    s = with_values(RunSettings(), {"n_threads": 3})
    assert command_for(s, (), "hi").n_threads == 3
    assert command_for(RunSettings(), (), "hi").n_threads is None  # the mode decides
    assert "n_threads" not in {f for f in p.LoadSettings.__dataclass_fields__}


def test_every_labelled_setting_has_a_widget_kind_and_every_flag_is_unique():
    for s in SETTINGS:
        if s.spec.label:
            assert s.kind in ("bool", "int", "float", "str") or s.spec.choices or s.spec.multiline, s.name
        assert s.spec.what and (s.spec.llama or s.group == "server"), s.name
    flags = [f for s in SETTINGS for f in (s.spec.flag, *s.spec.aliases) if f]
    assert len(flags) == len(set(flags))
