"""The remote engine against a misbehaving server and server response shapes.

The stand-in server (tests/fake_servers.py) sits at the network edge only; the
real OpenAI-compatible server is exercised in test_remote_server.py.
"""

from __future__ import annotations

import time

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.remote.worker import RemoteWorker
from gemmacompare.engine.run_settings import ServerSettings
from tests.fake_servers import SHAPE_TIMINGS, stalling_listener
from tests.unit.test_remote import FAST, PROMPT, assert_one_sentence, load_error


def run(url: str, settings: ServerSettings = FAST, **kw) -> tuple[RunRecord, list[p.Event]]:
    w = RemoteWorker("B", settings)
    w.load(url)
    rec = RunRecord("B", time.monotonic())
    events = []
    for ev in w.generate(messages=kw.pop("messages", PROMPT), **kw):
        rec.add(ev)
        events.append(ev)
    w.close()
    return rec, events


def test_llama_server_reasoning_content_shape(misbehaving_server):
    """reasoning_content deltas as llama-server sends them for a thinking model (a shape from its
    source: the recorded demo model does not think; test_llama_server_recorded.py replays real bytes)."""
    rec, events = run(misbehaving_server.url("llama-server-reasoning"))
    assert rec.error is None
    assert rec.thinking == "The user asks for 2+2."
    assert rec.answer == "2 + 2 = 4."
    fin = rec.finished
    assert fin.stop_reason == p.STOP_EOS
    assert fin.server.source == "usage+timings"
    assert (fin.server.n_prompt, fin.server.n_generated) == (14, 6)
    assert fin.server.prompt_ms == SHAPE_TIMINGS["prompt_ms"]
    st = rec.stats()
    assert st.remote and st.n_tokens == 6 and st.n_chunks == 5
    assert st.server_gen_tps == pytest.approx(SHAPE_TIMINGS["predicted_per_second"], rel=1e-3)
    assert st.n_thinking is None and st.ms_per_token_p50 is None  # chunks give no per-token split
    assert all(isinstance(e, p.Token) and e.token_id == p.SERVER_CHUNK for e in events[1:-1])


def test_ollama_reasoning_and_usage(misbehaving_server):
    rec, _ = run(misbehaving_server.url("ollama"))
    assert (rec.thinking, rec.answer) == ("Adding two and two.", "4")
    st = rec.stats()
    assert (st.server_source, st.n_tokens, st.server_n_prompt, st.server_gen_tps) == ("usage", 9, 11, None)


def test_vllm_reasoning_cached_tokens_and_length_stop(misbehaving_server):
    rec, _ = run(misbehaving_server.url("vllm"))
    assert (rec.thinking, rec.answer, rec.finished.stop_reason) == ("Two plus two", "Four", p.STOP_MAX_TOKENS)
    assert rec.finished.server.n_cached == 4


def test_inline_think_goes_through_the_splitter(misbehaving_server):
    rec, _ = run(misbehaving_server.url("inline-think"))
    assert (rec.thinking, rec.answer) == ("pondering", "Done")
    st = rec.stats()
    assert st.server_source == "none" and st.n_tokens is None and st.n_chunks == 4  # chunks, never tokens
    assert st.time_to_answer_s >= st.ttft_s


def test_first_byte_timeout_on_model_list():
    sock, port = stalling_listener()
    try:
        t0 = time.monotonic()
        msg = load_error(f"http://127.0.0.1:{port}/v1", ServerSettings(first_byte_timeout_s=0.5))
        assert time.monotonic() - t0 < 5
        assert "did not start answering within 0.5 s" in msg
        assert_one_sentence(msg)
    finally:
        sock.close()


def test_first_byte_timeout_on_chat(misbehaving_server):
    t0 = time.monotonic()
    rec, _ = run(misbehaving_server.url("stall"))
    assert time.monotonic() - t0 < 4
    assert "did not start answering within 1 s" in rec.error.message
    assert_one_sentence(rec.error.message)


