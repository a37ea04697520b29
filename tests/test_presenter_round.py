"""The presenter's round, what a room sees: no winner called on finishing time when a reply
was cut at max tokens, fair mode that shows what it measures, Esc in a replay, prompt recall."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from gemmacompare.engine.metrics import RunStats
from gemmacompare.engine.report.speed_summary import speed_summary
from tests.test_gui import make_window, set_short

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


@pytest.mark.gui
def test_fair_round_says_who_waits_then_esc_ends_the_replay_whole(qtbot, demo_paths):
    w = make_window(qtbot)
    try:
        set_short(w, 40, raw=True)
        w.fair_radio.setChecked(True)
        w.prompt.setPlainText("Once upon a time")
        w.send()
        assert w.panes[1].state_label.text().startswith("Waiting for its turn")
        assert w.panes[1].series() is None  # no curve of an earlier round while it waits
        qtbot.waitUntil(lambda: w._replay_timer.isActive(), timeout=120_000)
        assert "replaying side by side" in w.banner.text()
        with qtbot.waitSignal(w.compare_finished, timeout=10_000):
            qtbot.keyClick(w.prompt, Qt.Key.Key_Escape)
        assert not w.busy and "replayed side by side" in w.banner.text()
        for p in w.panes:  # whole answers, the stats they had
            assert p.chat.replies()[-1].answer.text == p.record.answer and p.record.stats().n_tokens == 40
    finally:
        w.close()


@pytest.mark.gui
def test_up_in_an_empty_prompt_recalls_earlier_prompts_and_the_modes_have_keys(qtbot, demo_paths):
    w = make_window(qtbot, wait_ready=False)
    try:
        box = w.prompt
        for text in ("first question", "second question"):
            box.remember(text)
        qtbot.keyClick(box, Qt.Key.Key_Up)
        assert box.toPlainText() == "second question"
        qtbot.keyClick(box, Qt.Key.Key_Up)
        assert box.toPlainText() == "first question"
        qtbot.keyClick(box, Qt.Key.Key_Down)
        assert box.toPlainText() == "second question"
        box.setPlainText("typing")
        qtbot.keyClick(box, Qt.Key.Key_Up)
        assert box.toPlainText() == "typing"  # Up moves the cursor in a prompt being written
        assert w.race_radio.text() == "&Race" and w.fair_radio.text() == "&Fair"
        assert "Alt+F" in w.fair_radio.toolTip()
    finally:
        w.close()


@pytest.mark.gui
def test_a_busy_machine_is_named_in_the_stats_line_and_the_banner(qtbot, demo_paths):
    from tests.test_gui import ask
    from tests.test_machine_load import SPIN

    w = make_window(qtbot)
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        set_short(w, 24, raw=True)
        ask(qtbot, w, "Once upon a time")
        assert "other programs used" in w.banner.text() and "figures are unreliable" in w.banner.text()
        for p in w.panes:
            assert p.record.stats().machine_busy
            assert "other programs used" in p.chat.replies()[-1].stats.text()
    finally:
        spinner.kill()
        spinner.wait()
        w.close()
