"""Hostile input to the local engine on the real demo models (issue 24, items 2 and 7).

A chat template in a stranger's GGUF that loops for ever or builds a 200 MB string
gives one sentence in its own pane within the render limits, while the other model
answers; every sampler option runs on a real model; a prompt that is not UTF-8 says so.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.session import CompareSession
from gemmacompare.models.gguf_file import read_model_facts

PROMPT = (p.ChatMessage("user", "Name three primary colours."),)
GREEDY = p.SamplingSettings(max_tokens=6, temperature=0.0)

# Under the output limit per call (65,536 for a 2048 context), 3.6e9 iterations together.
ENDLESS_LOOP = "{% for i in range(60000) %}{% for j in range(60000) %}{{ '' }}{% endfor %}{% endfor %}"
# Streams 10 characters at a time towards 2 GB: the output limit (32 characters per token
# of the context) must stop it long before 200 MB exist.
HUGE_OUTPUT = "{% for i in range(200000000) %}xxxxxxxxxx{% endfor %}"


def with_template(src: Path, dst: Path, template: str) -> Path:
    """A copy of a GGUF whose chat template is replaced by `template`, padded with
    spaces to the original's byte length so every offset in the file stays right."""
    old = read_model_facts(src).chat_template.encode()
    new = template.encode()
    assert len(new) <= len(old)
    data = src.read_bytes()
    assert data.count(old) == 1
    dst.write_bytes(data.replace(old, new + b" " * (len(old) - len(new))))
    return dst


def one_sentence(msg: str) -> None:
    assert msg and "\n" not in msg and msg.endswith(".") and "Traceback" not in msg and len(msg) < 300


@pytest.mark.parametrize(("template", "expected"), [
    (ENDLESS_LOOP, "took longer than 5 s to render"),
    (HUGE_OUTPUT, "would produce more than 65,536 characters"),
])
def test_hostile_template_is_one_sentence_while_the_other_model_answers(demo_paths, tmp_path, template, expected):
    hostile = with_template(demo_paths["smollm2"], tmp_path / "hostile.gguf", template)
    with CompareSession(("hostile", "gemma")) as session:
        assert session.load([str(hostile), str(demo_paths["gemma3"])], p.LoadSettings(n_ctx=2048)) == [None, None]
        pid = session.slots[0].worker.pid
        t0 = time.monotonic()
        result = session.run(lambda i: p.GenerateCommand(request_id=10 + i, messages=PROMPT, sampling=GREEDY),
                             threads_total=2)
        elapsed = time.monotonic() - t0
        bad, good = result.runs
        assert bad.error is not None and bad.finished is None
        one_sentence(bad.error.message)
        assert expected in bad.error.message
        assert good.error is None and good.finished is not None and good.answer.strip()
        # Generous: the time limit is 5 s, and the other model decodes 6 tokens meanwhile.
        assert elapsed < 60
        # The worker that rendered it stays small and alive for the next request.
        assert psutil.Process(pid).memory_info().rss < 1 << 30
        assert session.slots[0].worker.alive


@pytest.fixture(scope="module")
def smol(demo_paths):
    w = ModelWorker("smol")
    w.load(str(demo_paths["smollm2"]), p.LoadSettings(n_ctx=512))
    yield w
    w.close()


def generate(worker: ModelWorker, sampling: p.SamplingSettings, messages=PROMPT) -> RunRecord:
    rec = RunRecord(worker.label, time.monotonic())
    for ev in worker.generate(p.GenerateCommand(request_id=1, messages=messages, sampling=sampling)):
        rec.add(ev)
    return rec


@pytest.mark.parametrize("sampling", [
    p.SamplingSettings(max_tokens=4, temperature=0.0, repeat_penalty=1.3),
    p.SamplingSettings(max_tokens=4, temperature=0.8, repeat_penalty=1.3),
    p.SamplingSettings(max_tokens=4, temperature=0.8, repeat_penalty=0.9),
    p.SamplingSettings(max_tokens=4, temperature=0.8, top_k=1),
    p.SamplingSettings(max_tokens=4, temperature=0.8, top_k=0, top_p=0.5, min_p=0.0),
    p.SamplingSettings(max_tokens=4, temperature=0.8, top_p=1.0, min_p=0.3),
    p.SamplingSettings(max_tokens=4, temperature=1.5, seed=12345),
    p.SamplingSettings(max_tokens=4, temperature=0.0, stop=("colour",)),
], ids=["penalty-greedy", "penalty-sampled", "penalty-below-1", "top-k", "top-p", "min-p", "seed", "stop"])
def test_every_sampler_option_generates_on_a_real_model(smol, sampling):
    rec = generate(smol, sampling)
    assert rec.error is None, rec.error
    assert rec.finished is not None and rec.finished.n_generated > 0
    assert rec.finished.stop_reason in (p.STOP_MAX_TOKENS, p.STOP_EOS, p.STOP_STRING)


def test_repeat_penalty_changes_a_greedy_loop(smol):
    # Greedy SmolLM2 answers this with a loop of French phrases (see DESIGN.md); the
    # penalty is applied only if the answer then differs.
    france = (p.ChatMessage("user", "What is the capital of France?"),)
    plain = generate(smol, p.SamplingSettings(max_tokens=40, temperature=0.0), france)
    penalised = generate(smol, p.SamplingSettings(max_tokens=40, temperature=0.0, repeat_penalty=1.5), france)
    assert plain.error is None and penalised.error is None
    assert plain.answer != penalised.answer


def test_a_prompt_that_is_not_utf8_says_so(smol):
    # Bytes that are not UTF-8 reach Python from argv or a file as lone surrogates.
    bad = (p.ChatMessage("user", b"caf\xe9 au lait".decode("utf-8", "surrogateescape")),)
    rec = generate(smol, GREEDY, bad)
    assert rec.error is not None
    one_sentence(rec.error.message)
    assert "not UTF-8" in rec.error.message
    assert generate(smol, GREEDY).error is None  # the worker goes on


def test_a_chat_too_long_for_the_context_is_not_blamed_on_the_template():
    from gemmacompare.engine.local.prompts import render_chat
    from gemmacompare.models.chat_template import TemplateError

    long_chat = (p.ChatMessage("user", "word " * 20_000),)  # 100,000 characters; 2,048 tokens hold ~65,536
    with pytest.raises(TemplateError) as info:
        render_chat(long_chat, template=None, architecture="llama", n_ctx=2048)
    msg = str(info.value)
    one_sentence(msg)
    assert msg == ("The chat is 100,000 characters, more than a context of 2,048 tokens can hold; "
                   "start a new chat or raise the context size.")
    # The same chat renders where the context is large enough.
    assert render_chat(long_chat, template=None, architecture="llama", n_ctx=8192).text.count("word") == 20_000
