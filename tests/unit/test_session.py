"""The compare session without Qt: scheduling, thread split, stop, a model that fails to load.

Stand-in participants are ReplayWorkers playing made-up runs at their recorded
pace (a real Participant, no model needed); three real demo runs are in
tests/integration/test_session_demo_runs.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import FAIR, RACE, split_threads
from gemmacompare.engine.participant import Participant
from gemmacompare.engine.replay import ReplayWorker
from gemmacompare.engine.run_settings import PromptOptions, RunSettings, command_for
from gemmacompare.engine.session import CompareSession, RunStarted, SessionBusy


def made_up_run(label: str, n_tokens: int, gap_s: float, text: str = "word") -> RunRecord:
    """A run as a worker would have reported it: prompt, prefill, tokens `gap_s` apart, finished."""
    t0 = 1000.0
    rec = RunRecord(label, t0)
    rec.add(p.PromptReady(1, "gguf", "prompt", False))
    rec.add(p.PrefillDone(1, 5, t0, t0 + 0.01))
    for i in range(n_tokens):
        rec.add(p.Token(1, i, 7, t0 + 0.01 + (i + 1) * gap_s, "answer", "", f"{text}{i} "))
    rec.add(p.Finished(1, p.STOP_MAX_TOKENS, 5, n_tokens, t0, t0 + 0.01 + (n_tokens + 1) * gap_s, None, 1))
    return rec


def stand_in(label: str, n_tokens: int = 10, gap_s: float = 0.02, fails: bool = False) -> ReplayWorker:
    loaded = None if fails else p.Loaded(0, 0.0, None, 2048, 1, 0, "stand-in")  # type: ignore[arg-type]
    return ReplayWorker(label, made_up_run(label, n_tokens, gap_s, label.lower()), loaded)


def session_of(*workers: ReplayWorker) -> CompareSession:
    session = CompareSession(labels=())
    for w in workers:
        session.add_slot(w.label, w)  # a slot takes any participant
    return session


def cmd(i: int, n_threads: int | None = None) -> p.GenerateCommand:
    return command_for(RunSettings(prompt=PromptOptions(n_threads=n_threads or 0)), (), "hello", request_id=10 + i)


def test_every_participant_kind_implements_the_interface():
    from gemmacompare.engine.local.model_worker import ModelWorker
    from gemmacompare.engine.remote.worker import RemoteWorker

    assert isinstance(ModelWorker("A"), Participant)
    assert isinstance(RemoteWorker("B"), Participant)
    assert isinstance(stand_in("C"), Participant)


def test_race_runs_three_at_once_and_replays_keep_their_figures():
    workers = [stand_in("A", 10, 0.02), stand_in("B", 10, 0.03), stand_in("C", 6, 0.05)]
    seen: dict[int, list] = {0: [], 1: [], 2: []}
    with session_of(*workers) as session:
        t0 = time.monotonic()
        result = session.run(cmd, mode=RACE, threads_total=4, on_event=lambda i, ev: seen[i].append(ev))
        took = time.monotonic() - t0
    assert [r.answer for r in result.runs] == [w.record.answer for w in workers]
    # At once: the round takes about the slowest model's time, not the sum of all three.
    assert took < 0.9 * sum(w.record.stats().total_s for w in workers)
    for rec, w in zip(result.runs, workers):
        assert rec.stats().n_tokens == w.record.stats().n_tokens
        assert rec.stats().ms_per_token == pytest.approx(w.record.stats().ms_per_token, rel=0.25)
    starts = [evs[0] for evs in seen.values()]
    assert all(isinstance(s, RunStarted) for s in starts)
    assert [s.n_threads for s in starts] == [1, 1, 1]  # 4 threads among 3 local models: 1 each
    assert result.split is not None and result.split.threads == (1, 1, 1)
    assert not session.busy and session.state.running == frozenset()


def test_fair_runs_one_after_the_other_with_all_threads():
    workers = [stand_in("A", 5, 0.02), stand_in("B", 5, 0.02), stand_in("C", 5, 0.02)]
    order: list[tuple[int, str]] = []
    with session_of(*workers) as session:
        result = session.run(cmd, mode=FAIR, threads_total=2,
                             on_event=lambda i, ev: order.append((i, type(ev).__name__)))
    starts = [i for i, kind in order if kind == "RunStarted"]
    finishes = [i for i, kind in order if kind == "Finished"]
    assert starts == finishes == [0, 1, 2]
    # Each one's run starts after the one before it finished.
    assert result.runs[1].t_send >= result.runs[0].tokens[-1].t
    assert result.runs[2].t_send >= result.runs[1].tokens[-1].t
    assert all(r.finished.n_threads == 1 or r.stats() for r in result.runs)
    assert result.split.threads == (2, 2, 2) and result.complete


def test_a_models_own_threads_win_over_the_mode_share():
    split = split_threads(RACE, 4, [False, False, True], [3, 0, 0])
    assert split.threads == (3, 2, 0) and split.chosen == (True, False, False)
    assert "server model takes none" in split.describe()
    over = split_threads(RACE, 2, [False, False, False])
    assert over.threads == (1, 1, 1) and over.oversubscribed and "take turns" in over.describe()
    assert split_threads(FAIR, 2, [False, False]).describe() == "fair mode, each alone with 2 threads"
    with session_of(stand_in("A"), stand_in("B")) as session:
        result = session.run({0: cmd(0, n_threads=3), 1: cmd(1)}, mode=RACE, threads_total=2)
    assert result.split.threads == (3, 1) and result.split.chosen == (True, False)


@pytest.mark.parametrize("stop_after", ["first", "second"])
def test_stop_in_either_phase_of_fair_mode(stop_after):
    workers = [stand_in("A", 40, 0.02), stand_in("B", 40, 0.02), stand_in("C", 40, 0.02)]
    target = 0 if stop_after == "first" else 1
    session = session_of(*workers)
    states = []
    session.subscribe(states.append)

    def on_event(i, ev):
        if i == target and isinstance(ev, p.Token) and ev.index == 3:
            threading.Thread(target=session.stop).start()

    try:
        t0 = time.monotonic()
        result = session.run(cmd, mode=FAIR, threads_total=2, on_event=on_event)
        took = time.monotonic() - t0
    finally:
        session.close()
    assert result.user_stopped and not result.complete
    # A replay stopped jumps to its end: the stopped model's answer is whole.
    assert result.runs[target].answer == workers[target].record.answer
    # The models after it never start; they are recorded as stopped, with no tokens.
    for rec in result.runs[target + 1:]:
        assert rec.finished.stop_reason == p.STOP_USER and not rec.tokens
    assert took < 0.8 * 3 * 40 * 0.02
    assert any(st.user_stopped for st in states) and not states[-1].active


def test_a_model_that_failed_to_load_keeps_its_sentence_and_the_others_answer(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with CompareSession(["A", "B"]) as session:
        session.set_participant(0, stand_in("A"))
        with pytest.raises(p.WorkerFailed) as err:
            session.load_one(1, str(broken))
        message = err.value.error.message
        assert message and "\n" not in message
        result = session.run(cmd, mode=RACE, threads_total=2)
    ok, failed = result.runs
    assert ok.finished.stop_reason == p.STOP_MAX_TOKENS and ok.answer
    assert failed.error is not None and failed.error.message == message


def test_one_round_at_a_time():
    with session_of(stand_in("A", 20, 0.02), stand_in("B", 20, 0.02)) as session:
        session.start({0: cmd(0), 1: cmd(1)}, RACE, 2)
        with pytest.raises(SessionBusy):
            session.start({0: cmd(0)}, RACE, 2)
        with pytest.raises(SessionBusy):
            session.remove_slot(1)
        assert session.wait(5)
        session.remove_slot(1)
        assert session.labels == ["A"]


def test_run_settings_build_every_field_of_the_command():
    s = RunSettings(prompt=PromptOptions(system_prompt="Be brief.", thinking=False, n_threads=3))
    c = command_for(s, [p.ChatMessage("user", "hi"), p.ChatMessage("assistant", "hello")], "again",
                    request_id=7, thinking_switch=True, seed=5)
    assert [m.role for m in c.messages] == ["system", "user", "assistant", "user"]
    assert c.sampling.seed == 5 and c.sampling.max_tokens == 256 and c.enable_thinking is False and c.n_threads == 3
    raw = command_for(RunSettings(prompt=PromptOptions(raw=True)), (), "Once upon", thinking_switch=False)
    assert raw.messages == () and raw.raw_prompt == "Once upon" and raw.enable_thinking is None


def test_the_state_is_published_with_the_result_and_one_busy_says_why():
    states = []
    with session_of(stand_in("A", 6, 0.02), stand_in("B", 6, 0.04)) as session:
        session.subscribe(states.append)
        assert not session.busy and session.state.reason == ""
        result = session.run(cmd, mode=RACE, threads_total=2)
        final = session.state
        assert final.result is result and not final.busy and final.reason == ""
        assert any(st.running == frozenset({0, 1}) for st in states)
        assert "A" in result.verdict() and final.headline() == f"Race: {result.verdict()} · {final.note}"
        session.set_job("A benchmark is running.")
        assert session.busy and session.state.reason == "A benchmark is running."
        with pytest.raises(SessionBusy):
            session.start({0: cmd(0)}, RACE, 2)
        session.set_job("")
        assert not session.busy


def test_recorded_runs_play_in_a_light_session_and_esc_jumps_to_the_end_whole():
    records = [made_up_run("A", 60, 0.05, "a"), made_up_run("B", 30, 0.1, "b")]
    with CompareSession.of_records(["A", "B"], records) as replay:
        assert replay.sampler._thread is None  # nothing to sample: no process runs
        t0 = time.monotonic()
        result = replay.play()
        time.sleep(0.3)
        replay.stop()
        assert replay.wait(2.0)
        took = time.monotonic() - t0
    assert took < 1.5  # the recording lasts about 3 s
    assert [r.answer for r in result.runs] == [r.answer for r in records]
    assert result.complete and not result.user_stopped
    for rec, src in zip(result.runs, records):
        assert rec.stats().n_tokens == src.stats().n_tokens


def test_fair_modes_replay_is_a_phase_of_the_session_and_the_verdict_waits_for_its_end():
    seen: list[tuple[int, object]] = []
    headlines: list[str] = []
    with session_of(stand_in("A", 8, 0.03), stand_in("B", 8, 0.02)) as session:
        session.subscribe(lambda st: headlines.append(st.headline()))
        live = session.run(cmd, mode=FAIR, threads_total=2)
        assert session.replay(lambda i, ev: seen.append((i, ev)))
        assert session.state.replaying and session.busy
        assert "replaying side by side" in session.state.headline()
        assert live.verdict() not in session.state.headline()
        with pytest.raises(SessionBusy):
            session.start({0: cmd(0)}, RACE, 2)
        deadline = time.monotonic() + 5
        while session.state.replaying and time.monotonic() < deadline:
            time.sleep(0.01)
        state = session.state
    assert not state.replaying and state.replayed and state.result is live
    assert state.headline() == f"Fair: {live.verdict()} · {state.note} · replayed side by side"
    starts = [ev for _, ev in seen if isinstance(ev, RunStarted)]
    assert sorted(ev.index for ev in starts) == [0, 1]  # events name the live session's slots
    for i in (0, 1):
        text = "".join(ev.answer for k, ev in seen if k == i and isinstance(ev, p.Token))
        assert text == live.runs[i].answer
    assert any("replaying" in h for h in headlines)
