"""File ▸ Open gallery… in the window: the table sorts and filters, the chart follows, a double-click replays."""

from __future__ import annotations

import os
from pathlib import Path
from statistics import geometric_mean

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel

from gemmacompare.engine.run_file import read_run_file
from gemmacompare.ui.gallery_dialog import GalleryDialog
from gemmacompare.ui.run_viewer import RunViewer
from tests.gallery_files import GPU_BOX, OLD_LAPTOP, model_part, run_doc, write
from tests.integration.test_gui import make_window

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
SMOL, GEMMA = "SmolLM2-135M-Instruct", "Gemma-3-270M"
HOSTILE = "<b>big</b>\u202eevil"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    write(d / "gpu-1.gcrun", run_doc(GPU_BOX, [model_part(SMOL, "aaaa", 10.0, backend="CUDA0"),
                                               model_part(GEMMA, "bbbb", 20.0, label="B", backend="CUDA0")]))
    write(d / "gpu-2.gcrun", run_doc(GPU_BOX, [model_part(SMOL, "aaaa", 12.0, backend="CUDA0")]))
    write(d / "laptop.gcrun", run_doc(OLD_LAPTOP, [model_part(SMOL, "aaaa", 40.0),
                                                   model_part(GEMMA, "bbbb", 90.0, label="B")]))
    write(d / "claim.gcrun", run_doc(OLD_LAPTOP, [model_part(SMOL, "aaaa", 30.0, threads=8)],
                                     claim_ms=[[30.0], [32.0], [34.0]]))
    write(d / "hostile-name.gcrun", run_doc(GPU_BOX, [model_part(HOSTILE, "cccc", 7.0)]))
    (d / "cut.gcrun").write_text('{"format": "gemmacompare-run", "sch')
    return d


def _column(dlg: GalleryDialog, name: str) -> list[str]:
    from gemmacompare.bench.gallery import COLUMNS

    c = COLUMNS.index(name)
    return [dlg.table.item(r, c).text() for r in range(dlg.table.rowCount()) if not dlg.table.isRowHidden(r)]


