"""The comparison sentence: per-token latency and its ratio first, then time to
answer, then who finished first with how many tokens each."""

from __future__ import annotations

from dataclasses import replace

from gemmacompare.engine.metrics import RunStats
from gemmacompare.engine.report.speed_summary import speed_summary
from gemmacompare.engine.report.stats_table import STAT_ROWS

BASE = RunStats(
    n_prompt=20, prefill_ms=50.0, prefill_tps=400.0, ttft_s=0.1, time_to_answer_s=None, gen_tps=None,
    ms_per_token=None, n_tokens=0, n_thinking=0, n_answer=0, ms_per_token_p50=None, ms_per_token_p95=None,
    total_s=None, stop_reason="eos", peak_rss=None, peak_vram=None, gpu_available=False, n_threads=1, template="",
    llama_n_p_eval=None, llama_n_eval=None, llama_prompt_tps=None, llama_eval_tps=None,
)


def stats(ms: float, tokens: int, total: float, answer_at: float) -> RunStats:
    return replace(BASE, ms_per_token=ms, gen_tps=1000 / ms, n_tokens=tokens, n_answer=tokens, total_s=total,
                   time_to_answer_s=answer_at)


def test_the_issue_example_leads_with_per_token_latency():
    # A wrote 80 tokens and finished first; B wrote 256: finishing first is not the speed.
    a, b = stats(29.2, 80, 2.4, 0.3), stats(51.6, 256, 12.8, 0.5)
    assert speed_summary(["A", "B"], [a, b]) == (
        "A 29 ms/token vs B 52 ms/token: A 1.8× faster per token · time to answer A 0.30 s, B 0.50 s · "
        "A finished first, 10.40 s ahead (A 80 vs B 256 tokens)"
    )


def test_slower_per_token_can_still_finish_first():
    a, b = stats(60.0, 20, 1.3, 0.2), stats(30.0, 300, 9.1, 0.2)
    text = speed_summary(["A", "B"], [a, b])
    assert text.startswith("A 60 ms/token vs B 30 ms/token: B 2.0× faster per token")
    assert text.endswith("A finished first, 7.80 s ahead (A 20 vs B 300 tokens)")


def test_fair_mode_leaves_out_who_finished_first_and_close_speeds_are_equal():
    a, b = stats(40.0, 50, 2.0, 1.5), stats(41.0, 50, 2.1, 0.4)
    text = speed_summary(["A", "B"], [a, b], race=False)
    assert text == "A 40 ms/token vs B 41 ms/token: about the same per token · time to answer A 1.50 s, B 0.40 s"


def test_compare_table_has_the_same_order():
    names = [name for name, _ in STAT_ROWS]
    assert names[0] == "ms/token" and names.index("time to answer") < names.index("total")
    assert names.index("ms/token") < names.index("time to answer") < names.index("tokens (think/answer)")
