"""Strangers' run files through `replay` and `rerun` (issue 30): each one sentence, or a bounded replay.

The corpus is tests/hostile_run_files.py's. Every case runs in this process
through the command line's own entry point; the time it takes and this
process's peak memory growth are measured and held to generous bounds.
"""

from __future__ import annotations

import time

import pytest

from gemmacompare.cli.main import main
from gemmacompare.engine.machine import file_hash_prefix
from gemmacompare.engine.rerun import RerunRefused, plan_rerun
from gemmacompare.engine.run_file import RunFileError, read_run_file, write_run_file
from tests.hostile_run_files import PLAYS, REFUSED, SHOWN, good_run_doc, hostile_run_files
from tests.integration.test_remote_hostile import PeakRSS

SECONDS_BOUND = 20.0  # a refusal takes well under a second; a bounded replay at --speed 1000 a few
MEMORY_BOUND = 400 << 20  # the largest legal file (65,536 tokens) read, played and printed


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return hostile_run_files(tmp_path_factory.mktemp("hostile-runs"))


def _run(capsys, *argv: str) -> tuple[int, str, str, float, int]:
    with PeakRSS() as peak:
        t0 = time.monotonic()
        code = main(list(argv))
        took = time.monotonic() - t0
    out, err = capsys.readouterr()
    return code, out, err, took, peak.growth


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "\x1b" not in err and "\u202e" not in err
    return lines[0]


def test_every_hostile_file_through_replay(corpus, capsys):
    for case, (path, expected) in corpus.items():
        code, out, err, took, grew = _run(capsys, "replay", str(path), "--speed", "1000")
        assert took < SECONDS_BOUND, (case, took)
        assert grew < MEMORY_BOUND, (case, grew)
        assert "Traceback" not in out + err, case
        if expected == REFUSED:
            assert code != 0, case
            line = _one_error_line(err)
            assert "was not opened" in line or "not read" in line, (case, line)
        else:
            assert code == 0, (case, err)
            assert "\x1b" not in out + err and "\u202e" not in out + err, case


def test_a_refusal_names_the_field(corpus, capsys):
    for case, field in (("infinite-n_prompt", "models[0].run.finished.n_prompt"),
                        ("infinite-ram_bytes", "machine.ram_bytes"), ("sampling-is-a-list", "models[0].settings"
                                                                                             ".sampling"),
                        ("negative-ttft", "models[0].run.tokens[0][2]"),
                        ("token-at-day-115", "models[0].run.tokens[19][2]"),
                        ("source-kind-is-an-int", "models[0].identity.source.kind"),
                        ("tokens-out-of-order", "models[0].run.tokens[5]"),
                        ("65536-tokens-of-200", "models[0].run.tokens"),
                        ("cache-reused-more-than-prompt", "models[0].run.finished.cache.n_reused"),
                        ("cache-policy-unknown", "models[0].run.finished.cache.policy"),
                        ("prefill-reused-more-than-prompt", "models[0].run.prefill.n_reused"),
                        ("settings-cache-unknown", "models[0].settings.prompt.cache")):
        path, _ = corpus[case]
        with pytest.raises(RunFileError) as info:
            read_run_file(path)
        assert f"its field {field} " in info.value.message, (case, info.value.message)
        assert "\n" not in info.value.message and info.value.message.endswith(".")


def test_every_hostile_file_through_rerun(corpus, capsys):
    for case, (path, expected) in corpus.items():
        code, out, err, took, grew = _run(capsys, "rerun", str(path))
        assert took < SECONDS_BOUND and grew < MEMORY_BOUND, (case, took, grew)
        assert code != 0, case  # refused, or its models are not here: nothing runs
        line = _one_error_line(err)
        assert "Traceback" not in out + err, case
        if case == "shell-in-hub-repo":  # not a repo id: no command to paste is suggested
            assert "gemmacompare pull" not in err and "touch" not in line.split("is not on this machine")[-1]
        if case in ("top-p-5", "negative-temperature"):
            assert "nothing was run" in line and ("top-p" in line or "temperature" in line), line


def test_a_late_token_plays_within_the_replays_bound(corpus, capsys):
    from gemmacompare.engine.replay import play_clock
    from gemmacompare.engine.replay_pace import MAX_PAUSE_S

    run = read_run_file(corpus["late-token-within-a-day"][0])
    clock = play_clock(run.models[0].record)
    assert clock.length < 2 + MAX_PAUSE_S and not clock.exact and "shortened" in clock.said()
    assert play_clock(read_run_file(corpus["markup-and-bidi"][0]).models[0].record).exact


def test_the_hub_hint_is_a_quoted_repo_id(tmp_path, capsys):
    doc = good_run_doc()
    doc["models"][0]["identity"]["source"] = {"kind": "hub", "hub_repo": "org/Some.Model-GGUF", "hub_file": "x"}
    code, out, err, _, _ = _run(capsys, "rerun", str(write_run_file(tmp_path / "hub.gcrun", doc)))
    assert code != 0 and "`gemmacompare pull org/Some.Model-GGUF` fetches it" in err


def test_rerun_brings_a_files_thread_counts_down_and_says_so(tmp_path, demo_paths):
    doc = good_run_doc()
    for k, key in enumerate(("smollm2", "gemma3")):
        path = demo_paths[key]
        doc["models"][k]["identity"].update(file_hash=file_hash_prefix(path), file_size=path.stat().st_size,
                                            file_name=path.name)
    doc["models"][0]["settings"]["prompt"]["n_threads"] = 1000
    doc["models"][1]["settings"]["prompt"]["n_threads"] = 900
    plan = plan_rerun(read_run_file(write_run_file(tmp_path / "threads.gcrun", doc)), threads_here=2)
    assert plan.settings[0].prompt.n_threads == 2 and plan.settings[1].prompt.n_threads == 2
    assert "[A] recorded with 1000 threads of its own; here 2, all this machine has" in plan.notes
    assert "[B] recorded with 900 threads of its own; here 2, all this machine has" in plan.notes
    doc["models"][1]["settings"]["sampling"]["min_p"] = -3.0
    with pytest.raises(RerunRefused) as info:
        plan_rerun(read_run_file(write_run_file(tmp_path / "minp.gcrun", doc)), threads_here=2)
    assert info.value.message == "[B] min-p must be between 0 and 1, not -3 (in the run file); nothing was run."


@pytest.mark.parametrize("flag", ["--top-p=5", "--top-p=-1", "--min-p=-3", "--temp=-1", "--temp=nan"])
def test_the_command_line_refuses_the_same_settings(flag, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "smollm2", "gemma3", "--prompt", "hi", flag])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and flag.split("=")[0] in err


def test_every_kind_of_case_is_in_the_corpus(corpus):
    assert {expected for _, expected in corpus.values()} == {REFUSED, PLAYS, SHOWN}
