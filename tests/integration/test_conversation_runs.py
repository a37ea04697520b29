"""Conversations played on the real demo models (issue 31, item 3): per-turn figures through the
engine, `compare --chat`, `bench --suite` with a conversation suite."""

from __future__ import annotations

import json

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.conversation import Conversation, play_conversation
from gemmacompare.engine.run_settings import RunSettings
from gemmacompare.engine.session import CompareSession
from gemmacompare.state.settings_table import with_values
from tests.unit.test_cli import cli

CONV = Conversation("t", ("Say hi.", "Say bye.", "Say thanks."), "Be brief.")
GREEDY = with_values(RunSettings(), {"temperature": 0.0, "max_tokens": 6, "n_ctx": 1024})


def test_a_conversation_keeps_each_models_replies_and_measures_every_turn(demo_paths):
    with CompareSession(["A"]) as session:
        assert session.load([str(demo_paths["smollm2"])], GREEDY.load) == [None]
        seen: list[tuple[int, int]] = []
        keep = play_conversation(session, [GREEDY], CONV, p.CACHE_KEEP, "fair",
                                 on_turn=lambda i, turn, f: seen.append((i, turn)))
        cold = play_conversation(session, [GREEDY], CONV, p.CACHE_COLD, "fair")
    assert seen == [(0, 1), (0, 2), (0, 3)] and keep.complete and cold.complete
    side = keep.models[0]
    assert [f.turn for f in side.figures] == [1, 2, 3]
    assert [f.cache for f in side.figures] == ["cold", "keep", "keep"]  # each conversation starts cold
    assert [f.cache for f in cold.models[0].figures] == ["cold"] * 3
    # Every turn sends the history: the system prompt, the earlier turns and the model's own replies.
    prompts = [f.n_prompt for f in side.figures]
    assert prompts[0] < prompts[1] < prompts[2]
    assert len(side.replies) == 3 and all(r.strip() for r in side.replies)
    assert [m.role for m in side.history] == ["user", "assistant"] * 3
    assert side.records[2].prompt is not None and side.replies[1] in side.records[2].prompt.prompt_text
    assert "Be brief." in side.records[0].prompt.prompt_text
    # Kept, a turn reuses what the cache holds of the history (at most the last prompt and its reply)
    # and prefills the rest: the new user message and the template around it.
    for before, f in zip(side.figures, side.figures[1:]):
        assert f.n_reused is not None and 0 < f.n_reused <= before.n_prompt + (before.n_tokens or 0)
        assert f.n_prefilled == f.n_prompt - f.n_reused and f.n_prefilled < f.n_prompt - before.n_prompt + 8
    assert side.figures[0].n_reused == 0
    # Cold turns prefill everything; and greedy, the cold run is the same conversation (first tokens:
    # the two runs' batch splits differ, so never bit-exact).
    for f in cold.models[0].figures:
        assert f.n_reused == 0 and f.n_prefilled == f.n_prompt and f.ttft_s and f.ttft_s > 0
    assert [f.n_prompt for f in cold.models[0].figures][0] == prompts[0]
    assert cold.models[0].replies[0][:4] == side.replies[0][:4]
    tot = cold.models[0].totals()
    assert tot.n_turns == 3 and tot.n_prompt == sum(f.n_prompt for f in cold.models[0].figures)
    assert tot.n_prefilled == tot.n_prompt and tot.ttft_s is not None and tot.total_s and tot.total_s >= tot.ttft_s


