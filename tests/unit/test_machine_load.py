"""A busy machine is named: other programs' CPU is measured during every run and recorded."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from gemmacompare.engine.machine_load import LoadMeter, OtherLoad
from gemmacompare.engine.modes import RACE
from gemmacompare.engine.report.speed_summary import busy_sentence
from tests.unit.test_session import cmd, session_of, stand_in

SPIN = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 30: pass\n"


@pytest.fixture
def busy_program():
    """Another program keeping one core busy, as a browser or a build would."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN])
    time.sleep(0.3)
    yield proc
    proc.kill()
    proc.wait()


def test_another_programs_cpu_is_measured_and_ours_is_not(busy_program):
    # Two meters over the same stretch: one counts the spinning program as ours (a server
    # on this machine, say), one does not; the difference is that program's CPU.
    spinner = psutil.Process(busy_program.pid)
    before = sum(spinner.cpu_times()[:2])
    theirs = LoadMeter(lambda: []).start()
    ours = LoadMeter(lambda: [busy_program.pid]).start()
    time.sleep(0.8)
    mine, other = ours.stop(), theirs.stop()
    share = (sum(spinner.cpu_times()[:2]) - before) / other.seconds
    assert other is not None and mine is not None and share > 0.1
    assert other.busy and other.cores <= other.total_cores + 0.1, other
    assert other.cores - mine.cores == pytest.approx(share, abs=0.15), (other, mine, share)


def test_a_round_on_a_busy_machine_records_and_says_it(busy_program):
    with session_of(stand_in("A", 30, 0.03), stand_in("B", 30, 0.03)) as session:
        seen = []
        result = session.run(cmd, mode=RACE, threads_total=2, on_event=lambda i, ev: seen.append(type(ev).__name__))
    stats = [r.stats() for r in result.runs]
    assert all(s.machine_busy and s.other_cpu_cores >= 0.4 for s in stats), stats
    assert all(r.stats().to_dict()["other_cpu_cores"] >= 0.4 for r in result.runs)  # into JSON, history, exports
    # The measurement travels just before each run's last event, so a window's stats line has it.
    assert seen.count("RunMeasured") == 2 and seen.index("RunMeasured") < seen.index("Finished")
    text = busy_sentence(["A", "B"], stats)
    assert text.startswith("other programs used ") and text.endswith("cores during every run; figures are unreliable")


def test_the_sentence_names_the_runs_that_were_disturbed():
    load = OtherLoad(0.9, 2, 3.0)
    assert load.busy and load.sentence() == ("other programs used 0.9 of 2 cores during this run; "
                                             "figures are unreliable")
    assert not OtherLoad(0.15, 2, 3.0).busy and OtherLoad(0.15, 2, 3.0).threshold == 0.2
    assert OtherLoad(1.0, 16, 1.0).threshold == pytest.approx(1.6)


def test_bench_prints_a_busy_repetition():
    from gemmacompare.bench.records import ItemResult
    from gemmacompare.cli.bench import item_line

    def item(i: int, busy: bool) -> ItemResult:
        return ItemResult(rep=0, task_index=0, task_id="t1", model_index=i, expected="4", match="number",
                          answer="4", thinking="", extracted="4", correct=True,
                          stats={"gen_tps": 50.0, "other_cpu_cores": 0.9 if busy else 0.0, "machine_busy": busy})

    assert "other programs used 0.9 of" in item_line([item(0, True), item(1, False)], ["A", "B"])
    assert "other programs" not in item_line([item(0, False), item(1, False)], ["A", "B"])
