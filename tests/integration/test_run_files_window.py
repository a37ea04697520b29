"""Run files in the window: rerun on this machine, check a claim, a blind round saved and replayed.

Driven offscreen with the real demo models; the work is engine/rerun.py's and
engine/claim.py's, the same code as `gemmacompare rerun` and `claim`.
"""

from __future__ import annotations

import json
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from gemmacompare.engine.run_file import read_run_file, write_run_file
from tests.integration.test_gui import ask, make_window, set_short
from tests.integration.test_run_files import good_doc  # noqa: F401 - a fixture, used by name

pytestmark = pytest.mark.gui

RERUN_TIMEOUT_MS = 300_000


def _one_sentence(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text and "Traceback" not in text


def _header(viewer) -> str:
    return viewer.findChild(QLabel, "runHeader").text()


@pytest.fixture
def saved_window_run(qtbot, demo_paths, tmp_path):
    """A fair-mode round of the demo pair in the window, saved as a run file; yields (window, path)."""
    w = make_window(qtbot)
    try:
        w.fair_radio.setChecked(True)
        set_short(w, 12)
        ask(qtbot, w, "Name three colours.")
        path = tmp_path / "window.gcrun"
        assert w.save_run(str(path))
        yield w, path
    finally:
        w.close()


def test_rerun_from_the_viewer_puts_theirs_beside_ours(qtbot, saved_window_run):
    w, path = saved_window_run
    viewer = w.open_run(str(path))
    assert viewer is not None
    dlg = viewer.open_rerun()
    assert dlg.isVisible() and "nothing runs before that" in dlg.status.text()
    dlg.runs_spin.setValue(2)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=RERUN_TIMEOUT_MS):
        qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    assert "[A] found SmolLM2-135M-Instruct.Q4_1.gguf by its file hash" in dlg.plan_notes.text()
    assert "threads: recorded" in dlg.plan_notes.text() and "this machine's default" in dlg.plan_notes.text()
    headers = [dlg.table.horizontalHeaderItem(c).text() for c in range(dlg.table.columnCount())]
    assert headers == ["figure", "A there", "A here", "B there", "B here"]
    rows = {dlg.table.item(r, 0).text(): [dlg.table.item(r, c).text() for c in range(1, 5)]
            for r in range(dlg.table.rowCount())}
    assert set(rows) >= {"ms/token", "TTFT s", "time to answer s", "peak RSS MiB", "tokens"}
    run = read_run_file(path)
    for k, m in enumerate(run.models):
        there = m.record.stats()
        assert rows["ms/token"][2 * k] == f"{there.ms_per_token:.1f}"  # the recorded figure, as recorded
        assert rows["tokens"][2 * k] == f"{there.n_tokens}"
        assert float(rows["ms/token"][2 * k + 1].split()[0]) > 0  # measured here
    assert dlg.measured is not None and len(dlg.measured.runs) == 2
    verdict = dlg.verdict.text()
    assert "ms/token of B over A: there" in verdict and "95% interval" in verdict and "2 runs" in verdict
    # Same machine, same build, same settings: the greedy answers come back identical, and it says so.
    assert "A: the greedy answer is identical to the recorded one." in verdict
    assert "B: the greedy answer is identical to the recorded one." in verdict
    assert dlg.status.text().startswith("Done: 2 runs here")

    # Long work can be stopped: the rerun ends at once with what was measured, and the window stays up.
    dlg.runs_spin.setValue(40)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=RERUN_TIMEOUT_MS):
        dlg.start()
        assert dlg.running and not dlg.start_button.isEnabled() and dlg.stop_button.isEnabled()
        qtbot.waitUntil(lambda: dlg.status.text().startswith("Run 1/40"), timeout=RERUN_TIMEOUT_MS)
        qtbot.mouseClick(dlg.stop_button, Qt.MouseButton.LeftButton)
    assert not dlg.running and dlg.start_button.isEnabled()
    assert dlg.measured is not None and dlg.measured.stopped and len(dlg.measured.runs) < 40
    assert "stopped early" in dlg.status.text() or dlg.status.text().startswith("Stopped before a run finished")
    assert w.isVisible() and not w.busy
    dlg.close()
    viewer.close()


