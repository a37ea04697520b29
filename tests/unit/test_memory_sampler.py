"""The memory sampler: what it records, and that it stays asleep while paused."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gemmacompare.engine.memory import MemorySampler


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _wait_for(cond, timeout=5.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_a_paused_sampler_records_nothing_and_resumes_at_once(child):
    sampler = MemorySampler(interval=0.05).start()
    try:
        sampler.watch("A", child.pid)
        assert _wait_for(lambda: len(sampler.samples_since("A", 0)) >= 2)
        first = sampler.samples_since("A", 0)[0]
        assert first.rss > 1_000_000 and first.vram is None  # a real process, no GPU here

        sampler.pause()
        time.sleep(0.1)  # a sample already under way may still land
        sampler.reset("A")
        time.sleep(0.4)  # eight intervals
        assert sampler.samples_since("A", 0) == []

        # The first sample comes at once, not an interval later, so a reply's
        # memory curve starts at its Send.
        sampler.interval = 5.0
        t_resume = time.monotonic()
        sampler.resume()
        assert _wait_for(lambda: sampler.samples_since("A", 0), timeout=2.0)
        assert sampler.samples_since("A", 0)[0].t - t_resume < 2.0
    finally:
        sampler.stop()
    assert sampler._thread is None  # stopped while it may have been waiting


def test_a_paused_sampler_stops_promptly():
    sampler = MemorySampler(interval=10.0).start()
    sampler.pause()
    t0 = time.monotonic()
    sampler.stop()
    assert time.monotonic() - t0 < 0.5
