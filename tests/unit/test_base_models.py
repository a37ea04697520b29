"""A base model is asked in a question-and-answer frame; a chat model that lost its template is not."""

from __future__ import annotations

from dataclasses import replace

from gemmacompare.engine.local.prompts import render_chat
from gemmacompare.engine.protocol import ChatMessage
from gemmacompare.models.base_models import FRAME_HEAD, FRAME_NAME, FRAME_STOPS, is_base_model
from gemmacompare.models.gguf_file import read_model_facts
from tests.make_files import write_tiny_gguf


def test_the_frame_holds_the_chat_as_questions_and_answers():
    msgs = [ChatMessage("system", "Answer in one word."), ChatMessage("user", "Capital of\n\nFrance?"),
            ChatMessage("assistant", "Paris."), ChatMessage("user", "And of Spain?")]
    r = render_chat(msgs, template=None, architecture="gemma3", bos_token="<bos>", base_model=True)
    assert r.template_name == FRAME_NAME
    assert r.text.startswith("<bos>Answer in one word.\n\n" + FRAME_HEAD)
    # A blank line inside a question would end the answer early (a stop string): it is one line.
    assert r.text.endswith("Question: Capital of France?\nAnswer: Paris.\n\nQuestion: And of Spain?\nAnswer:")
    assert all(stop not in r.text.rsplit("Answer:", 1)[1] for stop in FRAME_STOPS)


def test_only_template_less_files_not_named_as_tuned_are_base_models(tmp_path):
    facts = read_model_facts(write_tiny_gguf(tmp_path / "gemma-3-270m-q4_k_m.gguf"))
    base = replace(facts, name="Gemma 3 270m", chat_template=None, template_problem=None)
    assert is_base_model(base)
    for name in ("Qwen2.5 0.5B Instruct", "gemma-3-1b-it", "Llama Chat 7B"):
        assert not is_base_model(replace(base, name=name)), name
    assert not is_base_model(replace(base, chat_template="{{ x }}"))