def test_a_missing_model_is_offered_from_the_hub_only_when_asked(qtbot, good_doc, tmp_path, monkeypatch):  # noqa: F811
    from gemmacompare.ui.rerun_dialog import RerunDialog

    good_doc["models"][1]["identity"].update(display_name="Nowhere 9B", file_name="not-here.gguf",
                                             source={"kind": "hub", "hub_repo": "org/nowhere-GGUF",
                                                     "hub_file": "not-here.gguf"})
    run = read_run_file(write_run_file(tmp_path / "missing.gcrun", good_doc))
    asked: list[str] = []

    def say_no(box):
        asked.append(box.text())
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "exec", say_no)
    dlg = RerunDialog(run, "missing.gcrun")
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=60_000):
        dlg.start()
    # A (alpha.gguf) is the first one looked for and is not here either, and its file names no repo.
    assert asked == [] and "A (alpha, alpha.gguf) is not on this machine" in dlg.status.text()
    assert _one_sentence(dlg.status.text()) and dlg.table.rowCount() == 0

    good_doc["models"][0] = json.loads(json.dumps(good_doc["models"][1]))
    good_doc["models"][0]["label"] = "A"
    run = read_run_file(write_run_file(tmp_path / "missing2.gcrun", good_doc))
    dlg = RerunDialog(run, "missing2.gcrun")
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=60_000):
        dlg.start()
    assert len(asked) == 1 and "org/nowhere-GGUF" in asked[0] and "Nothing is downloaded unless you say yes" in asked[0]
    assert "not downloaded, so nothing was run" in dlg.status.text() and _one_sentence(dlg.status.text())
    assert dlg.get_models is None and dlg.measured is None

    # Yes opens the Hub dialog on the recorded repo (the Hub is not reachable here: it says so there).
    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=60_000):
        dlg.start()
    assert dlg.get_models is not None and dlg.get_models.repo.text() == "org/nowhere-GGUF"
    dlg.get_models.close()


def test_a_run_that_cannot_be_rerun_gets_one_sentence_and_runs_nothing(qtbot, good_doc, tmp_path):  # noqa: F811
    from gemmacompare.ui.rerun_dialog import RerunDialog

    good_doc["prompt"] = None
    run = read_run_file(write_run_file(tmp_path / "redacted.gcrun", good_doc))
    dlg = RerunDialog(run, "redacted.gcrun")
    qtbot.addWidget(dlg)
    assert not dlg.start() and not dlg.running
    assert dlg.status.text() == "This run file leaves its prompts out, so it can be replayed but not rerun."
    good_doc["prompt"] = "hi"
    run = read_run_file(write_run_file(tmp_path / "ok.gcrun", good_doc))
    dlg = RerunDialog(run, "ok.gcrun", busy_reason=lambda: "A round is running in the window; wait for it.")
    qtbot.addWidget(dlg)
    assert not dlg.start() and not dlg.running and dlg.status.text().startswith("A round is running")


def test_check_a_claim_in_the_window_then_save_and_replay_it(qtbot, demo_paths, tmp_path):
    w = make_window(qtbot)
    try:
        action = next(a for a in w.menuBar().actions()[0].menu().actions() if a.text() == "Check a claim…")
        assert action.shortcut().toString() == "Ctrl+K"
        action.trigger()
        from gemmacompare.ui.claim_dialog import ClaimDialog

        dlg = w.findChild(ClaimDialog)
        assert dlg is not None and dlg.isVisible()
        # The models in the panes are the default pair.
        assert [b.currentData() for b in dlg.model_boxes] == [p.model_path for p in w.panes]
        assert not dlg.save_button.isEnabled()
        # Bad input: one sentence each, nothing runs.
        for a, b, want in (("", "110", "Type the claimed figure for A as a number, e.g. 45."),
                           ("fast", "110", "Type the claimed figure for A as a number, e.g. 45 (not 'fast')."),
                           ("45", "0", "The claimed figure for B must be above zero.")):
            dlg.figure_edits[0].setText(a)
            dlg.figure_edits[1].setText(b)
            assert not dlg.start() and not dlg.running
            assert dlg.status.text() == want
        dlg.name_edits[1].setText("A")
        dlg.figure_edits[0].setText("45")
        dlg.figure_edits[1].setText("110")
        assert not dlg.start() and dlg.status.text() == "Give the two models different names in the claim."
        dlg.name_edits[1].setText("B")

        # A claim far from anything this machine measures: B 1000 times slower per token than A
        # (50 times once fell inside a 3-run interval on a machine busy with other work).
        dlg.figure_edits[0].setText("2")
        dlg.figure_edits[1].setText("2000")
        dlg.runs_spin.setValue(3)
        dlg.tokens_spin.setValue(16)
        with qtbot.waitSignal(dlg.checked, timeout=RERUN_TIMEOUT_MS):
            qtbot.mouseClick(dlg.check_button, Qt.MouseButton.LeftButton)
        result = dlg.claim_result
        assert result is not None and len(result.per_run_ms) == 3 and all(all(x > 0 for x in r)
                                                                           for r in result.per_run_ms)
        verdict = dlg.verdict.text()
        assert re.match(r"The claim does not hold on this machine(, but the runs are unreliable [^:]*)?: B/A claimed "
                        r"1000\.00 lies outside the measured 95% interval", verdict), verdict
        assert "3 fair runs" in verdict and "A " in verdict and "ms/token (claimed 2.0)" in verdict
        assert _one_sentence(verdict) and dlg.save_button.isEnabled()
        # The same figures as the shared code gives: the window shows engine/claim.py's sentence.
        from gemmacompare.engine.claim import verdict_sentence

        assert verdict == verdict_sentence(result.claim, result.per_run_ms, result.tokens, result.busy)

        path = tmp_path / "claim.gcrun"
        assert dlg.save_run(path) and "Saved claim.gcrun" in dlg.status.text()
        run = read_run_file(path)
        assert run.claim is not None and run.claim["verdict"] == verdict
        assert run.claim["runs_ms_per_token"] == result.per_run_ms and run.mode == "fair"
        assert str(tmp_path) not in path.read_text() and str(demo_paths["smollm2"]) not in path.read_text()
        assert not dlg.save_run(tmp_path / "no-folder" / "x.gcrun")
        assert dlg.status.text().startswith("Could not write x.gcrun")
        viewer = w.open_run(str(path))
        assert viewer is not None and verdict in _header(viewer)
        viewer.close()
        dlg.close()
    finally:
        w.close()


