"""The remote engine without a server: the SSE parser, request bodies, server
references, and connections refused before any server answers (against a
misbehaving server: tests/integration/test_remote_misbehaving.py)."""

from __future__ import annotations

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.remote.request import request_body
from gemmacompare.engine.remote.server_ref import ServerRefError, parse_server_ref
from gemmacompare.engine.remote.sse import SSEParser
from gemmacompare.engine.remote.worker import RemoteWorker
from gemmacompare.engine.run_settings import ServerSettings
from tests.fake_servers import free_port

FAST = ServerSettings(connect_timeout_s=2, first_byte_timeout_s=1.0, idle_timeout_s=0.6)


PROMPT = (p.ChatMessage("user", "What is 2+2?"),)


def load_error(url: str, settings: ServerSettings = FAST) -> str:
    with pytest.raises(p.WorkerFailed) as info:
        RemoteWorker("B", settings).load(url)
    return info.value.error.message


def assert_one_sentence(msg: str) -> None:
    assert msg and "\n" not in msg and msg.endswith(".") and "Traceback" not in msg
    assert msg.count(". ") == 0 or msg.count("; ") >= 0  # a sentence, possibly with a clause after ';'
    assert len(msg) < 300


def test_sse_parser_handles_split_reads_crlf_comments_and_multiline_data():
    parser = SSEParser()
    out = parser.feed(b"data: {\"a\"", 1.0)
    assert out == []
    out = parser.feed(b": 1}\r\n\r\n: ping\r", 2.0)
    assert [(e.data, e.t) for e in out] == [('{"a": 1}', 2.0)]
    out = parser.feed(b"\nevent: error\ndata: line1\ndata: line2\n\n", 3.0)
    assert out[0].comment and out[0].data == "ping"
    assert (out[1].event, out[1].data, out[1].t) == ("error", "line1\nline2", 3.0)


def test_server_refs(monkeypatch):
    r = parse_server_ref("http://127.0.0.1:8080")
    assert (r.base_url, r.model, r.is_loopback, r.insecure) == ("http://127.0.0.1:8080/v1", None, True, False)
    r = parse_server_ref("http://gpu-box:8000/v1/chat/completions#Qwen/Qwen3-4B")
    assert (r.base_url, r.model, r.insecure) == ("http://gpu-box:8000/v1", "Qwen/Qwen3-4B", True)
    assert not parse_server_ref("https://api.example.com/v1").insecure
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert parse_server_ref("ollama-server:qwen3:4b") == parse_server_ref("http://127.0.0.1:11434/v1#qwen3:4b")
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:9999")
    assert parse_server_ref("ollama-server:gemma3").base_url == "http://127.0.0.1:9999/v1"
    for bad in ("http://", "ftp://x/v1", "http://u:secret@host/v1", "http://h:port/v1", "ollama-server:"):
        with pytest.raises(ServerRefError) as info:
            parse_server_ref(bad)
        assert "secret" not in str(info.value)


def test_request_body_passes_sampling_and_thinking_switch():
    cmd = p.GenerateCommand(1, PROMPT, sampling=p.SamplingSettings(max_tokens=7, stop=("\n\n",)), enable_thinking=False)
    body = request_body(cmd, "m", ollama=False)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"], body["repeat_penalty"], body["stop"]) == (7, 0.0, 1.0, ["\n\n"])
    assert request_body(cmd, "m", ollama=True)["reasoning_effort"] == "none"
    raw = request_body(p.GenerateCommand(1, raw_prompt="Once upon"), "m", ollama=False)
    assert raw["prompt"] == "Once upon" and "messages" not in raw
    # --ignore-eos: llama-server's own field, sent only when asked.
    assert "ignore_eos" not in body
    fixed = p.GenerateCommand(1, PROMPT, sampling=p.SamplingSettings(max_tokens=7, ignore_eos=True))
    assert request_body(fixed, "m", ollama=False)["ignore_eos"] is True


def test_connection_refused():
    msg = load_error(f"http://127.0.0.1:{free_port()}/v1")
    assert "connection refused" in msg
    assert_one_sentence(msg)


def test_unknown_host():
    msg = load_error("http://no-such-host.invalid/v1")
    assert "unknown" in msg and "no-such-host.invalid" in msg
    assert_one_sentence(msg)
