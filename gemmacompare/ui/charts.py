"""Live tokens/sec and memory charts for both panes, on one shared time axis.

A 10 Hz timer redraws the curves from the panes' data (token timestamps and
memory samples, relative to Send): the rate plot at most 5 times a second, the
memory plot once, both fewer where a redraw is costly (together at most 1% of a
core); nothing is drawn per token, and nothing while the charts cannot be seen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QPaintEvent, QPen, QShowEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem, QHBoxLayout, QWidget

from gemmacompare.engine.api import GPU_FROM_LLAMA

REFRESH_MS = 100  # the refresh timer; each plot redraws at most every RATE_MS / MEMORY_MS
RATE_MS = 200
MEMORY_MS = 1000  # memory changes slowly; the sampler still records 4 points a second
# While models stream, every CPU millisecond the window spends is taken from
# them (race mode on 2 cores: one core each). Both plots together may take 1%
# of a core: a plot whose redraw costs more than its share is redrawn less
# often (software rendering on a large screen, a slow CPU, both cores busy
# with models: its cost is measured in wall time, which grows when the models
# crowd the window out). A 3 ms redraw of the rate plot comes twice a second.
RATE_CPU_SHARE = 0.006
MEMORY_CPU_SHARE = 0.004
RATE_WINDOW_S = 1.0
RATE_STEP_S = 0.1
# The ranges a chart starts with; they grow in nice steps as a reply goes past
# them. Each change of range re-renders both plots' axes (about 20 ms of CPU),
# so they start where most replies need them (10 s, not 5).
START_SECONDS = 10.0
START_TPS = 10.0
START_MIB = 100.0


@dataclass
class SeriesData:
    token_times: np.ndarray  # seconds since Send, sorted
    mem_times: np.ndarray
    rss_mib: np.ndarray
    vram_mib: np.ndarray | None  # None: no GPU
    done: bool = False  # the reply is complete (or being replayed)
    # Device memory llama.cpp allocated for this model (weights, KV cache,
    # compute buffers), from its own load log: all there is where NVML has no
    # per-process figure (Metal, Vulkan, ROCm). None: nothing off the CPU.
    device_mib: float | None = None
    gpu_source: str = ""  # what vram_mib measures: protocol.GPU_FROM_NVML or GPU_FROM_LLAMA


class GrowingArray:
    """Floats appended in batches, read as one array without copying.

    The charts read a pane's token times ten times a second; building an array
    from a Python list each time cost more the longer the answer grew.
    """

    def __init__(self) -> None:
        self._buf = np.empty(1024)
        self._n = 0

    def extend(self, values: list[float]) -> None:
        need = self._n + len(values)
        if need > self._buf.size:
            grown = np.empty(max(need, self._buf.size * 2))
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n:need] = values
        self._n = need

    def clear(self) -> None:
        self._buf = np.empty(1024)  # a view handed out earlier keeps its values
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def view(self) -> np.ndarray:
        """The values so far; later extends never change it."""
        return self._buf[: self._n]


def tokens_per_second(times: np.ndarray, until: float, window: float = RATE_WINDOW_S,
                      step: float = RATE_STEP_S) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window rate: tokens in (x - window, x] / window, at every step."""
    if times.size == 0 or until <= 0:
        return np.empty(0), np.empty(0)
    start = float(times[0])
    xs = np.arange(start, max(start, until) + 1e-9, step)
    counts = np.searchsorted(times, xs, side="right") - np.searchsorted(times, xs - window, side="right")
    # Before a full window has passed, divide by the time actually covered.
    span = np.minimum(window, np.maximum(xs - start, step))
    return xs, counts / span


