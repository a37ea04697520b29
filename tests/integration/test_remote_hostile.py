"""Servers that never finish, or send JSON no parser should recurse into (issue 24, items 3 and 4).

Each misbehaviour is a path of the misbehaving server (tests/fake_servers.py); each
test asserts one sentence, bounded time and bounded memory of this process.
"""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.remote.sse import SSEParser
from gemmacompare.engine.remote.stream import chunk_limit
from gemmacompare.engine.remote.worker import RemoteWorker
from gemmacompare.engine.run_settings import ServerSettings

FAST = ServerSettings(connect_timeout_s=2, first_byte_timeout_s=1.5, idle_timeout_s=0.6)
PROMPT = (p.ChatMessage("user", "What is 2+2?"),)


class PeakRSS:
    """This process's peak RSS growth while the block runs, sampled every 10 ms."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.growth = 0
        self._done = threading.Event()

    def __enter__(self) -> "PeakRSS":
        self.rss0 = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.growth = max(self.growth, self.proc.memory_info().rss - self.rss0)

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def one_sentence(msg: str) -> None:
    assert msg and "\n" not in msg and msg.endswith(".") and "Traceback" not in msg and len(msg) < 300
    assert "RecursionError" not in msg


def run(url: str, settings: ServerSettings = FAST, max_tokens: int = 64) -> RunRecord:
    w = RemoteWorker("B", settings)
    w.load(url)
    rec = RunRecord("B", time.monotonic())
    try:
        for ev in w.generate(messages=PROMPT, sampling=p.SamplingSettings(max_tokens=max_tokens)):
            rec.add(ev)
    finally:
        w.close()
    return rec


def load_error(url: str, settings: ServerSettings = FAST) -> str:
    with pytest.raises(p.WorkerFailed) as info:
        RemoteWorker("B", settings).load(url)
    return info.value.error.message


# --- only text is progress ---------------------------------------------------------

def test_pings_and_empty_deltas_before_any_text_do_not_keep_a_stream_open(misbehaving_server):
    t0 = time.monotonic()
    rec = run(misbehaving_server.url("pings-only"))
    assert time.monotonic() - t0 < 6  # first-byte timeout 1.5 s
    assert rec.error is not None and rec.finished is None
    assert "sent no text within 1.5 s" in rec.error.message and "pings" in rec.error.message
    one_sentence(rec.error.message)


def test_pings_and_empty_deltas_after_text_do_not_reset_the_idle_timeout(misbehaving_server):
    t0 = time.monotonic()
    rec = run(misbehaving_server.url("text-then-pings"))
    assert time.monotonic() - t0 < 6  # idle timeout 0.6 s, pings every 50 ms
    assert rec.answer == "Thinking about it"
    assert rec.finished.stop_reason == p.STOP_STREAM_CUT and not rec.finished.server.complete
    assert "went silent for 0.6 s" in rec.finished.server.problem
    one_sentence(rec.finished.server.problem)


def test_a_flood_of_empty_chunks_ends_at_max_tokens(misbehaving_server):
    slow = ServerSettings(connect_timeout_s=2, first_byte_timeout_s=600, idle_timeout_s=600)
    t0 = time.monotonic()
    rec = run(misbehaving_server.url("empty-chunks"), slow, max_tokens=5)
    assert time.monotonic() - t0 < 10  # no timeout would end it: -n does
    assert rec.error is not None and rec.finished is None
    assert "chunks without any text" in rec.error.message
    one_sentence(rec.error.message)


def test_a_flood_of_empty_chunks_after_text_ends_under_the_idle_timeout(misbehaving_server):
    t0 = time.monotonic()
    with PeakRSS() as peak:
        rec = run(misbehaving_server.url("text-then-empty-chunks"), max_tokens=10_000_000)
    assert time.monotonic() - t0 < 6  # idle timeout 0.6 s: empty chunks are no progress
    assert peak.growth < 100 << 20
    assert rec.answer == "Thinking about it" and rec.finished.stop_reason == p.STOP_STREAM_CUT
    assert "went silent for 0.6 s" in rec.finished.server.problem


# --- a stream past max tokens is cut ----------------------------------------------

def test_a_server_that_ignores_max_tokens_is_cut(misbehaving_server):
    t0 = time.monotonic()
    rec = run(misbehaving_server.url("past-max-tokens"), max_tokens=5)
    assert time.monotonic() - t0 < 10
    assert rec.error is None
    assert rec.finished.stop_reason == p.STOP_MAX_TOKENS and not rec.finished.server.complete
    assert "went on past the limit of 5 tokens" in rec.finished.server.problem
    one_sentence(rec.finished.server.problem)
    assert len(rec.tokens) == chunk_limit(5) + 1  # kept up to the cut
    assert rec.answer.startswith(" w0 w1")
    deadline = time.monotonic() + 3
    while "past-max-tokens" not in misbehaving_server.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "past-max-tokens" in misbehaving_server.disconnects  # the server was told


def test_huge_chunks_are_cut_by_size_too(misbehaving_server):
    with PeakRSS() as peak:
        rec = run(misbehaving_server.url("fat-chunks"), max_tokens=5)
    assert rec.finished.stop_reason == p.STOP_MAX_TOKENS
    assert len(rec.answer) < 1 << 20
    assert peak.growth < 200 << 20


def test_an_event_that_never_ends_is_refused(misbehaving_server):
    # A first-byte timeout long enough that the event limit, not the watchdog, ends it.
    settings = ServerSettings(connect_timeout_s=2, first_byte_timeout_s=30, idle_timeout_s=5)
    with PeakRSS() as peak:
        t0 = time.monotonic()
        rec = run(misbehaving_server.url("endless-event"), settings)
    assert time.monotonic() - t0 < 20
    assert rec.error is not None and "not an event stream" in rec.error.message
    one_sentence(rec.error.message)
    assert peak.growth < 200 << 20


def test_sse_parser_bounds_an_event_of_many_short_lines():
    parser = SSEParser()
    with pytest.raises(Exception, match="longer than 4 MiB"):
        for _ in range(1000):
            parser.feed(b"data: x\n" * 4096, 0.0)


# --- every body capped ------------------------------------------------------------

def test_a_model_list_that_never_ends_does_not_grow_memory(misbehaving_server):
    settings = ServerSettings(connect_timeout_s=2, first_byte_timeout_s=20, idle_timeout_s=5)
    with PeakRSS() as peak:
        t0 = time.monotonic()
        msg = load_error(misbehaving_server.url("endless-models"), settings)
    assert time.monotonic() - t0 < 15
    assert "larger than 4 MiB" in msg
    one_sentence(msg)
    assert peak.growth < 200 << 20  # the old read grew about 100 MB/s until it was killed


# --- deeply nested JSON is one sentence, never RecursionError --------------------

def test_a_deeply_nested_model_list(misbehaving_server):
    msg = load_error(misbehaving_server.url("deep-models"))
    assert "nested more than 64 levels deep" in msg
    one_sentence(msg)


def test_a_deeply_nested_error_body_on_the_model_list(misbehaving_server):
    msg = load_error(misbehaving_server.url("deep-models-error"))
    assert "failed with HTTP 500" in msg
    one_sentence(msg)


def test_a_deeply_nested_error_body_on_a_request(misbehaving_server):
    rec = run(misbehaving_server.url("deep-error"))
    assert rec.error is not None and "failed with HTTP 500" in rec.error.message
    one_sentence(rec.error.message)


def test_a_deeply_nested_chunk(misbehaving_server):
    rec = run(misbehaving_server.url("deep-chunk"))
    assert rec.error is not None and "nested too deeply" in rec.error.message
    one_sentence(rec.error.message)


def test_compare_reports_a_deeply_nested_chunk_and_does_not_exit_0(misbehaving_server, capsys):
    from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED
    from gemmacompare.cli.main import main

    rc = main(["compare", misbehaving_server.url("echo"), misbehaving_server.url("deep-chunk"), "-p", "hello there",
               "--idle-timeout", "5"])
    out = capsys.readouterr()
    assert rc == EXIT_MODEL_FAILED
    assert "[B] error: The server at" in out.err and "nested too deeply" in out.err
    assert "[A] hello there" in out.out
    assert "RecursionError" not in out.err + out.out


def test_a_prompt_that_is_not_utf8_is_refused_before_sending(misbehaving_server):
    w = RemoteWorker("B", FAST)
    w.load(misbehaving_server.url("echo"))
    bad = (p.ChatMessage("user", b"caf\xe9".decode("utf-8", "surrogateescape")),)
    rec = RunRecord("B", time.monotonic())
    for ev in w.generate(messages=bad):
        rec.add(ev)
    w.close()
    assert rec.error is not None and "not UTF-8" in rec.error.message
    one_sentence(rec.error.message)
    assert misbehaving_server.requests == []  # nothing went out