def test_a_blind_round_saved_from_the_arena_replays_with_its_figures(qtbot, demo_paths, tmp_path):
    from gemmacompare.ui.arena_blind import SIDE_NAMES
    from tests.integration.test_arena_gui import ask_blind
    from tests.integration.test_arena_gui import make_window as make_arena_window

    w = make_arena_window(qtbot, seed=3)
    try:
        qtbot.keyClick(w.prompt, Qt.Key.Key_F8)
        assert w.arena.active and not w.arena.bar.save_button.isEnabled()
        ask_blind(qtbot, w, "Name a colour.")
        assert not w.arena.bar.save_button.isEnabled()
        assert not w.save_run(str(tmp_path / "early.gcrun")) and "Vote first" in w.banner.text()
        qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_2)
        r = w.arena.round
        assert r.voted and w.arena.bar.save_button.isEnabled()
        path = tmp_path / "round.gcrun"
        assert w.save_run(str(path))
        run = read_run_file(path)
        assert run.arena is not None and run.arena["sides"] == [p.label for p in r.order]
        assert run.arena["votes"] == {"one": 0, "two": 1, "tie": 0, "both_bad": 0}
        assert run.arena["side_names"] == list(SIDE_NAMES) and run.prompt == "Name a colour."
        assert [m.label for m in run.models] == [p.label for p in r.order]
        viewer = w.open_run(str(path))
        assert viewer is not None
        header = _header(viewer)
        assert "A blind arena round: vote 2 is better;" in header
        for side, pane in zip(SIDE_NAMES, r.order):
            assert f"{side} was {pane.display_name}" in header
        with qtbot.waitSignal(viewer.finished, timeout=30_000):
            qtbot.keyClick(viewer, Qt.Key.Key_Escape)
        # The replayed figures are the source's: answers, ms/token, TTFT, tokens, time to answer.
        for shown, live in zip(viewer.panes, r.order):
            a, b = shown.record.stats(), live.record.stats()
            assert shown.reply.answer.text == live.record.answer
            assert a.n_tokens == b.n_tokens and a.stop_reason == b.stop_reason
            # The file keeps times to the microsecond: a figure read back is within a few of them.
            for key, tol in (("ms_per_token", 3e-3), ("ttft_s", 3e-6), ("time_to_answer_s", 3e-6), ("total_s", 3e-6)):
                assert getattr(a, key) == pytest.approx(getattr(b, key), abs=tol), key
            assert f"{b.ms_per_token:.0f} ms/token" in shown.reply.stats.text()
        assert viewer.banner.text().startswith("Recorded: ")
        viewer.close()
        # A new round closes the saving of the old one.
        qtbot.mouseClick(w.arena.bar.new_button, Qt.MouseButton.LeftButton)
        assert not w.arena.bar.save_button.isEnabled()
    finally:
        w.close()


def test_the_file_menu_offers_rerun_and_claim_with_shortcuts(qtbot, demo_paths):
    w = make_window(qtbot, wait_ready=False)
    try:
        acts = {a.text(): a.shortcut().toString() for a in w.menuBar().actions()[0].menu().actions()}
        assert acts["Rerun a run file on this machine…"] == "Ctrl+Shift+U" and acts["Check a claim…"] == "Ctrl+K"
        assert w.busy_reason() == ""
    finally:
        w.close()



