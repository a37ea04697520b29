"""File ▸ Open gallery…: many run files as one sortable, filterable table and a ms/token chart per machine.

The gallery itself (reading, grouping, counting once) is bench/gallery.py, the
same as `gemmacompare gallery`; this dialog only shows it. Every text from a file
goes through safe_cell (control and bidi characters shown as escapes) into plain
text items. A double-click opens the row's run file in the run viewer; *Rerun on
this machine* reruns the chosen row's run file here (the rerun dialog of
engine/rerun.py, with its progress and Stop) and adds this machine's row: each
repetition is saved as a run file in the app's data folder, ready to share.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.bench.gallery import (
    COLUMNS,
    Gallery,
    GalleryRow,
    add_files,
    build_gallery,
    chart_label,
    not_opened_lines,
    ratio_points,
    row_cells,
    safe_cell,
)
from gemmacompare.engine.api import RerunRefused, RunFileError, check_rerunnable, read_run_file, save_rerun_files
from gemmacompare.state.paths import app_dirs, private_dir

from .charts import style_plots
from .plain_label import plain_label, widget_text
from .rerun_dialog import RerunDialog

log = logging.getLogger(__name__)

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
# The columns that sort by number, and the figure each sorts by.
_NUMBERS: dict[str, Callable[[GalleryRow], float | None]] = {
    "ms/token": lambda r: r.ms_per_token.mean if r.ms_per_token else None,
    "prefill t/s": lambda r: r.prefill_tps.mean if r.prefill_tps else None,
    "TTFT s": lambda r: r.ttft_s.mean if r.ttft_s else None,
    "peak RAM": lambda r: float(r.peak_rss) if r.peak_rss else None,
}


class _Item(QTableWidgetItem):
    """A cell that sorts by its number where it has one (missing figures last), by text otherwise."""

    def __init__(self, text: str, number: float | None = None) -> None:
        super().__init__(text)
        self.number = number
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _Item) and (self.number is not None or other.number is not None):
            if self.number is None or other.number is None:
                return self.number is not None
            return self.number < other.number
        return self.text().lower() < other.text().lower()


class MsPerMachineChart(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """ms/token per machine for one model: a horizontal bar per row, the 95% interval as a whisker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, title="ms/token per machine")
        # The app's look (light, dark) is the palette's: a dark window background means dark charts.
        style_plots((self,), self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.setLabel("bottom", "ms/token (shorter is faster)")
        self.labels: list[str] = []
        self.means: list[float] = []

    def show_model(self, model: str, rows: list[GalleryRow]) -> None:
        self.clear()
        bars = [(r, iv) for r in rows if r.model == model and (iv := r.ms_per_token)]
        self.labels = [safe_cell(chart_label(r)) for r, _ in bars]
        self.means = [iv.mean for _, iv in bars]
        self.setTitle(f"{safe_cell(model)}: ms/token per machine" if bars else "ms/token per machine")
        if not bars:
            self.getAxis("left").setTicks([[]])  # no bars: no machine names left from the last model
            return
        ys = np.arange(len(bars), dtype=float)
        self.addItem(pg.BarGraphItem(x0=0, y=ys, height=0.6, width=np.array(self.means), brush="#4a7bd0", pen=None))
        with_iv = [(y, iv) for y, (_, iv) in zip(ys, bars) if iv.low is not None and iv.high is not None]
        if with_iv:
            x = np.array([iv.mean for _, iv in with_iv])
            self.addItem(pg.ErrorBarItem(x=x, y=np.array([y for y, _ in with_iv]),
                                         left=x - np.array([max(iv.low or 0.0, 0.0) for _, iv in with_iv]),
                                         right=np.array([iv.high or 0.0 for _, iv in with_iv]) - x, beam=0.25))
        self.getAxis("left").setTicks([[(float(y), label) for y, label in zip(ys, self.labels)]])


class RatioChart(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """B's ms/token over A's per machine: a dot each, its 95% interval as a whisker, the claim as a dashed line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, title="ms/token ratio per machine")
        style_plots((self,), self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.setLabel("bottom", "ratio of ms/token (B over A)")
        self.ratios: list[float] = []
        self.labels: list[str] = []

    def show_pair(self, model_a: str, model_b: str, rows: list[GalleryRow], claimed: float | None) -> None:
        self.clear()
        points = ratio_points(rows, model_a, model_b)
        self.ratios = [pt.ratio.mean for pt in points]
        self.labels = [safe_cell(pt.label) for pt in points]
        self.setTitle(f"{safe_cell(model_b)} over {safe_cell(model_a)}: ms/token ratio per machine")
        ys = np.arange(len(points), dtype=float)
        if points:
            self.addItem(pg.ScatterPlotItem(x=np.array(self.ratios), y=ys, size=10, brush="#c8553d", pen=None))
            with_iv = [(y, pt.ratio) for y, pt in zip(ys, points) if pt.ratio.low is not None]
            if with_iv:
                x = np.array([iv.mean for _, iv in with_iv])
                self.addItem(pg.ErrorBarItem(x=x, y=np.array([y for y, _ in with_iv]),
                                             left=x - np.array([iv.low or 0.0 for _, iv in with_iv]),
                                             right=np.array([iv.high or 0.0 for _, iv in with_iv]) - x, beam=0.25))
        if claimed:
            self.addItem(pg.InfiniteLine(pos=claimed, angle=90, label=f"claimed {claimed:g}x",
                                         pen=pg.mkPen("#c8553d", style=Qt.PenStyle.DashLine)))
        self.getAxis("left").setTicks([[(float(y), label) for y, label in zip(ys, self.labels)]])


class GalleryDialog(QDialog):
    """The gallery's table (sortable, filter box), its not-opened list and the chart for a chosen model."""

    run_requested = Signal(str)  # the path of a run file to open in the run viewer

    def __init__(self, gallery: Gallery, parent: QWidget | None = None,
                 busy_reason: Callable[[], str] | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.busy_reason = busy_reason or (lambda: "")  # the main window says when the machine is taken
        self.rerun_dialog: RerunDialog | None = None
        self.rerun_folder: Path | None = None  # where this machine's runs go; the app's data folder unless set
        self.setWindowTitle("Gallery of run files")
        self.resize(1200, 720)
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter by model, machine or backend")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self._apply_filter)
        self.model_box = QComboBox()
        # A second model makes the chart the pair's ratio per machine (the seed's "2.4x"), with the claim as a line.
        self.pair_box = QComboBox()
        self._fill_models()
        self.model_box.currentIndexChanged.connect(self._draw_chart)
        self.pair_box.currentIndexChanged.connect(self._draw_chart)
        self.claimed = QDoubleSpinBox()
        self.claimed.setRange(0.0, 1000.0)
        self.claimed.setDecimals(2)
        self.claimed.setSpecialValueText("no claim")
        self.claimed.setSuffix("x")
        self.claimed.valueChanged.connect(self._draw_chart)
        # The table's controls over the table, the chart's over the chart: one row of both did not fit
        # a 1024-pixel screen.
        top = QHBoxLayout()
        top.addWidget(self.filter_box, 1)
        self.rerun_button = QPushButton("&Rerun on this machine…")
        self.rerun_button.setToolTip("Runs the chosen row's run file here with its settings, then adds this "
                                     "machine's row to the table")
        top.addWidget(self.rerun_button)
        chart_row = QHBoxLayout()
        chart_row.addWidget(QLabel("Chart:"))
        chart_row.addWidget(self.model_box, 1)
        chart_row.addWidget(QLabel("ratio over it of:"))
        chart_row.addWidget(self.pair_box, 1)
        chart_row.addWidget(QLabel("claimed:"))
        chart_row.addWidget(self.claimed)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setWordWrap(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._on_row_chosen)
        self.table.cellDoubleClicked.connect(self._open_row)
        self.rerun_button.clicked.connect(lambda: self.rerun_row(self.table.currentRow()))
        self.chart = MsPerMachineChart()
        self.ratio_chart = RatioChart()
        self.ratio_chart.hide()
        charts = QWidget()
        chart_lay = QVBoxLayout(charts)
        chart_lay.setContentsMargins(0, 0, 0, 0)
        chart_lay.addLayout(chart_row)
        chart_lay.addWidget(self.chart, 1)
        chart_lay.addWidget(self.ratio_chart, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(charts)
        split.setSizes([400, 280])

        self.summary = plain_label("")
        self.summary.setObjectName("gallerySummary")
        self.not_opened = plain_label("")
        self.not_opened.setObjectName("galleryNotOpened")
        self.rerun_note = plain_label("")  # what a rerun here added, or why it could not run
        self.rerun_note.setObjectName("galleryRerunNote")

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.rerun_note)
        lay.addWidget(split, 1)
        lay.addWidget(self.not_opened)
        self._fill()
        self._draw_chart()

    def _describe(self) -> None:
        gallery = self.gallery
        dups = [f"{safe_cell(a)} (the same as {safe_cell(b)})" for a, b in gallery.duplicates]
        summary = (f"{gallery.n_files} run files, {len(gallery.rows)} rows. Double-click a row to replay its run; "
                   "choose one and press Rerun on this machine to add yours.")
        if dups:
            summary += " Counted once: " + "; ".join(dups) + "."
        self.summary.setText(summary)
        lines = not_opened_lines(gallery)
        self.not_opened.setText("Not opened:\n" + "\n".join(lines) if lines else "")
        self.not_opened.setVisible(bool(lines))

    def _fill_models(self) -> None:
        """The chart's model choices, keeping the ones chosen."""
        for box, first in ((self.model_box, None), (self.pair_box, "(no second model)")):
            chosen = box.currentData()
            box.blockSignals(True)
            box.clear()
            if first:
                box.addItem(first, None)
            for model in self.gallery.models():
                box.addItem(safe_cell(model), model)
            box.setCurrentIndex(max(box.findData(chosen), 0) if chosen is not None else 0)
            box.blockSignals(False)

    def _fill(self) -> None:
        self._describe()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.gallery.rows))
        for r, row in enumerate(self.gallery.rows):
            for c, (col, text) in enumerate(zip(COLUMNS, row_cells(row))):
                number = _NUMBERS[col](row) if col in _NUMBERS else None
                item = _Item(safe_cell(text), number)
                if c == 0:
                    item.setData(ROW_ROLE, r)
                item.setToolTip(safe_cell(text))
                if col in _NUMBERS:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.sortItems(COLUMNS.index("model"), Qt.SortOrder.AscendingOrder)
        self.table.resizeColumnsToContents()
        for c in range(len(COLUMNS)):
            self.table.setColumnWidth(c, min(self.table.columnWidth(c), 260))
        self.table.resizeRowsToContents()
        self._update_rerun_button()

    def row_at(self, table_row: int) -> GalleryRow:
        """The gallery row shown in this table row (the table may be sorted)."""
        item = self.table.item(table_row, 0)
        assert item is not None  # every row is filled in _fill
        return self.gallery.rows[int(item.data(ROW_ROLE))]

    def visible_rows(self) -> list[GalleryRow]:
        return [self.row_at(t) for t in range(self.table.rowCount()) if not self.table.isRowHidden(t)]

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for t in range(self.table.rowCount()):
            row = self.row_at(t)
            hay = f"{row.model_text} {row.machine} {row.backend}".lower()
            self.table.setRowHidden(t, not all(w in hay for w in words))
        self._draw_chart()

    def _draw_chart(self) -> None:
        model = self.model_box.currentData()
        other = self.pair_box.currentData()
        rows = self.visible_rows()
        pair = model is not None and other is not None and other != model
        self.chart.setVisible(not pair)
        self.ratio_chart.setVisible(pair)
        if pair:
            self.ratio_chart.show_pair(str(model), str(other), rows, self.claimed.value() or None)
        else:
            self.chart.show_model(str(model) if model is not None else "", rows)

    def _path_of(self, table_row: int) -> Path | None:
        """The run file of this table row (its first run's)."""
        if not 0 <= table_row < self.table.rowCount():
            return None
        row = self.row_at(table_row)
        return self.gallery.paths.get(row.runs[0].content_hash) if row.runs else None

    def _open_row(self, table_row: int, _column: int = 0) -> None:
        path = self._path_of(table_row)
        if path is not None:
            self.run_requested.emit(str(path))

    # --- rerun on this machine ----------------------------------------------------------

    def _on_row_chosen(self) -> None:
        """The chart follows the chosen row's model (unless a pair is charted)."""
        self._update_rerun_button()
        t = self.table.currentRow()
        if 0 <= t < self.table.rowCount() and self.pair_box.currentData() is None:
            found = self.model_box.findData(self.row_at(t).model)
            if found >= 0:
                self.model_box.setCurrentIndex(found)

    def _update_rerun_button(self) -> None:
        running = self.rerun_dialog is not None and self.rerun_dialog.running
        self.rerun_button.setEnabled(self._path_of(self.table.currentRow()) is not None and not running)

    def rerun_row(self, table_row: int) -> RerunDialog | None:
        """The rerun dialog for this row's run file (it starts when the user presses Rerun here); when
        it has measured, this machine's row is added. None, with one sentence, when it cannot be rerun."""
        path = self._path_of(table_row)
        if path is None:
            self._say("Choose a row first: its run file is the one rerun here.")
            return None
        if self.rerun_dialog is not None and self.rerun_dialog.running:
            self.rerun_dialog.raise_()
            return self.rerun_dialog
        try:
            run = read_run_file(path)
            check_rerunnable(run)
        except (RunFileError, RerunRefused) as exc:  # the file may have changed since the gallery read it
            self._say(exc.message)
            return None
        except OSError as exc:
            self._say(f"Cannot read {path.name} ({exc.strerror or 'error'}); open the gallery again.")
            return None
        if self.rerun_dialog is not None:
            self.rerun_dialog.close()
        dlg = RerunDialog(run, path.name, self, self.busy_reason)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished_rerun.connect(lambda: self._add_rerun(dlg, path))
        dlg.started_rerun.connect(self._update_rerun_button)
        dlg.destroyed.connect(lambda *_: self._forget_rerun(dlg))
        self.rerun_dialog = dlg
        dlg.show()
        dlg.raise_()
        return dlg

    def _forget_rerun(self, dlg: RerunDialog) -> None:
        if self.rerun_dialog is dlg:
            self.rerun_dialog = None
        self._update_rerun_button()

    def _add_rerun(self, dlg: RerunDialog, source: Path) -> None:
        """This machine's repetitions saved as run files and added to the table (their row chosen)."""
        self._update_rerun_button()
        measured, plan = dlg.measured, dlg.plan
        if measured is None or plan is None or not measured.results:
            return  # stopped before a run finished, or a sentence in the rerun dialog already
        folder = self.rerun_folder or app_dirs().data / "reruns"
        try:
            saved = save_rerun_files(dlg.run, plan, measured, private_dir(folder), source.name.split(".")[0])
        except OSError as exc:
            log.info("saving the rerun to %s: %s", folder, exc)
            self._say(f"The rerun could not be saved in {folder} ({exc.strerror or 'error'}), so no row was added.")
            return
        dlg.measured = None  # added once: a later finished signal of this dialog adds only its new runs
        rows = add_files(self.gallery, saved)
        self._fill_models()
        self._fill()
        self._apply_filter(self.filter_box.text())
        for t in range(self.table.rowCount()):
            if any(self.row_at(t) is r for r in rows):
                self.table.selectRow(t)
                self.table.scrollTo(self.table.model().index(t, 0))
                break
        n = len(saved)
        self._say(f"Rerun here: {n} run{'s' if n != 1 else ''} of {source.name} added as this machine's row "
                  f"(saved in {folder}; share one with `gemmacompare share`).")

    def _say(self, sentence: str) -> None:
        self.rerun_note.setText(widget_text(sentence, 600))  # it may quote a stranger's file name


def fit_to_screen(dlg: QWidget, parent: QWidget | None) -> None:
    """At most 1200 x 720, within the screen with its frame (at 1280 x 720 the not-opened list ran off the
    bottom), centred over the window that opened it."""
    screen = (parent.screen() if parent is not None else dlg.screen()).availableGeometry()
    dlg.resize(min(1200, screen.width() - 40), min(720, screen.height() - 60))
    rect = dlg.frameGeometry()
    rect.moveCenter(parent.frameGeometry().center() if parent is not None else screen.center())
    rect.moveTop(max(rect.top(), screen.top()))
    rect.moveLeft(max(rect.left(), screen.left()))
    dlg.move(rect.topLeft())


def open_gallery(paths: list[str], parent: QWidget | None, open_run: Callable[[str], object],
                 busy_reason: Callable[[], str] | None = None) -> GalleryDialog:
    """A gallery dialog of these files and folders, its double-click wired to `open_run`; shown."""
    dlg = GalleryDialog(build_gallery(paths), parent, busy_reason)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    fit_to_screen(dlg, parent)
    dlg.run_requested.connect(open_run)
    dlg.show()
    return dlg


def choose_gallery(parent: QWidget, open_run: Callable[[str], object],
                   busy_reason: Callable[[], str] | None = None) -> GalleryDialog | None:
    """Asks for a folder of run files (searched with its subfolders), then shows its gallery."""
    folder = QFileDialog.getExistingDirectory(parent, "Open a folder of run files as a gallery")
    return open_gallery([folder], parent, open_run, busy_reason) if folder else None


__all__ = ["GalleryDialog", "MsPerMachineChart", "RatioChart", "choose_gallery", "open_gallery"]
