"""The verdict a room reads: no winner called on finishing time when a reply was cut at
max tokens; three or four models ranked by ms/token."""

from __future__ import annotations

from dataclasses import replace

from gemmacompare.engine.metrics import RunStats
from gemmacompare.engine.report.speed_summary import speed_summary

BASE = RunStats(
    n_prompt=20, prefill_ms=50.0, prefill_tps=400.0, ttft_s=0.1, time_to_answer_s=None, gen_tps=None,
    ms_per_token=None, n_tokens=0, n_thinking=0, n_answer=0, ms_per_token_p50=None, ms_per_token_p95=None,
    total_s=None, stop_reason="eos", peak_rss=None, peak_vram=None, gpu_available=False, n_threads=1, template="",
    llama_n_p_eval=None, llama_n_eval=None, llama_prompt_tps=None, llama_eval_tps=None,
)


def stats(ms: float, tokens: int, total: float, stop: str = "eos") -> RunStats:
    return replace(BASE, ms_per_token=ms, gen_tps=1000 / ms, n_tokens=tokens, n_answer=tokens, total_s=total,
                   time_to_answer_s=0.3, stop_reason=stop)


def test_no_winner_on_finishing_time_when_one_reply_hit_max_tokens():
    text = speed_summary(["A", "B"], [stats(29, 48, 1.4), stats(46, 256, 11.9, "max_tokens")])
    assert "finished first" not in text
    assert text.endswith("A ended by itself, B hit max tokens (256): no winner on finishing time")
    assert text.startswith("A 29 ms/token vs B 46 ms/token: A 1.6× faster per token")
    three = speed_summary(["A", "B", "C"], [stats(20, 13, 0.6), stats(30, 256, 8, "max_tokens"), stats(25, 14, 0.7)])
    assert "finished first" not in three and "A, C ended by themselves, B hit max tokens (256)" in three
    both_cut = speed_summary(["A", "B"], [stats(29, 256, 7.4, "max_tokens"), stats(46, 256, 11.9, "max_tokens")])
    assert "A finished first" in both_cut  # the same length each: finishing first is a fair reading


def test_three_models_are_ranked_with_their_ratio_to_the_fastest():
    text = speed_summary(["A", "B", "C"], [stats(44, 13, 1.7), stats(33, 20, 2.0), stats(62, 13, 2.0)])
    assert text.startswith("ranked by ms/token: B 33 ms/token (fastest), A 44 (1.3×), C 62 (1.9×)")
    assert "B finished first" not in text and "A finished first, 0.30 s ahead of the next" in text
