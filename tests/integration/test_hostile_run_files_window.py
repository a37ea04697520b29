"""Strangers' run files in the window (issue 30): Open run, the replay viewer and the rerun dialog.

Each file of tests/hostile_run_files.py's corpus is opened with the window's
own Open run: a file the reader refuses gives one sentence in the banner; one
it takes opens in the viewer, which plays to its end within a time and memory
bound. Everything a stranger wrote is plain text there, bidi controls shown
as escapes, never obeyed.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from tests.hostile_run_files import BIDI, REFUSED, hostile_run_files
from tests.integration.test_gui import make_window
from tests.integration.test_remote_hostile import PeakRSS

pytestmark = pytest.mark.gui

SECONDS_BOUND = 30.0
MEMORY_BOUND = 600 << 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return hostile_run_files(tmp_path_factory.mktemp("hostile-runs-window"))


def _labels_show_plain_text(widget) -> None:
    """Every label holding a stranger's markup shows it as plain text; none holds a raw bidi override."""
    for label in widget.findChildren(QLabel):
        text = label.text()
        if "<h1>" in text or "<b>bold" in text:
            assert label.textFormat() == Qt.TextFormat.PlainText, (label.objectName(), text[:120])
        assert "\u202e" not in text, (label.objectName(), text[:120])


def test_every_hostile_file_through_open_run_and_the_viewer(qtbot, corpus):
    w = make_window(qtbot, wait_ready=False)
    try:
        for case, (path, expected) in corpus.items():
            with PeakRSS() as peak:
                t0 = time.monotonic()
                viewer = w.open_run(str(path))
                if viewer is not None:
                    viewer.jump_to_end()
                    qtbot.wait(50)  # a chart redraw at the end
                took = time.monotonic() - t0
            assert took < SECONDS_BOUND and peak.growth < MEMORY_BOUND, (case, took, peak.growth)
            if expected == REFUSED:
                assert viewer is None, case
                sentence = w.banner.text()
                assert sentence and "\n" not in sentence and "Traceback" not in sentence, (case, sentence)
                assert "was not opened" in sentence or "not read" in sentence, (case, sentence)
                assert w.banner.textFormat() == Qt.TextFormat.PlainText
            else:
                assert viewer is not None, (case, w.banner.text())
                _labels_show_plain_text(viewer)
                header = viewer.findChild(QLabel, "runHeader").text()
                assert "\u202e" not in header and "\x1b" not in header
                viewer.close()
            w.banner.setText("")
    finally:
        w.close()


def test_the_pull_question_shows_a_files_words_as_plain_text(qtbot, corpus, monkeypatch):
    from gemmacompare.engine.run_file import read_run_file
    from gemmacompare.ui.rerun_dialog import RerunDialog

    asked: list[QMessageBox] = []

    def say_no(box: QMessageBox) -> int:
        asked.append(box)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "exec", say_no)
    dlg = RerunDialog(read_run_file(corpus["markup-and-bidi"][0]), "markup.gcrun")
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.finished_rerun, timeout=60_000):
        dlg.start()
    assert len(asked) == 1
    box = asked[0]
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert "org/good-repo" in box.text() and "<h1>" in box.text()  # shown as the characters it is, not a heading
    assert "\u202e" not in box.text()
    _labels_show_plain_text(dlg)
    assert BIDI[:4] in dlg.findChild(QLabel, "rerunIntro").text()
