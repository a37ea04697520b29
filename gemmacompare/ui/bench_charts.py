"""Benchmark charts: per-item time bars, tokens/sec per model, accuracy with its interval.

The same widgets serve the Benchmark tab (live, redrawn from the item list)
and the PNG export (`write_chart_pngs`, used by `gemmacompare bench --out`).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gemmacompare.bench.records import ItemResult, StoredRun
from gemmacompare.bench.stats import summarize_model

from .charts import style_plots
from .theme import PANE_COLOURS

log = logging.getLogger(__name__)

EXTRA_COLOURS = ["#3aa655", "#c83e4d", "#8e6cc2", "#7f7f7f"]
PNG_SIZE = (900, 420)


def model_colour(i: int) -> str:
    palette = PANE_COLOURS + EXTRA_COLOURS
    return palette[i % len(palette)]


def model_letter(m: int) -> str:
    """The model's pane letter (A, B, …): the bench runs the panes' models in their order."""
    return chr(ord("A") + m)


def _model_ticks(labels: list[str]) -> list[list[tuple[float, str]]]:
    # Letters, not names: two names side by side under 300-pixel-wide bars ran into each other
    # ("SmolLM2-135M-InstGemma-3-270M Q4_K…"); the legend above the charts gives the names.
    return [[(m, model_letter(m)) for m in range(len(labels))]]


def legend_html(labels: list[str]) -> str:
    """Each model's colour, letter and full name; names are strangers' text, so escaped."""
    return "&nbsp;&nbsp; ".join(
        f"<span style='color:{model_colour(m)}'>■</span>&nbsp;<b>{model_letter(m)}</b>&nbsp;{html.escape(label)}"
        for m, label in enumerate(labels))


class _BenchChart(pg.PlotWidget):
    """A fixed chart with a title; saved alone (bench --out) it carries the models' legend in
    its title, since its axis names them by letter; in the tab one legend row serves all three."""

    def __init__(self, title: str, parent: QWidget | None = None, legend_in_title: bool = False) -> None:
        super().__init__(parent, title=title)
        self.base_title = title
        self.legend_in_title = legend_in_title
        self.showGrid(x=False, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)

    def begin(self, labels: list[str]) -> None:
        """Clear for a redraw; the title with its legend where it carries one (inside the plot a legend
        covered the bars)."""
        self.clear()
        legend = self.legend_in_title and labels
        self.setTitle(f"{self.base_title}&nbsp;&nbsp;{legend_html(labels)}" if legend else self.base_title)


class ItemTimeChart(_BenchChart):
    """Seconds per item, one bar per model side by side, items in run order."""

    def __init__(self, parent: QWidget | None = None, legend_in_title: bool = False) -> None:
        super().__init__("Time per item", parent, legend_in_title)
        # With its unit pyqtgraph names the scale "ms" or "s"; without one it printed "(x0.001)".
        self.setLabel("left", "time", units="s")
        self.setLabel("bottom", "item (repetition · task)")

    def set_items(self, items: list[ItemResult], labels: list[str]) -> None:
        self.begin(labels)
        keys = sorted({(it.rep, it.task_index) for it in items})
        pos = {k: n for n, k in enumerate(keys)}
        n_models = max(1, len(labels))
        width = 0.8 / n_models
        for m, label in enumerate(labels):
            mine = [it for it in items if it.model_index == m and it.stat("total_s") is not None]
            if not mine:
                continue
            xs = np.array([pos[(it.rep, it.task_index)] + (m - (n_models - 1) / 2) * width for it in mine])
            ys = np.array([it.stat("total_s") for it in mine])
            bars = pg.BarGraphItem(x=xs, height=ys, width=width, brush=model_colour(m), pen=None, name=label)
            self.addItem(bars)
        # Few items: name them; many: plain numbers are more readable.
        if 0 < len(keys) <= 12:
            self.getAxis("bottom").setTicks([[(n, f"{rep + 1}·{ti + 1}") for (rep, ti), n in pos.items()]])
        else:
            self.getAxis("bottom").setTicks(None)
        # Autorange clipped the last group's outer bar; the range spans every group's full width.
        self.setXRange(-0.5, max(0.5, len(keys) - 0.5), padding=0.01)


class SpeedChart(_BenchChart):
    """Generation tokens/sec of every item per model (dots), with the mean (bar)."""

    def __init__(self, parent: QWidget | None = None, legend_in_title: bool = False) -> None:
        super().__init__("Generation tokens/sec", parent, legend_in_title)
        self.setLabel("left", "tokens/sec")

    def set_items(self, items: list[ItemResult], labels: list[str]) -> None:
        self.begin(labels)
        rng = np.random.default_rng(0)  # fixed jitter: redraws do not dance
        for m, _label in enumerate(labels):
            vals = np.array([v for it in items if it.model_index == m and (v := it.stat("gen_tps")) is not None])
            if vals.size == 0:
                continue
            colour = model_colour(m)
            self.addItem(pg.BarGraphItem(x=[m], height=[float(vals.mean())], width=0.6,
                                         brush=pg.mkBrush(colour + "55"), pen=pg.mkPen(colour)))
            xs = m + rng.uniform(-0.2, 0.2, vals.size)
            self.addItem(pg.ScatterPlotItem(x=xs, y=vals, size=7, brush=pg.mkBrush(colour), pen=None))
        self.getAxis("bottom").setTicks(_model_ticks(labels))
        self.setXRange(-0.6, max(0.6, len(labels) - 0.4), padding=0)


class AccuracyChart(_BenchChart):
    """Accuracy per model with its Wilson 95% interval."""

    def __init__(self, parent: QWidget | None = None, legend_in_title: bool = False) -> None:
        super().__init__("Accuracy (95% interval)", parent, legend_in_title)
        self.setLabel("left", "correct", units="%")

    def set_items(self, items: list[ItemResult], labels: list[str]) -> None:
        self.begin(labels)
        for m, label in enumerate(labels):
            s = summarize_model(items, m, label)
            if not s.n_items:
                continue
            acc = (s.accuracy.mean or 0.0) * 100
            self.addItem(pg.BarGraphItem(x=[m], height=[acc], width=0.6, brush=model_colour(m), pen=None))
            self.addItem(pg.ErrorBarItem(x=np.array([m]), y=np.array([acc]),
                                         top=np.array([s.accuracy_high * 100 - acc]),
                                         bottom=np.array([acc - s.accuracy_low * 100]), beam=0.2,
                                         pen=pg.mkPen("#888", width=2)))
        self.getAxis("bottom").setTicks(_model_ticks(labels))
        self.setXRange(-0.6, max(0.6, len(labels) - 0.4), padding=0)
        self.setYRange(0, 100, padding=0.02)


class BenchCharts(QWidget):
    """One legend row over the three charts in a row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)  # only escaped names go in (legend_html)
        self.legend.setWordWrap(True)
        outer.addWidget(self.legend)
        lay = QHBoxLayout()
        outer.addLayout(lay, 1)
        self.times = ItemTimeChart()
        self.speed = SpeedChart()
        self.accuracy = AccuracyChart()
        lay.addWidget(self.times, 2)
        lay.addWidget(self.speed, 1)
        lay.addWidget(self.accuracy, 1)

    def set_items(self, items: list[ItemResult], labels: list[str]) -> None:
        self.legend.setText(legend_html(labels))
        for chart in (self.times, self.speed, self.accuracy):
            chart.set_items(items, labels)

    def set_dark(self, dark: bool) -> None:
        style_plots((self.times, self.speed, self.accuracy), dark)


def write_chart_pngs(run: StoredRun, out_dir: str | Path) -> list[Path]:
    """Render the three charts of a stored run as PNG files; returns their paths."""
    app = QApplication.instance() or QApplication([])  # noqa: F841 - widgets need one
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items, labels = list(run.items), run.labels
    written = []
    for name, cls in (("times", ItemTimeChart), ("speed", SpeedChart), ("accuracy", AccuracyChart)):
        chart = cls(legend_in_title=True)
        chart.setBackground("w")
        chart.resize(*PNG_SIZE)
        chart.set_items(items, labels)
        path = out / f"bench-{run.id}-{name}.png"
        if not chart.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        chart.deleteLater()
        written.append(path)
    return written
