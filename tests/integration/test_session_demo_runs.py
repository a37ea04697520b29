"""The compare session with three real demo runs (a demo model may appear twice);
scheduling with stand-in participants is in tests/unit/test_session.py."""

from __future__ import annotations

from gemmacompare.engine import protocol as p
from gemmacompare.engine.modes import FAIR, RACE
from gemmacompare.engine.run_settings import RunSettings, command_for
from gemmacompare.engine.session import CompareSession


def test_three_real_demo_runs(demo_paths):
    """SmolLM2 twice beside Gemma: three worker processes, one round each way."""
    paths = [str(demo_paths["smollm2"]), str(demo_paths["gemma3"]), str(demo_paths["smollm2"])]
    with CompareSession(["A", "B", "C"]) as session:
        assert session.load(paths, p.LoadSettings(n_ctx=1024)) == [None, None, None]
        pids = {session.worker(i).pid for i in range(3)}
        assert len(pids) == 3 and None not in pids
        short = RunSettings(sampling=p.SamplingSettings(max_tokens=8))
        for mode in (RACE, FAIR):
            result = session.run(lambda i: command_for(short, (), "Name a colour."), mode=mode, threads_total=2)
            assert all(r.error is None and r.stats().n_tokens > 0 for r in result.runs), [r.error for r in result.runs]
            assert result.split.threads == ((1, 1, 1) if mode == RACE else (2, 2, 2))
            assert [r.stats().n_threads for r in result.runs] == list(result.split.threads)
            assert all(r.memory and r.memory.peak_rss > 50e6 for r in result.runs)
