"""The conversation cache's figures outside the worker (issue 31): the setting, what a reply's
stats say of it, the banner's turns, and run files that keep it (older ones read as unknown)."""

from __future__ import annotations

import ctypes
import json
from dataclasses import replace

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.report.stats_table import prompt_cache_text
from gemmacompare.engine.run_file import read_run_file
from gemmacompare.engine.run_settings import command_for
from gemmacompare.state import settings_table as table
from gemmacompare.ui.stats_format import stats_line, ttft_by_turn
from tests.hostile_run_files import good_run_doc


def _record(n_prompt: int, cache: p.CacheUse | None, n_reused: int = 0) -> RunRecord:
    rec = RunRecord("A", 100.0)
    rec.add(p.PrefillDone(1, n_prompt, 100.0, 100.5, n_reused=n_reused))
    rec.add(p.Token(1, 0, 7, 100.6, "answer", "", "hi"))
    rec.add(p.Token(1, 1, 8, 100.7, "answer", "", " there"))
    rec.add(p.Finished(1, p.STOP_EOS, n_prompt, 2, 100.0, 100.8, None, 1, cache=cache))
    return rec


def test_the_setting_is_declared_once_the_window_keeps_and_the_headless_doors_read_cold():
    s = table.get("cache")
    assert s.group == "prompt" and s.spec.choices == ("keep", "cold") and s.spec.flag == "--cache"
    assert table.RunSettings().prompt.cache == p.CACHE_COLD
    assert table.window_defaults().prompt.cache == p.CACHE_KEEP
    with pytest.raises(table.SettingError, match="conversation cache must be one of keep, cold"):
        table.validate("cache", "warm")
    for name, default in (("ctx_checkpoints", 32), ("checkpoint_min_step", 8192)):  # llama-server's
        assert table.get(name).default == default and table.get(name).group == "load"


def test_a_request_keeps_the_cache_only_after_an_earlier_turn():
    kept = table.window_defaults()
    history = (p.ChatMessage("user", "hi"), p.ChatMessage("assistant", "hello"))
    assert command_for(kept, history, "and then?").cache == p.CACHE_KEEP
    assert command_for(kept, (), "first").cache == p.CACHE_COLD  # a new chat starts cold
    cold = replace(kept, prompt=replace(kept.prompt, cache=p.CACHE_COLD))
    assert command_for(cold, history, "and then?").cache == p.CACHE_COLD


def test_a_reply_says_what_it_reused_and_read_and_its_rate_counts_what_it_read():
    rec = _record(120, p.CacheUse(p.CACHE_KEEP, n_reused=100, checkpoint_bytes=3 << 20), n_reused=100)
    s = rec.stats()
    assert (s.n_prompt, s.n_reused, s.n_prefilled, s.cache_policy) == (120, 100, 20, "keep")
    assert s.prefill_tps == pytest.approx(20 / 0.5)  # the 20 tokens read, not the 120 of the prompt
    assert prompt_cache_text(s) == "100 reused, 20 read"
    line = stats_line(s, "")
    assert "prompt 120 tok: 100 reused, 20 read @ 40 t/s" in line and "checkpoints 3.0 MiB" in line


def test_a_restored_checkpoint_a_full_re_read_and_a_cold_prompt_each_say_so():
    restored = _record(80, p.CacheUse(p.CACHE_KEEP, n_reused=47, n_checkpoint=47,
                                      parted="the template rendered the last prompt anew from its token 49 of 51"),
                       n_reused=47).stats()
    assert prompt_cache_text(restored) == "47 from a checkpoint of 47, 33 read"
    assert "(the template rendered the last prompt anew from its token 49 of 51)" in stats_line(restored, "")
    why = "its recurrent state cannot be cut back and no checkpoint covers the common prefix"
    full = _record(80, p.CacheUse(p.CACHE_KEEP, why_full=why)).stats()
    assert prompt_cache_text(full) == f"all 80 read: {why}"
    assert f"prompt 80 tok: all 80 read @ 160 t/s: {why}" in stats_line(full, "")
    assert prompt_cache_text(_record(80, p.CacheUse(p.CACHE_COLD)).stats()) == "cold"
    unknown = _record(80, None).stats()  # a server, or an older run file
    assert unknown.cache_policy is None and prompt_cache_text(unknown) == ""
    assert "prompt 80 tok @ 160 t/s" in stats_line(unknown, "")


