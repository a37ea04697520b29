"""Run files of conversations (issue 31, item 4): each turn's figures, the cache policy and what
a request took from the cache, read strictly; every new field has its hostile cases; files
written before these fields still read."""

from __future__ import annotations

import copy
import json
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmacompare.engine.run_file import RunFileError, read_run_file
from tests.hostile_run_files import good_run_doc


def _turn(n: int, cache: str, n_prompt: int, n_reused: int) -> dict:
    return {"turn": n, "cache": cache, "n_prompt": n_prompt, "n_reused": n_reused, "n_prefilled": n_prompt - n_reused,
            "ttft_s": 0.3, "ms_per_token": 20.0, "n_tokens": 8, "total_s": 0.5, "stop_reason": "eos",
            "n_checkpoint": 0, "why_full": "", "server": False, "server_prompt_ms": None, "error": ""}


def good_conversation_doc() -> dict:
    doc = good_run_doc(6)
    doc["prompt"] = "And the evening?"
    for m in doc["models"]:
        m["settings"]["prompt"]["cache"] = "keep"
        m["run"]["prefill"]["n_reused"] = 3
        m["run"]["finished"]["cache"] = {"policy": "keep", "n_reused": 3, "n_checkpoint": 0, "why_full": "",
                                         "checkpoint_bytes": 0, "parted": ""}
    doc["conversation"] = {
        "id": "trip", "cache": "keep", "system": "Be brief.", "turns": ["Plan a day in Rome.", "And the evening?"],
        "figures": [[_turn(1, "cold", 20, 0), _turn(2, "keep", 40, 28)] for _ in range(2)],
        "replies": [["Start at the Colosseum.", "Trastevere."] for _ in range(2)],
    }
    return doc


def _read(doc) -> object:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "conv.gcrun"
        path.write_text(json.dumps(doc))
        try:
            return read_run_file(path)
        except RunFileError as exc:
            assert exc.message.endswith(".") and "\n" not in exc.message and len(exc.message) < 600
            return exc


def test_a_conversation_run_file_reads_every_turn_and_the_cache():
    run = _read(good_conversation_doc())
    assert not isinstance(run, RunFileError), run
    conv = run.conversation
    assert conv is not None and conv.id == "trip" and conv.cache == "keep" and conv.system == "Be brief."
    assert conv.turns == ("Plan a day in Rome.", "And the evening?")
    assert [[t.turn for t in rows] for rows in conv.figures] == [[1, 2], [1, 2]]
    assert conv.figures[0][1].n_reused == 28 and conv.figures[0][1].n_prefilled == 12
    assert conv.replies == (("Start at the Colosseum.", "Trastevere."),) * 2
    rec = run.models[0].record
    assert rec.prefill.n_reused == 3 and rec.finished.cache.policy == "keep" and rec.finished.cache.n_reused == 3
    assert run.run_settings(0).prompt.cache == "keep"
    again = json.loads(json.dumps(conv.to_dict()))
    assert again == good_conversation_doc()["conversation"]


