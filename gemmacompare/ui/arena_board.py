"""The Arena tab: the leaderboard table, preference plotted against speed, exports.

Ratings are refitted (with the bootstrap) on a background thread after each
vote, so the window never waits for them.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.arena.leaderboard import (
    METHOD,
    Leaderboard,
    build_leaderboard,
    leaderboard_csv,
    leaderboard_json,
    leaderboard_markdown,
    summary_line,
    table_rows,
)
from gemmacompare.arena.store import ArenaStore, ArenaStoreError

from .charts import style_plots
from .theme import PANE_COLOURS

log = logging.getLogger(__name__)

EXPORT_STEM = "arena-leaderboard"


class _Bridge(QObject):
    done = Signal(int, object)  # request number, Leaderboard or an error sentence


class LeaderboardTab(QWidget):
    refreshed = Signal()

    def __init__(self, store: ArenaStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.board: Leaderboard | None = None
        self.points = 0
        self._text_colour = "#333333"
        self._request = 0
        self._bridge = _Bridge(self)
        self._bridge.done.connect(self._on_done)
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.summary = QLabel("No counted votes yet: turn on blind mode (F8), ask, and vote.")
        self.summary.setWordWrap(True)
        top.addWidget(self.summary, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("CSV, JSON and Markdown tables and the chart as PNG, into a folder")
        self.export_button.clicked.connect(self.export_dialog)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        lay.addLayout(top)

        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        split.addWidget(self.table)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        self.plot = pg.PlotWidget(title="Preference vs speed")
        self.plot.setLabel("bottom", "median ms/token (lower is faster)")
        self.plot.setLabel("left", "rating (95% interval)")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMouseEnabled(x=False, y=False)
        bottom.addWidget(self.plot)
        self.matrix = QTableWidget(0, 0)
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setToolTip("Share of votes the row model won against the column model (ties half), and votes")
        bottom.addWidget(self.matrix)
        bottom.setSizes([600, 400])
        split.addWidget(bottom)
        split.setSizes([220, 380])
        lay.addWidget(split, 1)
        self.method = QLabel(METHOD)
        self.method.setObjectName("notice")
        self.method.setWordWrap(True)
        lay.addWidget(self.method)

    def set_dark(self, dark: bool) -> None:
        self._text_colour = style_plots((self.plot,), dark)
        if self.board is not None:
            self._draw(self.board)

    # --- computing ---------------------------------------------------------------

    def refresh(self) -> None:
        """Refit from the history on a background thread; the table updates when done."""
        self._request += 1
        request, store, bridge = self._request, self.store, self._bridge
        self.summary.setText("Fitting ratings…")

        def work() -> None:
            try:
                result: object = build_leaderboard(store.battles())
            except ArenaStoreError as exc:
                result = exc.message
            except Exception:  # noqa: BLE001 - a message on the GUI thread, never a dead thread
                log.exception("leaderboard fit")
                result = "The ratings could not be computed; see the log for details."
            try:
                bridge.done.emit(request, result)
            except RuntimeError:
                log.debug("leaderboard view is gone")

        threading.Thread(target=work, name="arena-fit", daemon=True).start()

    def _on_done(self, request: int, result: object) -> None:
        if request != self._request:
            return  # a newer refresh is on its way
        if isinstance(result, Leaderboard):
            self.show_board(result)
        else:
            self.summary.setText(str(result))
        self.refreshed.emit()

    # --- showing ---------------------------------------------------------------------

    def show_board(self, board: Leaderboard) -> None:
        self.board = board
        if not board.rows:
            self.summary.setText("No counted votes yet: turn on blind mode (F8), ask, and vote. " + summary_line(board))
        else:
            self.summary.setText(summary_line(board))
        rows = table_rows(board)
        self.table.clear()
        self.table.setColumnCount(len(rows[0]))
        self.table.setRowCount(len(rows) - 1)
        self.table.setHorizontalHeaderLabels(rows[0])
        for r, row in enumerate(rows[1:]):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 1:
                    m = board.rows[r]
                    item.setToolTip(f"{m.file_name} · {m.key}")
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._fill_matrix(board)
        self._draw(board)

    def _fill_matrix(self, board: Leaderboard) -> None:
        names = [r.name for r in board.rows]
        self.matrix.clear()
        self.matrix.setRowCount(len(names))
        self.matrix.setColumnCount(len(names))
        # Long model names fit once, down the side; columns go by rank.
        self.matrix.setHorizontalHeaderLabels([f"vs #{i}" for i in range(1, len(names) + 1)])
        self.matrix.setVerticalHeaderLabels([f"#{i} {n}" for i, n in enumerate(names, 1)])
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                rate = None if a == b else board.win_rates[a].get(b)
                text = "-" if rate is None else f"{rate:.0%} of {board.games[a][b]:g}"
                self.matrix.setItem(i, j, QTableWidgetItem(text))
        self.matrix.resizeColumnsToContents()

    def _draw(self, board: Leaderboard) -> None:
        self.plot.clear()
        pts = [r for r in board.rows if r.median_ms_per_token is not None]
        self.points = len(pts)
        if not pts:
            return
        x = np.array([r.median_ms_per_token for r in pts])
        y = np.array([r.rating for r in pts])
        colours = [PANE_COLOURS[i % len(PANE_COLOURS)] for i in range(len(pts))]
        self.plot.addItem(pg.ErrorBarItem(x=x, y=y, top=np.array([r.plus for r in pts]),
                                          bottom=np.array([r.minus for r in pts]), beam=0.0,
                                          pen=pg.mkPen("#888888", width=2)))
        self.plot.addItem(pg.ScatterPlotItem(x=x, y=y, size=12, brush=[pg.mkBrush(c) for c in colours],
                                             pen=pg.mkPen("#ffffff", width=1)))
        for r, cx, cy in zip(pts, x, y):
            label = pg.TextItem(r.name, anchor=(0, 1), color=self._text_colour)
            label.setPos(float(cx), float(cy))
            self.plot.addItem(label)
        lo, hi = min(r.lower for r in pts), max(r.upper for r in pts)
        pad_y = max(20.0, (hi - lo) * 0.15)
        pad_x = max(2.0, float(x.max() - x.min()) * 0.3)
        self.plot.setRange(xRange=(max(0.0, float(x.min()) - pad_x), float(x.max()) + pad_x * 2),
                           yRange=(lo - pad_y, hi + pad_y), padding=0)

    # --- exports ---------------------------------------------------------------------

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export arena leaderboard to folder")
        if folder:
            self.export(Path(folder))

    def export(self, folder: Path) -> list[Path]:
        if self.board is None:
            self.summary.setText("Nothing to export yet: the leaderboard is still empty.")
            return []
        folder = Path(folder)
        files = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for ext, text in (("csv", leaderboard_csv(self.board)), ("json", leaderboard_json(self.board)),
                              ("md", leaderboard_markdown(self.board))):
                path = folder / f"{EXPORT_STEM}.{ext}"
                path.write_text(text, encoding="utf-8")
                files.append(path)
        except OSError as exc:
            log.info("arena export: %s", exc)
            self.summary.setText(f"Could not write to {folder}; pick another folder.")
            return files
        png = folder / f"{EXPORT_STEM}.png"
        if self.plot.grab().save(str(png)):
            files.append(png)
        self.summary.setText(f"Exported {len(files)} files to {folder}")
        return files
