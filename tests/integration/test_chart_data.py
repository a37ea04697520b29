"""The live charts' data: token times kept in one growing array, cut at "now"."""

from __future__ import annotations

import numpy as np
import pytest

from gemmacompare.ui.charts import GrowingArray, LiveCharts, SeriesData, tokens_per_second

pytestmark = pytest.mark.gui


def test_growing_array_reads_as_the_list_it_was_given():
    arr, values = GrowingArray(), []
    rng = np.random.default_rng(1)
    for _ in range(300):  # past several reallocations
        batch = list(rng.random(rng.integers(0, 40)))
        arr.extend(batch)
        values.extend(batch)
        assert np.array_equal(arr.view(), np.asarray(values))
    assert len(arr) == len(values)
    before = arr.view().copy()
    seen = arr.view()
    arr.clear()
    arr.extend([9.0, 9.0])
    assert np.array_equal(seen, before)  # a view handed out earlier is never overwritten
    assert list(arr.view()) == [9.0, 9.0]


def test_incremental_chart_data_draws_the_curve_a_full_rebuild_draws(qtbot):
    charts = LiveCharts(["A", "B"], ["#ff0000", "#0000ff"])
    qtbot.addWidget(charts)
    rng = np.random.default_rng(2)
    times = np.cumsum(rng.exponential(0.02, 600))
    mem_t = np.arange(0, times[-1], 0.05)
    rss = 100 + np.arange(mem_t.size, dtype=float)
    arr = GrowingArray()
    fed = [0]

    def source() -> SeriesData:
        return SeriesData(arr.view(), mem_t, rss, None, False)

    charts.sources = [source]
    for now in np.arange(0.3, times[-1], 0.37):
        # Tokens arrive in batches that may run ahead of "now" (the worker's clock).
        upto = int(np.searchsorted(times, now + 0.05))
        arr.extend(list(times[fed[0]:upto]))
        fed[0] = upto
        charts.now = lambda now=now: float(now)
        charts.refresh()
        full = list(times[:fed[0]])
        toks = np.asarray(full)[np.asarray(full) <= now]  # the old full rebuild
        until = toks[-1] if now - toks[-1] > 1.0 else now
        xs, ys = tokens_per_second(toks, until)
        got_x, got_y = charts.rate_curves[0].getData()
        assert np.allclose(got_x, xs) and np.allclose(got_y, ys)
        mx, my = charts.rss_curves[0].getData()
        assert np.array_equal(mx, mem_t[mem_t <= now]) and np.array_equal(my, rss[mem_t <= now])


def test_a_costly_redraw_is_spaced_out_and_a_cheap_one_is_not():
    from gemmacompare.ui.charts import RATE_CPU_SHARE, RATE_MS, RedrawPacer

    cheap, costly = RedrawPacer(RATE_MS, RATE_CPU_SHARE), RedrawPacer(RATE_MS, RATE_CPU_SHARE)
    for _ in range(10):
        cheap.done(0.0, 0.0005)
        costly.done(0.0, 0.02)
    assert cheap.interval() == RATE_MS / 1000
    assert costly.interval() == pytest.approx(0.02 / RATE_CPU_SHARE)  # at most its share of a core
    assert costly.due == pytest.approx(costly.interval())


def test_hidden_charts_draw_nothing_and_catch_up_when_shown(qtbot):
    charts = LiveCharts(["A"], ["#ff0000"])
    qtbot.addWidget(charts)
    times = np.linspace(0.05, 2.0, 40)
    charts.sources = [lambda: SeriesData(times, np.array([0.1]), np.array([50.0]), None, False)]
    charts.now = lambda: 2.0
    charts.start()
    qtbot.wait(400)  # several ticks while never shown
    assert charts.points_drawn == [0]
    charts.show()
    qtbot.waitUntil(lambda: charts.points_drawn[0] > 0, timeout=2000)
    charts.stop()


def test_scales_are_kept_between_replies_of_the_same_models(qtbot):
    from gemmacompare.ui.charts import START_MIB, START_SECONDS, START_TPS

    charts = LiveCharts(["A"], ["#ff0000"])
    qtbot.addWidget(charts)
    times = np.arange(0.05, 24.0, 1 / 40)  # 40 t/s for 24 s
    mem_t = np.arange(0.0, 24.0, 0.25)
    charts.sources = [lambda: SeriesData(times, mem_t, np.full(mem_t.size, 700.0), None, True)]
    charts.now = lambda: 24.0
    charts.refresh()

    def ranges():
        (_, x), (_, y) = charts.rate_plot.viewRange()
        (_, mx), (_, my) = charts.mem_plot.viewRange()
        return x, y, mx, my

    x, y, mx, my = ranges()
    assert x >= 24 and y >= 40 and my >= 700  # grown to fit, in nice steps
    charts.clear(keep_scales=True)  # the next Send, same models
    assert ranges() == (START_SECONDS, y, START_SECONDS, my)
    charts.clear()  # other models: back to the start
    assert ranges() == (START_SECONDS, START_TPS, START_SECONDS, START_MIB)



def test_a_reply_with_one_memory_sample_still_draws_its_memory(qtbot):
    """A reply shorter than the sampling interval has one sample, which alone draws no line:
    it is held to the reply's end (RAM and GPU alike)."""
    charts = LiveCharts(["A"], ["#ff0000"])
    qtbot.addWidget(charts)
    times = np.linspace(0.1, 0.6, 30)
    charts.sources = [lambda: SeriesData(times, np.array([0.05]), np.array([300.0]), np.array([120.0]), True)]
    charts.now = lambda: 1.0
    charts.refresh()
    for curve in (charts.rss_curves[0], charts.vram_curves[0]):
        xs, ys = curve.getData()
        assert list(xs) == [0.05, 0.6] and ys[0] == ys[1]
    assert list(charts.rss_curves[0].getData()[1]) == [300.0, 300.0]