def test_compare_chat_prints_each_turn_and_writes_json(demo_paths, tmp_path):
    chat = tmp_path / "c.jsonl"
    chat.write_text(json.dumps({"id": "c1", "turns": ["Say hi.", "Say bye."]}) + "\n")
    out = cli("compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), "--chat", str(chat), "-n", "4",
              "--mode", "fair", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert "turn  model  cache  prompt  reused  prefilled" in out.stdout
    assert "# turn 2: Say bye." in out.stderr and "cache keep (the first turn cold)" in out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    conv = doc["conversations"][0]
    assert conv["id"] == "c1" and conv["cache"] == "keep" and len(conv["models"]) == 2
    for m in conv["models"]:
        assert [f["turn"] for f in m["figures"]] == [1, 2] and len(m["replies"]) == 2
        assert m["figures"][0]["n_reused"] == 0 and m["totals"]["n_turns"] == 2


def test_compare_chat_refuses_bad_input_in_one_sentence(demo_paths, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "turns": ["ok"], "sytem": "typo"}\n')
    for args, words in ((["--chat", str(bad)], "bad.jsonl line 1: unknown field 'sytem'"),
                        (["-p", "hi", "--cold"], "--cold goes with --chat"),
                        (["--chat", str(bad), "--raw"], "cannot be combined with --raw"),
                        (["--chat", "short-chats", "--ab"], "--chat plays conversations; the speculation A/B"),
                        (["--chat", str(tmp_path / "none.jsonl")], "no such conversation file")):
        out = cli("compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), *args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and words in lines[0], out.stderr


def test_bench_takes_a_conversation_suite_and_reports_per_turn(demo_paths, tmp_path):
    chat = tmp_path / "two.jsonl"
    chat.write_text(json.dumps({"id": "c1", "system": "Be brief.", "turns": ["Say hi.", "Say bye."]}) + "\n")
    out = cli("bench", str(demo_paths["smollm2"]), "--suite", str(chat), "-n", "3", "--warmup", "0", "--cold",
              "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    assert "## c1 (run 1)" in out.stdout and "not kept in the bench history" in out.stderr
    rows = (tmp_path / "out" / "two-turns.csv").read_text().splitlines()
    assert rows[0].startswith("conversation,cache,model,turn,n_prompt,n_reused,n_prefilled")
    assert len(rows) == 3 and all(",cold," in r for r in rows[1:])
    doc = json.loads((tmp_path / "out" / "two-turns.json").read_text())
    figs = doc["conversations"][0]["models"][0]["figures"]
    assert [f["n_reused"] for f in figs] == [0, 0] and figs[1]["n_prompt"] > figs[0]["n_prompt"]


@pytest.mark.gui
def test_the_benchmark_tab_plays_a_conversation_suite_per_turn(qtbot, demo_paths, tmp_path):
    from PySide6.QtCore import Qt

    from gemmacompare.ui.bench_tab import BenchmarkTab

    chat = tmp_path / "tab.jsonl"
    chat.write_text(json.dumps({"id": "c1", "turns": ["Say hi.", "Say bye."]}) + "\n")
    tab = BenchmarkTab()
    qtbot.addWidget(tab)
    try:
        assert tab.suite_combo.findData("short-chats") >= 0  # the shipped suite can be picked
        tab.set_models([str(demo_paths["smollm2"])], ["SmolLM2"])
        tab.runs_spin.setValue(1)
        tab.warmup_spin.setValue(0)
        tab.tokens_spin.setValue(8)
        tab.suite_combo.insertItem(0, chat.name, str(chat))  # as "Open JSONL file…" puts it
        tab.suite_combo.setCurrentIndex(0)
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
        assert tab.stop_button.isEnabled()
        qtbot.waitUntil(lambda: not tab.running and tab.start_button.isEnabled(), timeout=150_000)
        assert "1 conversations played, the cache kept" in tab.status_label.text()
        assert tab.table.rowCount() == 2
        cells = [[tab.table.item(r, c).text() for c in range(tab.table.columnCount())] for r in range(2)]
        assert [c[1] for c in cells] == ["c1 · turn 1", "c1 · turn 2"] and [c[3] for c in cells] == ["cold", "keep"]
        assert cells[0][4].endswith("reused 0, prefilled " + cells[0][4].split()[1].rstrip(":"))
        reused = int(cells[1][4].split("reused ")[1].split(",")[0])
        assert reused > 0 and cells[1][2] == "SmolLM2"
    finally:
        tab.shutdown()


def test_a_bad_conversation_file_in_the_tab_is_one_sentence(qtbot, tmp_path):
    from gemmacompare.ui.bench_tab import BenchmarkTab

    bad = tmp_path / "bad.chat.jsonl"
    bad.write_text('{"id": "x", "turns": []}\n')
    tab = BenchmarkTab()
    qtbot.addWidget(tab)
    tab.set_models(["/nonexistent.gguf"])
    tab.suite_combo.insertItem(0, bad.name, str(bad))
    tab.suite_combo.setCurrentIndex(0)
    tab.start()
    assert tab.status_label.text() == "⚠ bad.chat.jsonl line 1: field 'turns' must be a non-empty list of texts."
    assert not tab.running
    tab.shutdown()


def test_a_saved_conversation_keeps_each_turn_replays_and_reruns_per_turn(demo_paths, tmp_path):
    from gemmacompare.engine.run_file import read_run_file

    chat = tmp_path / "one.jsonl"
    chat.write_text(json.dumps({"id": "c1", "system": "Be brief.", "turns": ["Say hi.", "Say bye."]}) + "\n")
    saved = tmp_path / "chat.gcrun"
    out = cli("compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), "--chat", str(chat), "-n", "4",
              "--mode", "fair", "--save-run", str(saved))
    assert out.returncode == 0, out.stderr
    run = read_run_file(saved)
    conv = run.conversation
    assert conv is not None and conv.id == "c1" and conv.cache == "keep" and conv.turns == ("Say hi.", "Say bye.")
    assert conv.system == "Be brief." and run.prompt == "Say bye." and run.system_prompt == "Be brief."
    assert [[t.cache for t in rows] for rows in conv.figures] == [["cold", "keep"]] * 2
    assert all(rows[1].n_reused and rows[1].n_reused > 0 for rows in conv.figures)
    # The models' records are the last turn: what replay and the viewer show.
    for k, m in enumerate(run.models):
        assert m.record.answer == conv.replies[k][1]
        use = m.record.finished.cache
        assert use.policy == "keep" and use.n_reused == conv.figures[k][1].n_reused
        assert m.record.prefill.n_reused == conv.figures[k][1].n_reused
        assert run.run_settings(k).prompt.cache == "keep"
    assert cli("replay", str(saved), "--speed", "100").returncode == 0

    rerun = cli("rerun", str(saved), "--json", str(tmp_path / "rerun.json"))
    assert rerun.returncode == 0, rerun.stderr
    assert "A conversation: the turn table sets every turn beside its recorded one" in rerun.stdout
    assert "turn  model  prompt there  prompt here  reused there  reused here" in rerun.stdout
    report = json.loads((tmp_path / "rerun.json").read_text())
    assert [(t["turn"], t["label"]) for t in report["turns"]] == [(1, "A"), (2, "A"), (1, "B"), (2, "B")]
    for t in report["turns"]:
        # The recorded replies are the history: every turn's prompt here is the one measured there.
        assert [m["n_prompt"] for m in t["measured"]] == [t["recorded"]["n_prompt"]]
        assert t["measured"][0]["cache"] == t["recorded"]["cache"]
    assert report["turns"][1]["measured"][0]["n_reused"] > 0


def test_compare_chat_saves_one_conversation_only(demo_paths, tmp_path):
    out = cli("compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), "--chat", "short-chats",
              "--save-run", str(tmp_path / "x.gcrun"))
    assert out.returncode == 2 and "--save-run keeps one conversation and short-chats has 4" in out.stderr


def test_a_reruns_run_files_of_a_conversation_keep_its_turns(demo_paths, tmp_path):
    from gemmacompare.engine.rerun import RerunJob, plan_rerun, save_rerun_files
    from gemmacompare.engine.run_file import read_run_file

    chat = tmp_path / "one.jsonl"
    chat.write_text(json.dumps({"id": "c2", "turns": ["Say hi.", "Say bye."]}) + "\n")
    saved = tmp_path / "chat.gcrun"
    out = cli("compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), "--chat", str(chat), "-n", "3",
              "--mode", "fair", "--save-run", str(saved))
    assert out.returncode == 0, out.stderr
    run = read_run_file(saved)
    plan = plan_rerun(run)
    measured = RerunJob(run, plan, 1).run()
    assert len(measured.turns) == 1 and [len(m) for m in measured.turns[0]] == [2, 2]
    [here] = save_rerun_files(run, plan, measured, tmp_path, "chat")  # as the gallery keeps this machine's runs
    again = read_run_file(here)
    assert again.conversation is not None and again.conversation.id == "c2"
    assert [[t.turn for t in rows] for rows in again.conversation.figures] == [[1, 2], [1, 2]]
    # The rerun kept the recorded replies in each history, so its file holds the same conversation.
    assert again.conversation.replies == run.conversation.replies and again.conversation.turns == run.conversation.turns


@pytest.mark.gui
def test_the_rerun_dialog_shows_a_conversations_turns(qtbot, demo_paths, tmp_path):
    from gemmacompare.engine.run_file import read_run_file
    from gemmacompare.ui.rerun_dialog import RerunDialog

    chat = tmp_path / "one.jsonl"
    chat.write_text(json.dumps({"id": "c3", "turns": ["Say hi.", "Say bye."]}) + "\n")
    saved = tmp_path / "chat.gcrun"
    out = cli("compare", str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), "--chat", str(chat), "-n", "3",
              "--mode", "fair", "--save-run", str(saved))
    assert out.returncode == 0, out.stderr
    dlg = RerunDialog(read_run_file(saved), saved.name)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=150_000):
        assert dlg.start()
    header = [dlg.table.horizontalHeaderItem(c).text() for c in range(dlg.table.columnCount())]
    assert header[:4] == ["turn", "model", "prompt there", "prompt here"]
    assert dlg.table.rowCount() == 4  # two turns of two models
    assert [dlg.table.item(r, 0).text() for r in range(4)] == ["1", "2", "1", "2"]
    assert dlg.table.item(1, 2).text() == dlg.table.item(1, 3).text()  # the recorded prompt, again
    assert "the turn table sets every turn beside its recorded one" in dlg.verdict.text()
