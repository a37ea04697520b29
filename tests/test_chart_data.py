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
