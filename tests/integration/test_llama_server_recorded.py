"""llama.cpp's own llama-server, as recorded byte for byte (tests/data/llama-server/README.md)
and replayed at the network edge: its `timings` and usage, the model list and its error bodies.

The expected figures are read from the recordings themselves, so these tests check the parsing
of what llama-server really sends, not of shapes written from notes.
"""

from __future__ import annotations

import json

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.remote.client import list_models
from gemmacompare.engine.remote.server_ref import parse_server_ref
from tests.fake_servers import recorded_events, recorded_response
from tests.integration.test_remote_misbehaving import run
from tests.unit.test_remote import FAST, assert_one_sentence, load_error

QUESTION = (p.ChatMessage("user", "What is 2+2? Answer in one short sentence."),)


def final_figures(name: str) -> tuple[dict, dict]:
    last = [e for e in recorded_events(name) if "timings" in e][-1]
    return last["usage"], last["timings"]


def test_streamed_chat_timings_and_usage(misbehaving_server):
    rec, events = run(misbehaving_server.url("llama-server"), messages=QUESTION,
                      sampling=p.SamplingSettings(max_tokens=16))
    usage, timings = final_figures("chat-stream")
    deltas = [e["choices"][0]["delta"].get("content") for e in recorded_events("chat-stream") if e["choices"]]
    texts = [d for d in deltas if d]
    assert rec.error is None
    assert rec.answer == "".join(texts) == 'The answer is "2 + 2 = 4."'
    fin = rec.finished
    assert fin.stop_reason == p.STOP_EOS
    assert fin.server.source == "usage+timings" and fin.server.complete
    assert (fin.server.n_prompt, fin.server.n_generated) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert (fin.server.n_prompt, fin.server.n_generated) == (timings["prompt_n"], timings["predicted_n"])
    assert fin.server.prompt_ms == timings["prompt_ms"] and fin.server.gen_ms == timings["predicted_ms"]
    assert fin.server.n_cached == usage["prompt_tokens_details"]["cached_tokens"]
    st = rec.stats()
    assert st.remote and st.n_tokens == usage["completion_tokens"] and st.n_chunks == len(texts)
    assert st.server_gen_tps == pytest.approx(timings["predicted_per_second"], rel=1e-6)
    assert st.server_prompt_tps == pytest.approx(timings["prompt_per_second"], rel=1e-6)
    assert st.gen_tps is not None and st.ttft_s > 0  # the client's own clock, beside the server's
    assert all(isinstance(e, p.Token) and e.token_id == p.SERVER_CHUNK for e in events[1:-1])


def test_non_streamed_usage_of_the_same_request_matches_the_streamed_counts(misbehaving_server):
    rec, _ = run(misbehaving_server.url("llama-server"), messages=QUESTION, sampling=p.SamplingSettings(max_tokens=16))
    body = recorded_response("chat").partition(b"\r\n\r\n")[2]
    whole = json.loads(body)
    assert whole["choices"][0]["message"]["content"] == rec.answer
    assert whole["usage"]["completion_tokens"] == rec.finished.server.n_generated
    assert whole["usage"]["prompt_tokens"] == rec.finished.server.n_prompt


def test_raw_completion_stream_counts_come_with_its_last_chunk(misbehaving_server):
    rec, _ = run(misbehaving_server.url("llama-server"), messages=(), raw_prompt="The capital of France is",
                 sampling=p.SamplingSettings(max_tokens=8))
    usage, timings = final_figures("completion-stream")
    text = "".join(e["choices"][0]["text"] for e in recorded_events("completion-stream") if e["choices"])
    assert rec.error is None and rec.answer == text and text
    assert rec.finished.stop_reason == p.STOP_MAX_TOKENS
    assert (rec.finished.server.n_prompt, rec.finished.server.n_generated) == (5, usage["completion_tokens"])
    assert rec.stats().server_gen_tps == pytest.approx(timings["predicted_per_second"], rel=1e-6)


def test_model_list_facts(misbehaving_server):
    [model] = list_models(parse_server_ref(misbehaving_server.url("llama-server")), FAST)
    row = json.loads(recorded_response("models").partition(b"\r\n\r\n")[2])["data"][0]
    assert model.id == row["id"] and model.id.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert (model.context_length, model.parameters, model.size) == (8192, 134515008, 96576768)
    assert model.owned_by == "llamacpp"


def test_prompt_over_the_context_is_the_servers_own_sentence(misbehaving_server):
    url = misbehaving_server.url("llama-server-too-long")
    rec, _ = run(url)
    assert rec.error.message == (f"The server at {url} rejected the request (HTTP 400): "
                                 "request (3031 tokens) exceeds the "
                                 "available context size (2048 tokens), try increasing it.")
    assert_one_sentence(rec.error.message)


def test_server_error_is_one_sentence(misbehaving_server):
    url = misbehaving_server.url("llama-server-bad-json")
    rec, _ = run(url)
    assert rec.error.message.startswith(f"The server at {url} failed with HTTP 500: [json.exception.parse_error.101] ")
    assert rec.error.message.endswith("; check the server's log and try again.")
    assert_one_sentence(rec.error.message)
    assert load_error(f"http://127.0.0.1:{misbehaving_server.port}/llama-server/v1#other-model").startswith(
        f"The server at http://127.0.0.1:{misbehaving_server.port}/llama-server/v1 has no model 'other-model'")
