"""Run files, claims and API keys from strangers (issue 30), without a model or a server.

Hypothesis feeds the run-file reader and the claim parser: each gives a valid result or our
one-sentence error, never another exception, within a time bound. Beside them: the key
variables of hosts that differ only by '.', '-' and '_', the replay's pace, the line
printer's cost, the claim's ratio interval and the settings a rerun takes.
"""

from __future__ import annotations

import copy
import io
import json
import math
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmacompare.cli.compare import LinePrinter
from gemmacompare.engine import protocol as p
from gemmacompare.engine.claim import ClaimedFigure, parse_claim, verdict_sentence, verdicts
from gemmacompare.engine.replay import play_clock
from gemmacompare.engine.replay_pace import MAX_PAUSE_S, MAX_REPLAY_S, PlayClock
from gemmacompare.engine.report.intervals import format_positive, positive_interval
from gemmacompare.engine.run_file import RunFileError, read_run_file
from gemmacompare.engine.run_settings import PromptOptions, RunSettings
from gemmacompare.engine.settings_check import SettingRefused, check_settings
from gemmacompare.state.secrets import find_api_key, host_env_name, server_env_var
from tests.hostile_run_files import good_run_doc

GOOD = good_run_doc(6)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    """Every place in a JSON value, as a tuple of keys and indexes."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


PLACES = [x for x in _paths(GOOD) if x]


def _read(doc) -> object:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.gcrun"
        path.write_text(json.dumps(doc))
        try:
            run = read_run_file(path)
        except RunFileError as exc:
            assert exc.message.endswith(".") and "\n" not in exc.message and len(exc.message) < 600
            return exc
    # What the replay, the viewer and the table read from a run must work on whatever was taken.
    for m in run.models:
        m.record.stats()
        play_clock(m.record, 1.0)(m.record.tokens[-1].t if m.record.tokens else 0.0)
        run.run_settings(run.models.index(m))
    run.whose()
    return run


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_a_damaged_run_file_gives_a_run_or_our_sentence(data):
    doc = copy.deepcopy(GOOD)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(PLACES))
        node = doc
        try:
            for key in where[:-1]:
                node = node[key]
            node[where[-1]] = data.draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change took this place away
    t0 = time.monotonic()
    _read(doc)
    assert time.monotonic() - t0 < 5


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_fuzz_any_json_gives_a_run_or_our_sentence(value):
    assert isinstance(_read(value), RunFileError)
    doc = copy.deepcopy(GOOD)
    doc["models"][0]["run"] = value
    _read(doc)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"\s*([A-Za-z]{1,5}\s*=\s*[0-9.e]{1,500}\s*(ms|t/s|x)?[ ,;]*){0,6}"))
def test_fuzz_the_claim_parser_gives_figures_or_our_sentence(text):
    t0 = time.monotonic()
    out = parse_claim(text)
    assert time.monotonic() - t0 < 1
    if isinstance(out, str):
        assert out.endswith(".") and "\n" not in out
    else:
        assert len(out) >= 2 and all(0.01 <= f.ms_per_token <= 1e6 and math.isfinite(f.ms_per_token) for f in out)


def test_the_claim_parser_is_linear_and_bounded():
    for n in (10_000, 120_000, 10_000_000):
        t0 = time.monotonic()
        out = parse_claim(" " * n + "junk=")
        assert time.monotonic() - t0 < 0.5 and isinstance(out, str)
    t0 = time.monotonic()
    assert isinstance(parse_claim("A=1ms " * 160 + "B"), str) and time.monotonic() - t0 < 0.5


@pytest.mark.parametrize("text,said", [
    ("A=" + "9" * 400 + "t/s B=10ms", "cannot read"),
    ("A=" + "9" * 12 + "ms B=10ms", "no model's speed"),
    ("A=0.000001ms B=10ms", "no model's speed"),
    ("A=0ms B=10ms", "must be above zero"),
    ("A=inf B=10ms", "cannot read"),
    ("A=nan B=10ms", "cannot read"),
    ("A=1e309ms B=10ms", "cannot read"),
])
def test_absurd_and_infinite_claims_are_refused_before_any_run(text, said):
    out = parse_claim(text)
    assert isinstance(out, str) and said in out, out


def test_spaced_claims_still_read():
    out = parse_claim("Gemma = 45 ms, Qwen = 9.09 t/s;  C=3ms/token")
    assert isinstance(out, list) and [f.name for f in out] == ["Gemma", "Qwen", "C"]
    assert out[1].ms_per_token == pytest.approx(110.0, rel=1e-3)


def test_a_ratio_interval_never_reaches_zero_and_a_tiny_claim_does_not_hold():
    claim = [ClaimedFigure("A", 100.0), ClaimedFigure("B", 0.02)]  # claims B is 5,000 times faster
    runs = [[10.0, 5.0], [10.0, 15.0], [10.0, 4.0]]  # noisy: a t interval of the mean ratio would go below 0
    (v,) = verdicts(claim, runs)
    assert v.low is not None and v.low > 0 and v.holds is False
    sentence = verdict_sentence(claim, runs, [[64, 64]] * 3)
    assert sentence.startswith("The claim does not hold") and "0.00-" not in sentence


def test_a_verdict_on_busy_runs_says_so():
    claim = [ClaimedFigure("A", 45.0), ClaimedFigure("B", 110.0)]
    runs = [[45.0, 110.0], [46.0, 111.0], [44.0, 108.0]]
    busy = ["other programs used 1.3 of 2 cores during every run; figures are unreliable"]
    sentence = verdict_sentence(claim, runs, [[64, 64]] * 3, busy)
    assert sentence.startswith("The claim holds on this machine, but the runs are unreliable (other programs used "
                               "1.3 of 2 cores during every run, in 1 of 3 runs; check again on a quiet machine): ")


def test_positive_intervals_respect_the_sign_or_say_too_few_runs():
    m, lo, hi = positive_interval([2164.0, 900.0])
    assert lo is not None and hi is not None and 0 < lo < m < hi
    assert format_positive([2164.0]) == "2164.0 (too few runs for an interval)"
    assert positive_interval([1.0, 0.0])[1] is None
    m2, lo2, hi2 = positive_interval([0.76, 1.3, 0.9])
    m3, lo3, hi3 = positive_interval([1 / 0.76, 1 / 1.3, 1 / 0.9])
    assert lo2 == pytest.approx(1 / hi3) and hi2 == pytest.approx(1 / lo3)  # the same read either way up


# --- keys: one variable, one host -------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("api.gctest.example", "api-gctest.example"), ("api.openai.com", "api-openai.com"),
    ("a-b.example", "a.b.example"), ("a--b.example", "a-b.example"), ("a-.b", "a.-b"), ("x1.y", "x1-y"),
    ("127.0.0.1", "127-0-0-1"), ("::1", "0.0.0.1"), ("a.b", "a_b"),
])
def test_hosts_that_differ_by_dot_dash_or_underscore_have_different_variables(a, b, monkeypatch):
    url_a, url_b = f"http://{'[' + a + ']' if ':' in a else a}:8080/v1", f"http://{b}:8080/v1"
    var_a, var_b = server_env_var(url_a), server_env_var(url_b)
    assert var_a != var_b or var_a is None
    if var_a:
        monkeypatch.setenv(var_a, "sk-for-a-1234")
        monkeypatch.delenv("GEMMACOMPARE_API_KEY", raising=False)
        assert find_api_key(url_a, servers_in_run=[url_a, url_b]) == "sk-for-a-1234"
        assert find_api_key(url_b, servers_in_run=[url_a, url_b]) != "sk-for-a-1234"


def test_host_variable_names():
    assert server_env_var("http://127.0.0.1:8080/v1") == "GEMMACOMPARE_API_KEY_127_0_0_1_8080"
    assert server_env_var("https://api-x.example.com/v1") == "GEMMACOMPARE_API_KEY_API__X_EXAMPLE_COM_443"
    assert host_env_name("a_b.example") is None and host_env_name("a..b") is None
    assert host_env_name("-a.b") is None and host_env_name("ünï.example") is None
    assert host_env_name("::1") == "___".join(["0000"] * 7 + ["0001"])


# --- replays bounded by what they show --------------------------------------------------

def test_a_token_at_day_115_plays_within_the_replays_bound():
    clock = PlayClock([0.5, 0.55, 9_999_999.0])
    assert not clock.exact and clock.length <= 0.55 + MAX_PAUSE_S + 1e-9
    long = PlayClock([i * 1.0 for i in range(10_000)])  # 10,000 s, every gap real: faster as a whole
    assert long.length == pytest.approx(MAX_REPLAY_S) and long(5000.0) == pytest.approx(MAX_REPLAY_S / 2, rel=1e-3)
    real = PlayClock([0.1 * i for i in range(100)], speed=2.0)
    assert real.exact and real(5.0) == 2.5 and real.said() == ""


def test_the_line_printer_is_linear_in_the_tokens_on_one_line():
    def cost(n: int) -> float:
        printer = LinePrinter(["A"], out=io.StringIO())
        t0 = time.perf_counter()
        for _ in range(n):
            printer.feed(0, "answer", "x" * 200)
        printer.flush(0)
        return time.perf_counter() - t0

    assert cost(65_536) < 2.0  # quadratic, 16,384 tokens took 35 s


# --- a rerun's settings -----------------------------------------------------------------

def test_settings_outside_the_command_lines_ranges_are_refused_and_threads_brought_down():
    base = RunSettings()
    for field, value in (("temperature", math.nan), ("temperature", -1.0), ("top_p", 5.0), ("min_p", -3.0),
                         ("max_tokens", 10**9), ("repeat_penalty", 0.0)):
        bad = RunSettings(sampling=p.SamplingSettings(**{field: value}))
        with pytest.raises(SettingRefused) as info:
            check_settings(bad, 2, "[A] ")
        assert info.value.message.startswith("[A] ") and info.value.message.endswith("nothing was run.")
    many = RunSettings(prompt=PromptOptions(n_threads=1100))
    fitted, notes = check_settings(many, 2, "[A] ")
    assert fitted.prompt.n_threads == 2 and notes == ["[A] recorded with 1100 threads of its own; here 2, "
                                                      "all this machine has"]
    assert check_settings(base, 2) == (base, [])


# --- the smaller items ---------------------------------------------------------------------

def test_a_repo_id_with_dot_dot_is_named_not_sent_to_the_hub():
    from gemmacompare.models.hub import HubError, is_repo_id, parse_repo_spec

    with pytest.raises(HubError) as info:
        parse_repo_spec("evil/../x")
    assert "'evil/../x' is not a Hub repository id (a repository id has no '..' in it)" in info.value.message
    assert not is_repo_id("evil/x; touch /tmp/PWNED #") and is_repo_id("unsloth/Qwen3.5-4B-GGUF")


def test_a_folder_where_the_arena_database_goes_is_named(tmp_path):
    from gemmacompare.arena.store import ArenaStore, ArenaStoreError

    (tmp_path / "arena.sqlite").mkdir()
    with pytest.raises(ArenaStoreError) as info:
        ArenaStore(tmp_path / "arena.sqlite").battles()
    assert "A folder is where the arena history's database file should be" in str(info.value.args[0])


def test_a_deep_vulkan_driver_file_is_left_out_before_the_loader_reads_it(tmp_path):
    from gemmacompare.engine.local.vulkan_drivers import drop_bad_driver_files

    deep = tmp_path / "deep_icd.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    good = tmp_path / "lvp_icd.json"
    good.write_text('{"file_format_version": "1.0.0", "ICD": {"library_path": "libvulkan_lvp.so"}}')
    env = {"VK_ICD_FILENAMES": f"{deep}:{good}", "VK_DRIVER_FILES": str(deep)}
    said = drop_bad_driver_files(env)
    assert env == {"VK_ICD_FILENAMES": str(good)}
    assert len(said) == 2 and said[0].startswith(f"The Vulkan driver file {deep} (from VK_ICD_FILENAMES) was left out")
