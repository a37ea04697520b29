"""The context sweep's two charts, side by side: ms/token against depth, memory against context size.

One line per model in its pane colour. Measured points carry their 95% interval (error bars, on the
log scale as engine/report/intervals.py takes it) and a tooltip with their figures; the memory chart
draws the estimate from the GGUF facts (the figures `inspect --ctx` prints) dashed out to each
model's trained context, on a log axis of context sizes (256 to 256k tokens side by side).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gemmacompare.engine.api import SweepPoint, SweepResult, curve_sizes, estimate_curve

from .bench_charts import model_colour
from .charts import style_plots

PNG_SIZE = (1200, 460)
MIB = 2**20


def point_text(name: str, x: SweepPoint) -> str:
    """A point's figures, for its tooltip: depth, context, speeds with intervals, llama.cpp's memory."""
    tg, lo, hi = x.tg()
    pp, plo, phi = x.pp()
    lines = [f"{name} at depth {x.depth:,} (context {x.n_ctx:,})"]
    if x.tg_ms:
        band = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
        lines.append(f"generation: {tg:.2f} ms/token{band}, {len(x.tg_ms)} runs")
    if x.pp_tps:
        band = f" [{plo:.1f}, {phi:.1f}]" if plo is not None and phi is not None else ""
        lines.append(f"prefill: {pp:.1f} t/s{band}, {len(x.pp_tps)} runs")
    lines.append(f"memory (llama.cpp): {x.memory_total / MIB:,.1f} MiB, KV cache {x.part('KV') / MIB:,.1f} MiB"
                 + (f", recurrent state {x.part('RS') / MIB:,.1f} MiB" if x.part("RS") else ""))
    if x.estimate is not None:
        lines.append(f"estimate from the file: {x.estimate.total / MIB:,.1f} MiB without compute buffers "
                     f"(llama.cpp's: {(x.part('compute') + x.part('output')) / MIB:,.1f} MiB)")
    return "\n".join(lines)


def _tokens_tick(n: float) -> str:
    n = int(round(n))
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else f"{n:,}"


class _SweepPlot(pg.PlotWidget):
    """A plot whose measured points answer hovering with their figures."""

    def __init__(self, title: str) -> None:
        super().__init__(title=title)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.lines: dict[str, pg.PlotDataItem] = {}  # model label -> its line of measured points
        self.estimates: dict[str, pg.PlotDataItem] = {}  # model label -> its dashed estimate
        self.spots: dict[str, pg.ScatterPlotItem] = {}
        self.gpu_lines: list[str] = []  # devices whose memory is drawn as a horizontal line

    def reset(self) -> None:
        self.clear()
        self.lines, self.estimates, self.spots, self.gpu_lines = {}, {}, {}, []

    def add_points(self, label: str, colour: str, xs: list[float], ys: list[float], texts: list[str],
                   lows: list[float | None], highs: list[float | None]) -> None:
        if not xs:
            return
        self.lines[label] = self.plot(xs, ys, pen=pg.mkPen(colour, width=2))
        spots = pg.ScatterPlotItem(x=xs, y=ys, data=texts, size=9, brush=pg.mkBrush(colour), pen=None,
                                   hoverable=True, tip=lambda x, y, data: data)
        self.addItem(spots)
        self.spots[label] = spots
        have = [(x, y, lo, hi) for x, y, lo, hi in zip(xs, ys, lows, highs) if lo is not None and hi is not None]
        if have:
            ex, ey, elo, ehi = (np.array(v, dtype=float) for v in zip(*have))
            self.addItem(pg.ErrorBarItem(x=ex, y=ey, top=ehi - ey, bottom=ey - elo, beam=0.0,
                                         pen=pg.mkPen(colour, width=1)))

    def hover_text(self, label: str, index: int) -> str:
        """What hovering the model's point `index` shows (the spot's tooltip)."""
        return str(self.spots[label].data[index]["data"])


class SweepCharts(QWidget):
    """A legend row over the two charts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)  # only escaped names go in
        self.legend.setWordWrap(True)
        outer.addWidget(self.legend)
        row = QHBoxLayout()
        outer.addLayout(row, 1)
        self.speed = _SweepPlot("Generation ms/token against depth")
        self.speed.setLabel("left", "ms/token")
        self.speed.setLabel("bottom", "depth (tokens of context before)")
        self.memory = _SweepPlot("Memory against context size (dashed: estimate + compute)")
        self.memory.setLabel("left", "MiB")
        self.memory.setLabel("bottom", "context size (tokens, log scale)")
        row.addWidget(self.speed, 1)
        row.addWidget(self.memory, 1)
        self._dark = False

    def set_dark(self, dark: bool) -> None:
        self._dark = dark
        style_plots((self.speed, self.memory), dark)

    def set_result(self, result: SweepResult | None) -> None:
        self.speed.reset()
        self.memory.reset()
        if result is None:
            self.legend.setText("")
            return
        self.legend.setText("&nbsp;&nbsp; ".join(
            f"<span style='color:{model_colour(k)}'>━━</span>&nbsp;<b>{m.label}</b>&nbsp;{html.escape(m.name)}"
            for k, m in enumerate(result.models)))
        lowest, highest = 2**22, 1
        for k, m in enumerate(result.models):
            colour = model_colour(k)
            points = [x for x in list(result.points) if x.label == m.label]
            timed = [x for x in points if x.tg_ms]
            self.speed.add_points(m.label, colour, [float(x.depth) for x in timed], [x.tg()[0] for x in timed],
                                  [point_text(m.name, x) for x in timed], [x.tg()[1] for x in timed],
                                  [x.tg()[2] for x in timed])
            self.memory.add_points(m.label, colour, [math.log10(x.n_ctx) for x in points],
                                   [x.memory_total / MIB for x in points], [point_text(m.name, x) for x in points],
                                   [None] * len(points), [None] * len(points))
            limit = m.n_ctx_train or max((x.n_ctx for x in points), default=0)
            curve = estimate_curve(m, result.settings.load, curve_sizes(limit)) if limit else []
            if curve:
                # The file says nothing of compute buffers: the deepest point's, as llama.cpp reported
                # them, ride on the estimate, so that line and points read on one scale.
                extra = (points[-1].part("compute") + points[-1].part("output")) if points else 0
                self.memory.estimates[m.label] = self.memory.plot(
                    [math.log10(n) for n, _ in curve], [(b + extra) / MIB for _, b in curve],
                    pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine))
                lowest = min(lowest, curve[0][0], *(x.n_ctx for x in points))
                highest = max(highest, curve[-1][0])
        for device, total in result.gpu_memory.items():
            # Where each model's line crosses it, it stops fitting on that device.
            self.memory.addItem(pg.InfiniteLine(
                pos=total / MIB, angle=0, pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DotLine),
                label=f"{device}: {total / 2**30:.1f} GiB", labelOpts={"position": 0.05, "color": "#888888"}))
            self.memory.gpu_lines.append(device)
        marks = [n for n in (2**k for k in range(4, 23, 2)) if lowest / 2 <= n <= highest * 2]
        self.memory.getAxis("bottom").setTicks([[(math.log10(n), _tokens_tick(n)) for n in marks]])

    def save_png(self, path: str | Path) -> Path:
        """Both charts as one PNG, at a fixed size, on white."""
        path = Path(path)
        was = self.size()
        self.resize(*PNG_SIZE)
        for plot in (self.speed, self.memory):
            plot.setBackground("w")
        try:
            if not self.grab().save(str(path)):
                raise OSError(f"could not write {path}")
        finally:
            self.resize(was)
            self.set_dark(self._dark)
        return path