@pytest.mark.parametrize("behaviour, words", [
    ("401", "refused the API key"),
    ("429", "rate-limiting"),
    ("500", "HTTP 500: CUDA error: out of memory"),
    ("garbage-chat", "did not answer with an event stream (text/html)"),
    ("json-error", "answered with an error: model is loading"),
    ("not-json", "not JSON"),
    ("mid-error", "mid-stream: exceeds the available context size"),
])
def test_error_kinds_get_one_sentence(misbehaving_server, behaviour, words):
    rec, _ = run(misbehaving_server.url(behaviour))
    assert rec.error is not None and rec.finished is None
    assert words in rec.error.message
    assert_one_sentence(rec.error.message)


def test_unknown_model_id_is_caught_at_load_and_at_request(misbehaving_server):
    msg = load_error(misbehaving_server.url("ok", "nope"))
    assert "no model 'nope'" in msg and "fake-model" in msg
    assert_one_sentence(msg)
    rec, _ = run(misbehaving_server.url("404"))
    assert "does not know the model 'fake-model'" in rec.error.message


def test_model_list_problems(misbehaving_server):
    msg = load_error(misbehaving_server.url("two-models"))
    assert "serves 2 models (alpha, beta)" in msg and "#alpha" in msg
    assert "serves no models" in load_error(misbehaving_server.url("no-models"))
    assert "did not answer with an OpenAI-style model list" in load_error(misbehaving_server.url("garbage"))
    w = RemoteWorker("B", FAST)
    assert w.load(misbehaving_server.url("two-models", "beta")).facts.name == "beta"


def test_cut_stream_keeps_and_marks_the_partial_answer(misbehaving_server):
    rec, _ = run(misbehaving_server.url("cut"))
    assert rec.error is None
    assert rec.answer == "The answer is forty"
    assert rec.finished.stop_reason == p.STOP_STREAM_CUT
    assert not rec.finished.server.complete
    assert "cut the stream mid-answer" in rec.finished.server.problem
    assert_one_sentence(rec.finished.server.problem)


def test_stream_that_never_ends_hits_the_idle_timeout(misbehaving_server):
    t0 = time.monotonic()
    rec, _ = run(misbehaving_server.url("never-ends"))
    assert time.monotonic() - t0 < 4
    assert rec.answer == "Thinking about it"
    assert rec.finished.stop_reason == p.STOP_STREAM_CUT
    assert "went silent for 0.6 s" in rec.finished.server.problem


def test_stop_closes_the_stream_quickly_and_the_server_sees_it(misbehaving_server):
    import threading

    w = RemoteWorker("B", FAST)
    w.load(misbehaving_server.url("slow"))
    rec = RunRecord("B", time.monotonic())
    stopped_at = []

    def stop_soon():
        time.sleep(0.5)
        stopped_at.append(time.monotonic())
        w.stop()

    threading.Thread(target=stop_soon).start()
    for ev in w.generate(messages=PROMPT):
        rec.add(ev)
    ended = time.monotonic()
    assert rec.finished.stop_reason == p.STOP_USER
    assert ended - stopped_at[0] < 0.5
    assert 5 <= len(rec.tokens) < 200
    deadline = time.monotonic() + 3
    while "slow" not in misbehaving_server.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "slow" in misbehaving_server.disconnects  # the server was told: its writes failed
    # The worker is reusable after a stop.
    rec2, _ = run(misbehaving_server.url("echo"), messages=(p.ChatMessage("user", "hello there"),))
    assert rec2.answer == "hello there "


def test_nothing_local_is_sent(misbehaving_server, demo_paths):
    run(misbehaving_server.url("echo"))
    body = misbehaving_server.requests[-1]["body"]
    assert body["model"] == "fake-model"
    assert body["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert str(demo_paths["smollm2"]) not in str(body)