def test_gallery_dialog_sorts_filters_charts_and_replays(qtbot, folder, monkeypatch):
    w = make_window(qtbot)
    try:
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
        action = next(a for a in w.menuBar().actions()[0].menu().actions() if a.text() == "Open gallery…")
        action.trigger()
        dlg = w.findChild(GalleryDialog)
        assert dlg is not None and dlg.isVisible()
        assert dlg.table.rowCount() == 6  # SmolLM2 on the GPU box from two files is one row
        assert "cut.gcrun is not valid JSON" in dlg.not_opened.text() and dlg.not_opened.isVisible()
        assert dlg.findChild(QLabel, "galleryNotOpened").textFormat() == Qt.TextFormat.PlainText
        # Strangers' names: markup stays text, a bidi override is shown as an escape.
        models = _column(dlg, "model")
        assert any(m.startswith("<b>big</b>\\u202eevil") for m in models)
        assert not any("\u202e" in m for m in models)

        # Sorting by ms/token: by number, not by text (9 < 10 < 11, where text puts "11.0" before "9.0").
        from gemmacompare.bench.gallery import COLUMNS

        dlg.table.sortItems(COLUMNS.index("ms/token"), Qt.SortOrder.AscendingOrder)
        means = [float(x.split()[0]) for x in _column(dlg, "ms/token")]
        # (11.0: 10 and 12's geometric mean, shown to one decimal)
        assert means == sorted(means) and means[0] == pytest.approx(7.0) and means[1] == pytest.approx(11.0, abs=0.05)

        # The filter box hides other rows; the chart shows what is left for its model.
        dlg.model_box.setCurrentIndex(dlg.model_box.findData(SMOL))
        expected = [geometric_mean([10.0, 12.0]), geometric_mean([30.0, 32.0, 34.0]), 40.0]
        assert dlg.chart.means == pytest.approx(expected)  # in the table's order
        qtbot.keyClicks(dlg.filter_box, "cuda")
        assert {r.backend for r in dlg.visible_rows()} == {"CUDA0"} and len(dlg.visible_rows()) == 2
        assert dlg.chart.means == pytest.approx([geometric_mean([10.0, 12.0])]) and "CUDA0" in dlg.chart.labels[0]
        qtbot.keyClicks(dlg.filter_box, " nothing")  # no bars: no machine names either
        assert dlg.chart.means == [] and dlg.chart.getAxis("left")._tickLevels in ([[]], [])
        dlg.filter_box.setText("cuda")
        if os.environ.get("GEMMACOMPARE_SCREENSHOTS"):
            dlg.filter_box.clear()
            dlg.resize(1200, 720)  # a desktop's size (the offscreen screen is 800 x 800)
            qtbot.wait(50)
            dlg.grab().save(str(ROOT / "docs" / "gallery-window.png"))
            qtbot.keyClicks(dlg.filter_box, "cuda")

        # A second model: the chart becomes the pair's ratio per machine, with the claim as a line.
        dlg.filter_box.clear()
        dlg.pair_box.setCurrentIndex(dlg.pair_box.findData(GEMMA))
        dlg.claimed.setValue(2.4)
        assert dlg.ratio_chart.isVisible() and not dlg.chart.isVisible()
        ratios = sorted([20.0 / geometric_mean([10.0, 12.0]), 90.0 / 40.0])
        assert sorted(dlg.ratio_chart.ratios) == pytest.approx(ratios)
        lines = [i for i in dlg.ratio_chart.getPlotItem().items if isinstance(i, pg.InfiniteLine)]
        assert [line.value() for line in lines] == [pytest.approx(2.4)]
        dlg.pair_box.setCurrentIndex(0)
        assert dlg.chart.isVisible() and not dlg.ratio_chart.isVisible()
        qtbot.keyClicks(dlg.filter_box, "cuda")

        # A double-click on a row opens its run file in the run viewer.
        t = next(r for r in range(dlg.table.rowCount()) if not dlg.table.isRowHidden(r)
                 and dlg.row_at(r).model == GEMMA)
        rect = dlg.table.visualItemRect(dlg.table.item(t, 0))
        qtbot.mouseClick(dlg.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a double-click's press
        qtbot.mouseDClick(dlg.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        viewers = [v for v in w.findChildren(RunViewer) if v.isVisible()]
        assert len(viewers) == 1 and viewers[0].windowTitle().find("gpu-1.gcrun") >= 0
        viewers[0].close()
        dlg.close()
    finally:
        w.close()


def test_rerun_on_this_machine_adds_this_machines_row(qtbot, demo_paths, tmp_path):
    """A demo pair's run file, edited to come from another machine, rerun here from the gallery: the
    rerun dialog (progress, Stop) measures it, and this machine's rows join the table, their runs saved."""
    import json

    from gemmacompare.bench.gallery import machine_text
    from gemmacompare.engine.machine import machine_facts
    from gemmacompare.ui.gallery_dialog import open_gallery
    from gemmacompare.ui.rerun_dialog import RerunDialog
    from tests.integration.test_gui import ask, set_short

    w = make_window(qtbot)
    try:
        set_short(w, 8)
        ask(qtbot, w, "Name three colours.")
        here = tmp_path / "here.gcrun"
        assert w.save_run(str(here))
        d = tmp_path / "runs"
        d.mkdir()
        doc = json.loads(here.read_text())
        doc["machine"].update(cpu_model="Someone's Other CPU", cpu_cores=64, cpu_threads=128, gpu="none")
        (d / "theirs.gcrun").write_text(json.dumps(doc))
        write(d / "laptop.gcrun", run_doc(OLD_LAPTOP, [model_part(SMOL, "aaaa", 40.0)]))
        dlg = open_gallery([str(d)], w, w.files.open_run, w.busy_reason)
        dlg.rerun_folder = tmp_path / "mine"
        assert dlg.table.rowCount() == 3 and not dlg.rerun_button.isEnabled()  # no row chosen yet
        assert dlg.rerun_row(-1) is None  # no row: a sentence, no dialog
        assert dlg.rerun_note.text() == "Choose a row first: its run file is the one rerun here."

        # A hand-made file whose model is on no machine here: one sentence in the rerun dialog, no row added.
        dlg.table.selectRow(next(t for t in range(3) if "laptop.gcrun" in dlg.row_at(t).files))
        assert dlg.rerun_button.isEnabled()
        dlg.rerun_button.click()
        missing = dlg.findChild(RerunDialog)
        assert missing is not None and missing.file_name == "laptop.gcrun"
        with qtbot.waitSignal(missing.finished_rerun, timeout=60_000):
            missing.start()
        assert "is not on this machine" in missing.status.text() and dlg.table.rowCount() == 3
        missing.close()
        qtbot.waitUntil(lambda: dlg.rerun_dialog is None)

        theirs = next(t for t in range(3) if "theirs.gcrun" in dlg.row_at(t).files)
        dlg.table.selectRow(theirs)
        assert dlg.model_box.currentData() == dlg.row_at(theirs).model  # the chart follows the chosen row
        assert dlg.chart.means and "Someone's Other CPU" in dlg.chart.labels[0]
        dlg.rerun_button.click()
        rerun = dlg.rerun_dialog
        assert rerun is not None and rerun.isVisible() and rerun.file_name == "theirs.gcrun"
        rerun.runs_spin.setValue(2)
        with qtbot.waitSignal(rerun.finished_rerun, timeout=300_000):
            qtbot.mouseClick(rerun.start_button, Qt.MouseButton.LeftButton)
            assert not dlg.rerun_button.isEnabled()  # one rerun at a time
        assert rerun.status.text().startswith("Done: 2 runs here")

        # This machine's rows: one per model, each with both repetitions, saved as run files.
        assert dlg.table.rowCount() == 5
        mine = machine_text(machine_facts().to_dict())
        rows = [r for r in dlg.gallery.rows if r.machine == mine]
        assert sorted(r.model for r in rows) == sorted(m.display_name for m in read_run_file(d / "theirs.gcrun").models)
        assert all(len(r.runs) == 2 and r.ms_per_token is not None and r.ms_per_token.n == 2 for r in rows)
        saved = sorted((tmp_path / "mine").glob("*.gcrun"))
        assert len(saved) == 2 and all(read_run_file(p).kind == "compare" for p in saved)
        assert "Rerun here: 2 runs of theirs.gcrun added as this machine's row" in dlg.rerun_note.text()
        chosen = dlg.table.selectedItems()
        assert chosen and dlg.row_at(chosen[0].row()).machine == mine
        # The pair's ratio chart now has a dot for their machine and one for this one.
        models = sorted({r.model for r in rows})
        dlg.model_box.setCurrentIndex(dlg.model_box.findData(models[0]))
        dlg.pair_box.setCurrentIndex(dlg.pair_box.findData(models[1]))
        assert len(dlg.ratio_chart.ratios) == 2 and any(lab.startswith("Someone's Other CPU")
                                                        for lab in dlg.ratio_chart.labels)
        assert dlg.rerun_button.isEnabled()
        rerun.close()
        dlg.close()
    finally:
        w.close()


def test_the_gallery_fits_a_small_screen(qtbot, folder):
    from gemmacompare.ui.gallery_dialog import open_gallery

    w = make_window(qtbot, wait_ready=False)
    try:
        dlg = open_gallery([str(folder)], w, lambda _path: None)
        screen = w.screen().availableGeometry()  # offscreen: 800 x 800, smaller than the dialog's 1200 x 720
        assert dlg.width() <= screen.width() - 40 and dlg.height() <= screen.height() - 60
        assert screen.contains(dlg.frameGeometry().topLeft())
        dlg.close()
    finally:
        w.close()