def _nice_ceiling(v: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above v."""
    if v <= 0:
        return 1.0
    exp = 10 ** np.floor(np.log10(v))
    for m in (1, 2, 5, 10):
        if m * exp >= v:
            return float(m * exp)
    return float(10 * exp)


def style_plots(plots: Iterable[pg.PlotWidget], dark: bool) -> str:
    """Background, title and axes for the app's theme; returns the text colour."""
    bg, fg = ("#1b1c1f", "#d0d0d0") if dark else ("#ffffff", "#333333")
    for plot in plots:
        plot.setBackground(bg)
        item = plot.getPlotItem()
        item.titleLabel.setText(item.titleLabel.text, color=fg)
        for axis in ("left", "bottom"):
            ax = item.getAxis(axis)
            ax.setPen(fg)
            ax.setTextPen(fg)
    return fg


class _TimedPlot(pg.PlotWidget):
    """A plot that knows what its last repaint cost."""

    paint_s = 0.0

    def paintEvent(self, ev: QPaintEvent) -> None:  # noqa: N802 - Qt naming
        t0 = time.perf_counter()
        super().paintEvent(ev)
        self.paint_s = time.perf_counter() - t0


class RedrawPacer:
    """When a plot is next due: at least `min_ms` apart, and further apart when
    its refresh plus repaint cost more than `cpu_share` of a core."""

    def __init__(self, min_ms: int, cpu_share: float) -> None:
        self.min_s = min_ms / 1000.0
        self.cpu_share = cpu_share
        self.cost_s = 0.0  # moving average of refresh + repaint
        self.due = 0.0

    def interval(self) -> float:
        return max(self.min_s, self.cost_s / self.cpu_share)

    def done(self, now: float, cost_s: float) -> None:
        self.cost_s = cost_s if not self.cost_s else 0.7 * self.cost_s + 0.3 * cost_s
        self.due = now + self.interval()


class LiveCharts(QWidget):
    def __init__(self, labels: list[str], colours: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = labels
        self.colours = colours
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.rate_plot = _TimedPlot(title="Tokens/sec")
        self.mem_plot = _TimedPlot(title="Memory (MiB)")
        for plot in (self.rate_plot, self.mem_plot):
            # Fixed ranges that only grow in nice steps: pyqtgraph re-renders an
            # axis whenever its range changes, which was most of the GUI
            # thread's time when both auto-ranged on every frame.
            plot.disableAutoRange()
            # Axis text is the slowest thing to paint (software raster); cache
            # each axis as a pixmap, redrawn only when its range changes.
            for name in ("left", "bottom"):
                plot.getPlotItem().getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.setXRange(0, START_SECONDS, padding=0)
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "seconds since Send")
            plot.setMouseEnabled(x=False, y=False)
            lay.addWidget(plot)
        self.rate_curves = [_curve(self.rate_plot, pg.mkPen(col, width=2)) for col in colours]
        self.rss_curves = [_curve(self.mem_plot, pg.mkPen(col, width=2)) for col in colours]
        self.vram_curves = [
            _curve(self.mem_plot, pg.mkPen(col, width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
            for col in colours
        ]
        self._gpu_seen = False
        self._gpu_source = ""
        self._device_mib: list[float | None] = [None] * len(labels)
        self._title_colour = "#333333"
        self._set_titles()
        self.sources: list[Callable[[], SeriesData | None]] = []
        self.now: Callable[[], float] = lambda: 0.0
        self.points_drawn = [0] * len(labels)
        self._ranges = {id(self.rate_plot): [START_SECONDS, START_TPS], id(self.mem_plot): [START_SECONDS, START_MIB]}
        self.rate_plot.setYRange(0, START_TPS, padding=0)
        self.mem_plot.setYRange(0, START_MIB, padding=0)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self._pacers = {id(self.rate_plot): RedrawPacer(RATE_MS, RATE_CPU_SHARE),
                        id(self.mem_plot): RedrawPacer(MEMORY_MS, MEMORY_CPU_SHARE)}
        self._stale = False  # data changed while the charts could not be seen
        self._models: tuple[str | None, ...] = ()  # whose replies the scales were grown for

    def same_models(self, models: tuple[str | None, ...]) -> bool:
        """The replies about to be drawn come from the same models as the last ones
        (their scales then stay, Send after Send); remembers these."""
        same, self._models = models == self._models, models
        return same

    def set_labels(self, labels: list[str], colours: list[str] | None = None) -> None:
        """Rename the curves in the legends (blind mode names sides, not models);
        with colours, the panes themselves changed (a model added or removed)."""
        if colours is not None and colours != self.colours:
            for c in self.rate_curves:
                self.rate_plot.removeItem(c)
            for c in (*self.rss_curves, *self.vram_curves):
                self.mem_plot.removeItem(c)
            self.colours = list(colours)
            self.rate_curves = [_curve(self.rate_plot, pg.mkPen(col, width=2)) for col in colours]
            self.rss_curves = [_curve(self.mem_plot, pg.mkPen(col, width=2)) for col in colours]
            self.vram_curves = [_curve(self.mem_plot, pg.mkPen(col, width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
                                for col in colours]
        self.labels = labels
        self._device_mib = [None] * len(labels)
        self.points_drawn = [0] * len(labels)
        self._set_titles()

    def set_memory_visible(self, on: bool) -> None:
        """Blind rounds hide the memory plot until the vote: a model's size would tell it apart."""
        self.mem_plot.setVisible(on)

    def set_dark(self, dark: bool) -> None:
        self._title_colour = style_plots((self.rate_plot, self.mem_plot), dark)
        self._set_titles()

    def legend_text(self) -> tuple[str, str]:
        """The plots' titles, which carry the legends: a legend inside the plot
        area sat on top of the curves' starts, where the interesting part is."""
        swatches = "&nbsp;&nbsp;".join(_swatch(lab, col) for lab, col in zip(self.labels, self.colours))
        rate = f"Tokens/sec&nbsp;&nbsp;{swatches}"
        allocated = [f"{lab} {mib:,.0f}" for lab, mib in zip(self.labels, self._device_mib) if mib]
        if self._gpu_seen and self._gpu_source == GPU_FROM_LLAMA:
            mem = (f"Memory (MiB)&nbsp;&nbsp;{swatches}&nbsp;&nbsp;· RAM solid, GPU dashed "
                   "(device buffers as llama.cpp allocated them)")
        elif self._gpu_seen:
            mem = f"Memory (MiB)&nbsp;&nbsp;{swatches}&nbsp;&nbsp;· RAM solid, VRAM dashed (per process, NVML)"
        elif allocated:
            mem = (f"RAM (MiB)&nbsp;&nbsp;{swatches}&nbsp;&nbsp;· GPU memory allocated by llama.cpp: "
                   f"{', '.join(allocated)} MiB")
        else:
            mem = f"RAM (MiB)&nbsp;&nbsp;{swatches}&nbsp;&nbsp;· no GPU"
        return rate, mem

    def _set_titles(self) -> None:
        rate, mem = self.legend_text()
        # The titles carry the legends, so they follow the app's font size
        # (presentation mode makes it larger) rather than pyqtgraph's fixed one.
        size = f"{max(9.0, QApplication.font().pointSizeF()):.0f}pt"
        self.rate_plot.setTitle(rate, color=self._title_colour, size=size)
        self.mem_plot.setTitle(mem, color=self._title_colour, size=size)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.refresh()

    def clear(self, keep_scales: bool = False) -> None:
        """Empty the curves; the time axis starts again at START_SECONDS.

        keep_scales: the next reply is from the same models, so the rate and
        memory axes stay as they were: consecutive replies read on one scale,
        and the axes are not grown (re-rendered) again step by step.
        """
        for c in (*self.rate_curves, *self.rss_curves, *self.vram_curves):
            c.setData([], [])
        self.points_drawn = [0] * len(self.labels)
        for plot, y in ((self.rate_plot, START_TPS), (self.mem_plot, START_MIB)):
            rng = self._ranges[id(plot)]
            if rng == [START_SECONDS, y] or (keep_scales and rng[0] == START_SECONDS):
                continue  # unchanged: no re-render
            rng[:] = [START_SECONDS, rng[1] if keep_scales else y]
            plot.setRange(xRange=(0, rng[0]), yRange=(0, rng[1]), padding=0)

    def _grow(self, plot: pg.PlotWidget, x: float, y: float) -> None:
        rng = self._ranges[id(plot)]
        if x > rng[0] or y > rng[1]:
            rng[0] = max(rng[0], _nice_ceiling(x * 1.1))
            rng[1] = max(rng[1], _nice_ceiling(y * 1.15))
            plot.setRange(xRange=(0, rng[0]), yRange=(0, rng[1]), padding=0)

    def _tick(self) -> None:
        # Nothing is drawn for charts nobody can see (hidden, another tab,
        # a minimised window); they catch up when shown.
        if self.visibleRegion().isEmpty():
            self._stale = True
            return
        # One plot per tick at most: a plot repaint costs several ms in
        # software, so the event loop never spends two of them back to back.
        now = time.monotonic()
        for plot, rate in ((self.rate_plot, True), (self.mem_plot, False)):
            pacer = self._pacers[id(plot)]
            if now >= pacer.due:
                t0 = time.perf_counter()
                self.refresh(rate=rate, memory=not rate)
                # The repaint comes later; the plot's previous one stands in for it.
                pacer.done(now, time.perf_counter() - t0 + plot.paint_s)
                return

    def redraw_costs(self) -> dict[str, tuple[float, float]]:
        """Per plot: (ms a refresh and repaint cost lately, ms between redraws); benchmarks/gui_replay.py prints it."""
        return {name: (pacer.cost_s * 1000, pacer.interval() * 1000)
                for name, pacer in (("rate", self._pacers[id(self.rate_plot)]),
                                    ("memory", self._pacers[id(self.mem_plot)]))}

    def showEvent(self, ev: QShowEvent) -> None:  # noqa: N802 - Qt naming
        super().showEvent(ev)
        if self._stale:
            self._stale = False
            self.refresh()

    def refresh(self, rate: bool = True, memory: bool = True) -> None:
        now = self.now()
        gpu_seen = False
        gpu_source = self._gpu_source
        device_mib: list[float | None] = [None] * len(self.labels)
        x_max = rate_max = mem_max = 0.0
        for i, source in enumerate(self.sources):
            data = source()
            if data is None:
                continue
            device_mib[i] = data.device_mib
            toks = data.token_times[: np.searchsorted(data.token_times, now, side="right")]
            last = toks[-1] if toks.size else 0.0
            # Stop the curve at the last token once the reply is complete;
            # while streaming it runs up to now, so a stall shows as a drop.
            until = last if data.done or now - last > RATE_WINDOW_S else now
            keep = slice(0, int(np.searchsorted(data.mem_times, now, side="right")))
            if rate:
                xs, ys = tokens_per_second(toks, until)
                self.rate_curves[i].setData(xs, ys)
                self.points_drawn[i] = len(xs)
                if xs.size:
                    rate_max = max(rate_max, float(ys.max()))
            x_max = max(x_max, float(until))
            if keep.stop:
                x_max = max(x_max, float(data.mem_times[keep][-1]))
                mem_max = max(mem_max, float(data.rss_mib[keep].max()))
            mem_t = data.mem_times[keep]
            pick: slice | list[int] = keep
            if mem_t.size == 1:
                # One sample (a reply shorter than the sampling interval) draws no line:
                # hold it to the reply's end, as memory holds between samples.
                mem_t, pick = np.array([mem_t[0], max(float(mem_t[0]), float(until))]), [0, 0]
            if memory:
                self.rss_curves[i].setData(mem_t, data.rss_mib[pick])
            if data.vram_mib is not None:
                gpu_seen = True
                gpu_source = gpu_source or data.gpu_source
                if memory:
                    self.vram_curves[i].setData(mem_t, data.vram_mib[pick])
                if keep.stop:
                    mem_max = max(mem_max, float(data.vram_mib[keep].max()))
        # Both plots share one time axis, so both grow together.
        self._grow(self.rate_plot, x_max, rate_max)
        self._grow(self.mem_plot, x_max, mem_max)
        if (gpu_seen and not self._gpu_seen) or device_mib != self._device_mib or gpu_source != self._gpu_source:
            self._gpu_seen = self._gpu_seen or gpu_seen
            self._gpu_source = gpu_source
            self._device_mib = device_mib
            self._set_titles()


def _curve(plot: pg.PlotWidget, pen: QPen) -> pg.PlotCurveItem:
    """A bare curve: plot() wraps it in a PlotDataItem, whose clipping and
    downsampling passes (for curves of millions of points, not a few hundred)
    were a third of each redraw's CPU."""
    curve = pg.PlotCurveItem(pen=pen)
    plot.addItem(curve)
    return curve


def _swatch(label: str, colour: str) -> str:
    return f"<span style='color:{colour}; font-weight:bold'>━━</span>&nbsp;{label}"
