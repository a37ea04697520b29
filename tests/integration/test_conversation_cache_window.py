"""The window keeps each model's conversation cache (issue 31): every reply says what it reused
and read, the banner compares time to first token by turn, New chat starts cold, and the
"every prompt cold" setting reads each prompt whole. Offscreen, the real demo models."""

from __future__ import annotations

import re

import pytest

from gemmacompare.state.settings_table import with_values
from tests.integration.test_gui import ask, close, make_window, set_short

pytestmark = pytest.mark.gui

REUSED = re.compile(r"prompt (\d+) tok: (\d+) reused, (\d+) read @ \d+ t/s")


def _line(pane) -> str:
    return pane.chat.replies()[-1].stats.text()


def test_each_reply_says_what_it_reused_and_the_banner_compares_turns(qtbot):
    w = make_window(qtbot)
    set_short(w, 6)
    assert all(p.settings.prompt.cache == "keep" for p in w.panes)  # the window's default
    ask(qtbot, w, "Name a fruit.")
    for p in w.panes:
        assert re.search(r"prompt \d+ tok @ \d+ t/s \(cold\)", _line(p)), _line(p)  # a new conversation
    assert "TTFT by turn" not in w.banner.text()
    for text in ("And a vegetable?", "And a colour?"):
        ask(qtbot, w, text)
        for p in w.panes:
            m = REUSED.search(_line(p))
            assert m, _line(p)
            n, reused, read = map(int, m.groups())
            s = p.record.stats()
            assert (n, reused, read) == (s.n_prompt, s.n_reused, s.n_prefilled) and reused + read == n
            assert reused > 0 and read >= 1
    banner = w.banner.text()
    turns = re.search(r"TTFT by turn: A ([\d.]+) → ([\d.]+) → ([\d.]+) s · B ([\d.]+) → ([\d.]+) → ([\d.]+) s",
                      banner)
    assert turns, banner
    assert [float(x) for x in turns.groups()[:3]] == pytest.approx(w.panes[0].turn_ttfts, abs=0.006)

    w.new_chat()
    assert all(not p.turn_ttfts for p in w.panes) and "TTFT by turn" not in w.banner.text()
    ask(qtbot, w, "Name a tree.")
    assert all("(cold)" in _line(p) for p in w.panes)  # New chat starts cold
    close(w)


def test_every_prompt_cold_reads_each_prompt_whole(qtbot):
    w = make_window(qtbot)
    set_short(w, 6)
    for p in w.panes:
        p.settings = with_values(p.settings, {"cache": "cold"})
    ask(qtbot, w, "Name a fruit.")
    ask(qtbot, w, "And a vegetable?")
    for p in w.panes:
        s = p.record.stats()
        assert (s.cache_policy, s.n_reused, s.n_prefilled) == ("cold", 0, s.n_prompt)
        assert f"prompt {s.n_prompt} tok @ " in _line(p) and "(cold)" in _line(p)
    close(w)