def test_a_blind_round_shows_no_prompt_size():
    s = _record(120, p.CacheUse(p.CACHE_KEEP, n_reused=100), n_reused=100).stats()
    line = stats_line(s, "", blind=True)
    assert "120" not in line and "100 reused" not in line and "prompt read @ 40 t/s" in line


def test_the_banner_compares_time_to_first_token_by_turn_from_the_second_turn():
    assert ttft_by_turn({"A": [0.41], "B": [1.3]}) == ""
    assert ttft_by_turn({"A": [0.41, 0.12], "B": [1.3, 0.35]}) == "TTFT by turn: A 0.41 → 0.12 s · B 1.30 → 0.35 s"
    assert ttft_by_turn({"A": [], "B": []}) == ""
    long = ttft_by_turn({"A": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})  # the last four turns: the banner stays short
    assert long == "TTFT by turn: A 3.00 → 4.00 → 5.00 → 6.00 s"


def test_run_files_keep_each_replys_cache_and_its_policy_and_older_ones_read_as_unknown(tmp_path):
    doc = good_run_doc()
    m = doc["models"][0]
    m["settings"]["prompt"]["cache"] = "keep"
    m["run"]["prefill"]["n_reused"] = 3
    m["run"]["finished"]["cache"] = {"policy": "keep", "n_reused": 3, "n_checkpoint": 3, "why_full": "",
                                     "checkpoint_bytes": 4096, "parted": "x", "from_a_later_app": 1}
    path = tmp_path / "kept.gcrun"
    path.write_text(json.dumps(doc))
    run = read_run_file(path)
    cache = run.records[0].finished.cache
    assert cache == p.CacheUse("keep", 3, 3, "", 4096, "x")
    assert run.records[0].prefill.n_reused == 3 and run.run_settings(0).prompt.cache == "keep"
    s = run.records[0].stats()
    assert (s.n_reused, s.n_prefilled, s.n_checkpoint) == (3, 2, 3)
    older = run.records[1]  # the good doc as files were before: no cache anywhere
    assert older.finished.cache is None and older.prefill.n_reused == 0
    assert older.stats().cache_policy is None and run.run_settings(1).prompt.cache == p.CACHE_COLD


def _cache(count: int = 32, min_step: int = 8192, cannot_cut: bool = True, n_swa: int = 0):
    from gemmacompare.engine.local.prompt_cache import CheckpointLimits, PromptCache

    # The batch plan and the eviction rule touch no llama.cpp call.
    return PromptCache(None, 0, CheckpointLimits(count, min_step), cannot_cut, n_swa)  # type: ignore[arg-type]


def test_the_prefill_breaks_where_llama_server_takes_its_checkpoints():
    c = _cache()
    # 4 + n_ubatch and 4 tokens before the end, and where the last user message starts.
    assert c.chunks(0, 2000, 2048, 512, user_start=700) == [
        (0, 700, False), (700, 1484, True), (1484, 1996, True), (1996, 2000, True)]
    assert c.chunks(1990, 2000, 2048, 512) == [(1990, 1996, True), (1996, 2000, True)]  # a kept prefix
    assert c.chunks(0, 3, 2048, 512) == [(0, 3, False)]  # nothing in the memory yet: nothing to save
    plain = _cache(cannot_cut=False)  # attention only: no checkpoints, n_batch chunks
    assert plain.chunks(0, 5000, 2048, 512, user_start=700) == [(0, 2048, False), (2048, 4096, False),
                                                                (4096, 5000, False)]
    assert _cache(count=0).chunks(0, 100, 2048, 512) == [(0, 100, False)]  # --ctx-checkpoints 0


def test_checkpoints_are_evicted_as_llama_server_evicts_them():
    from gemmacompare.engine.local.prompt_cache import _Checkpoint

    c = _cache(count=4, min_step=100)

    def add(n: int, request: int) -> None:
        c._make_room(request)
        c.checkpoints.append(_Checkpoint(n, 0, n - 1, (ctypes.c_uint8 * 1)(), request))

    for n, r in ((10, 1), (50, 1), (300, 2)):
        add(n, r)
    assert [x.n_tokens for x in c.checkpoints] == [10, 50, 300]
    add(320, 2)  # full once this one is in: an earlier request's within min_step of the one before goes
    assert [x.n_tokens for x in c.checkpoints] == [10, 300, 320]
    add(600, 3)
    assert [x.n_tokens for x in c.checkpoints] == [10, 300, 600]
    for n in range(1000, 1100, 10):
        add(n, 4)  # the same request's never go for spacing: the oldest make room
    assert [x.n_tokens for x in c.checkpoints] == [1060, 1070, 1080, 1090]