def test_the_claim_dialog_refuses_infinite_figures_and_holds_its_fields_during_a_check(qtbot, demo_paths):
    from gemmacompare.ui.claim_dialog import ClaimDialog

    choices = [("SmolLM2", str(demo_paths["smollm2"])), ("Gemma", str(demo_paths["gemma3"]))]
    dlg = ClaimDialog(choices, [c[1] for c in choices])
    qtbot.addWidget(dlg)
    for figure in ("inf", "1e309", "nan", "-inf"):
        dlg.figure_edits[0].setText("45")
        dlg.figure_edits[1].setText(figure)
        assert not dlg.start() and not dlg.running
        said = dlg.status.text()
        assert said in ("The claimed figure for B must be a number, not infinite or 'nan'.",
                        "The claimed figure for B must be above zero."), said
    dlg.figure_edits[1].setText("1e-9")
    assert not dlg.start() and "is no model's speed" in dlg.status.text()
    assert dlg.figure_edits[0].maxLength() <= 40  # a 10 MB paste is cut at the field

    dlg.figure_edits[0].setText("45")
    dlg.figure_edits[1].setText("110")
    dlg.runs_spin.setValue(3)
    dlg.tokens_spin.setValue(4)
    with qtbot.waitSignal(dlg.checked, timeout=RERUN_TIMEOUT_MS):
        assert dlg.start() and dlg.running
        # What is being checked stays on screen: no field can change under a running check.
        assert all(e.isReadOnly() for e in (*dlg.figure_edits, *dlg.name_edits))
        assert not any(w.isEnabled() for w in (*dlg.model_boxes, *dlg.unit_boxes, dlg.runs_spin))
    assert not any(e.isReadOnly() for e in dlg.figure_edits) and dlg.runs_spin.isEnabled()
    verdict = dlg.verdict.text()
    assert verdict and "interval 0.00-" not in verdict and _one_sentence(verdict)


def test_run_file_dialogs_start_in_the_documents_then_the_last_folder_used(qtbot, good_doc, tmp_path,  # noqa: F811
                                                                          monkeypatch):
    import os

    from PySide6.QtWidgets import QFileDialog

    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.run_viewer import RunViewer

    asked: list[tuple[str, str]] = []

    def dialog(answer: str):
        return lambda parent, title, start, *a, **k: asked.append((title, start)) or (answer, "")

    w = make_window(qtbot, wait_ready=False)
    try:
        monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog(""))
        w.files.open_run_dialog()
        start = asked[-1][1]
        assert start and not start.startswith(os.getcwd()) and start.startswith(os.environ["HOME"])
        run = tmp_path / "runs" / "theirs.gcrun"
        run.parent.mkdir()
        write_run_file(run, good_doc)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog(str(run)))
        w.files.open_run_dialog()  # picked: its folder is remembered
        viewers = w.findChildren(RunViewer)
        assert len(viewers) == 1
        viewers[0].close()
        monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog(""))
        w.files.rerun_dialog()
        monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog(""))
        w.files.save_run_dialog()
        assert asked[-2] == ("Rerun a run file on this machine", str(run.parent))
        assert asked[-1][0] == "Save run" and asked[-1][1].startswith(str(run.parent))
        assert load_settings().settings.run_folder == str(run.parent)  # and after a restart
    finally:
        w.close()


def test_the_viewer_opens_over_the_window_gives_the_answers_the_height_and_says_a_busy_machine(
        qtbot, good_doc, tmp_path):  # noqa: F811
    good_doc["models"][1]["stats"] = {"machine_busy": True, "other_cpu_cores": 1.26}
    run = write_run_file(tmp_path / "busy.gcrun", good_doc)
    w = make_window(qtbot, wait_ready=False)
    try:
        viewer = w.files.open_run(str(run))
        qtbot.waitExposed(viewer)
        assert "other programs used 1.3 cores during B's run" in _header(viewer)
        with qtbot.waitSignal(viewer.finished, timeout=20_000):
            viewer.jump_to_end()
        assert "other programs used 1.3 cores: unreliable" in viewer.panes[1].reply.stats.text()
        assert "unreliable" not in viewer.panes[0].reply.stats.text()
        assert "1.3 cores during B's run" in viewer.banner.text()
        centre, over = viewer.frameGeometry().center(), w.frameGeometry().center()
        # Centred on the window, as far as its own least size lets it stay on the (800 × 800) screen.
        assert abs(centre.x() - over.x()) <= 40 and abs(centre.y() - over.y()) <= 40
        answers, charts = viewer.split.sizes()
        assert answers >= 2 * charts and viewer.panes[0].chat.height() > 200
        viewer.close()
    finally:
        w.close()
