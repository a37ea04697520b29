"""The window renders the compare session's state and keeps none of its own; fair mode's
replay shows each model's figures as it finishes and the verdict at the end."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QTimer, SignalInstance

from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import ThreadSplit
from gemmacompare.engine.session import CompareResult, RoundState
from tests.integration.test_gui import make_window, set_short

pytestmark = pytest.mark.gui

# What the window kept before the session published it (issue 28): none may come back.
ROUND_FIELDS = {"_last_mode", "_last_result", "_note", "_split", "_text", "_replay_t0", "_replay_timer",
                "_chart_models", "_round", "_loading", "_replayed"}
ROUND_TYPES = (CompareResult, RoundState, RunRecord, ThreadSplit, QTimer)


def test_the_window_and_its_runner_hold_no_round_or_replay_state(qtbot, demo_paths):
    w = make_window(qtbot, wait_ready=False)
    try:
        for owner in (w, w.runner):
            names = set(vars(owner))
            assert not names & ROUND_FIELDS, names & ROUND_FIELDS
            kept = {n: type(v).__name__ for n, v in vars(owner).items()
                    if isinstance(v, ROUND_TYPES) and not (owner is w.runner and n in ("state", "_timer"))}
            assert not kept, kept
        # Its widgets, actions and helpers aside, what the window holds: a new field here must not be round state.
        plain = sorted(n for n, v in vars(w).items()
                       if not isinstance(v, (QObject, SignalInstance)) and not n.startswith("__"))
        # ab_dialog: the Speculation A/B's window while one is open (None until then), not a round.
        assert plain == ["_base_point", "_charts_folded", "_charts_forced", "ab_dialog", "chat_log", "closing", "files",
                         "open_get_models", "open_run", "panes", "presentation", "refresh_model_choices", "sampler",
                         "save_run", "session", "settings", "theme_name", "total_threads"], plain
    finally:
        w.close()


def test_fair_replay_shows_each_models_figures_as_it_finishes_and_the_verdict_at_the_end(qtbot, demo_paths):
    w = make_window(qtbot)
    try:
        set_short(w, 24, raw=True)
        w.fair_radio.setChecked(True)
        w.prompt.setPlainText("Once upon a time")
        w.send()
        qtbot.waitUntil(lambda: w.runner.state.replaying and all(p.replay_record for p in w.panes), timeout=120_000)
        verdict = w.runner.state.result.verdict()
        assert verdict and verdict not in w.banner.text() and "replaying side by side" in w.banner.text()
        wrong: list[str] = []

        def frame() -> bool:
            """Every frame of the replay: a pane's stats line is there exactly when its replay has finished."""
            for pane in w.panes:
                stats_shown = not pane.chat.replies()[-1].stats.isHidden()
                if stats_shown != pane.replay_record.done:
                    wrong.append(f"{pane.label}: stats shown {stats_shown}, replay done {pane.replay_record.done}")
            if w.runner.state.replaying and verdict in w.banner.text():
                wrong.append("the verdict before the end")
            return not w.runner.state.replaying

        assert not any(not p.chat.replies()[-1].stats.isHidden() for p in w.panes)  # the first frame
        qtbot.waitUntil(frame, timeout=60_000)
        assert not wrong, wrong[:5]
        qtbot.waitUntil(lambda: "replayed side by side" in w.banner.text(), timeout=5_000)
        assert verdict in w.banner.text()
        for pane in w.panes:
            reply = pane.chat.replies()[-1]
            assert not reply.stats.isHidden() and "fair mode" in reply.stats.text()
            assert reply.answer.text == pane.record.answer
    finally:
        w.close()