def test_files_written_before_conversations_still_read():
    run = _read(good_run_doc(6))
    assert not isinstance(run, RunFileError), run
    assert run.conversation is None and run.models[0].record.finished.cache is None
    assert run.models[0].record.prefill.n_reused == 0


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["conversation"].update(cache="warm"), "conversation.cache"),
    (lambda d: d["conversation"].update(id=5), "conversation.id"),
    (lambda d: d["conversation"].update(id="x" * 101), "conversation.id"),
    (lambda d: d["conversation"].update(system=["x"]), "conversation.system"),
    (lambda d: d["conversation"].update(turns=[]), "conversation.turns"),
    (lambda d: d["conversation"].update(turns=["t"] * 65), "conversation.turns"),
    (lambda d: d["conversation"].update(turns=["x" * 300_000, "y"]), "conversation.turns[0]"),
    (lambda d: d["conversation"].pop("figures"), "conversation.figures"),
    (lambda d: d["conversation"].update(figures=[]), "conversation.figures"),
    (lambda d: d["conversation"]["figures"].pop(), "conversation.figures"),
    (lambda d: d["conversation"]["figures"][0].append(_turn(3, "keep", 50, 40)), "conversation.figures[0]"),
    (lambda d: d["conversation"]["figures"][0].reverse(), "conversation.figures[0][0].turn"),
    (lambda d: d["conversation"]["figures"][0][1].update(turn=0), "conversation.figures[0][1].turn"),
    (lambda d: d["conversation"]["figures"][0][1].update(n_reused=41), "conversation.figures[0][1].n_reused"),
    (lambda d: d["conversation"]["figures"][0][1].update(n_reused=-1), "conversation.figures[0][1].n_reused"),
    (lambda d: d["conversation"]["figures"][0][1].update(n_prompt=2**40), "conversation.figures[0][1].n_prompt"),
    (lambda d: d["conversation"]["figures"][0][1].update(ttft_s=-0.1), "conversation.figures[0][1].ttft_s"),
    (lambda d: d["conversation"]["figures"][0][1].update(ttft_s="fast"), "conversation.figures[0][1].ttft_s"),
    (lambda d: d["conversation"]["figures"][0][1].update(ms_per_token=1e300), "conversation.figures[0][1].ms_per"),
    (lambda d: d["conversation"]["figures"][0][1].update(cache="hot"), "conversation.figures[0][1].cache"),
    (lambda d: d["conversation"]["figures"][0][1].update(server="yes"), "conversation.figures[0][1].server"),
    (lambda d: d["conversation"]["figures"][0][1].update(why_full="\x1b[2J"), "conversation.figures[0][1].why_full"),
    (lambda d: d["conversation"]["figures"][0][1].pop("stop_reason"), "conversation.figures[0][1].stop_reason"),
    (lambda d: d["conversation"]["figures"][1][0].pop("n_reused"), "conversation.figures[1][0].n_reused"),
    (lambda d: d["conversation"]["figures"][1][0].pop("ttft_s"), "conversation.figures[1][0].ttft_s"),
    (lambda d: d["conversation"]["figures"][0][1].update(server_prompt_ms=-5), "server_prompt_ms"),
    (lambda d: d["conversation"].update(replies=[["a", "b"]]), "conversation.replies"),
    (lambda d: d["conversation"]["replies"][1].pop(), "conversation.replies[1]"),
    (lambda d: d["conversation"]["replies"][0].__setitem__(0, 7), "conversation.replies[0][0]"),
    (lambda d: d["conversation"]["replies"][0].__setitem__(0, "\x1b]8;;x\x07"), "conversation.replies[0][0]"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].update(policy="warm"), "finished.cache.policy"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].update(n_reused=6), "finished.cache.n_reused"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].update(n_reused=True), "finished.cache.n_reused"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].pop("n_reused"), "finished.cache.n_reused"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].update(checkpoint_bytes=-1), "checkpoint_bytes"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].update(n_checkpoint=1.5), "finished.cache.n_checkpoint"),
    (lambda d: d["models"][0]["run"]["finished"]["cache"].update(why_full="x" * 300_000), "finished.cache.why_full"),
    (lambda d: d["models"][0]["run"]["finished"].update(cache=[]), "finished.cache"),
    (lambda d: d["models"][0]["run"]["prefill"].update(n_reused=6), "prefill.n_reused"),
    (lambda d: d["models"][0]["run"]["prefill"].update(n_reused="3"), "prefill.n_reused"),
    (lambda d: d["models"][0]["settings"]["prompt"].update(cache="hot"), "settings.prompt.cache"),
])
def test_every_new_field_refuses_what_no_run_holds_naming_it(change, field):
    doc = good_conversation_doc()
    change(doc)
    got = _read(doc)
    assert isinstance(got, RunFileError), f"{field}: read"
    assert field in got.message, got.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _places(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _places(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _places(v, (*prefix, i))


GOOD = good_conversation_doc()
PLACES = [("conversation", *x) for x in _places(GOOD["conversation"])] + \
    [("models", 0, "run", "finished", "cache", *x) for x in _places(GOOD["models"][0]["run"]["finished"]["cache"])]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_a_damaged_conversation_gives_a_run_or_our_sentence(data):
    doc = copy.deepcopy(GOOD)
    for _ in range(data.draw(st.integers(1, 3))):
        place = data.draw(st.sampled_from(PLACES))
        node = doc
        for key in place[:-1]:
            if isinstance(node, dict):
                node = node.get(key)
            else:
                node = node[key] if isinstance(key, int) and key < len(node) else None
            if not isinstance(node, (dict, list)):
                break
        else:
            key = place[-1]
            if isinstance(node, dict):
                node[key] = data.draw(json_values)
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node[key] = data.draw(json_values)
    t0 = time.monotonic()
    got = _read(doc)
    assert time.monotonic() - t0 < 5
    if isinstance(got, RunFileError):
        return
    conv = got.conversation  # what a rerun and its report read must hold together
    if conv is not None:
        assert len(conv.figures) == len(got.models)
        for rows in conv.figures:
            assert [t.turn for t in rows] == list(range(1, len(rows) + 1))
            assert all(t.n_reused is None or 0 <= t.n_reused <= t.n_prompt for t in rows)
            assert all(t.n_prefilled is None or t.n_prefilled >= 0 for t in rows)
            assert all(t.cache in ("keep", "cold") for t in rows)
            if conv.turns is not None:
                assert len(rows) <= len(conv.turns)
        if conv.replies is not None:
            assert [len(r) for r in conv.replies] == [len(rows) for rows in conv.figures]
            assert all(isinstance(x, str) for r in conv.replies for x in r)
    for m in got.models:
        m.record.stats()
