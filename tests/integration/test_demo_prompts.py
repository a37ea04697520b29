"""The demo pair both answer: the example prompts offered on first start are answered by
SmolLM2 (its chat template) and the Gemma base model (the question-and-answer frame),
each ending by itself, on topic; the window offers them and a click fills the prompt."""

from __future__ import annotations

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.run_settings import RunSettings, command_for
from gemmacompare.engine.session import CompareSession
from gemmacompare.models.base_models import FRAME_NAME, is_base_model
from gemmacompare.models.demo import DEMO_PROMPTS
from gemmacompare.models.gguf_file import read_model_facts
from tests.integration.test_gui import ask, make_window

FRUITS = ("apple", "banana", "orange", "grape", "pear", "peach", "plum", "cherr", "mango", "straw", "lemon")


def test_both_demo_models_answer_every_example_by_themselves(demo_paths):
    paths = [str(demo_paths["smollm2"]), str(demo_paths["gemma3"])]
    assert not is_base_model(read_model_facts(paths[0])) and is_base_model(read_model_facts(paths[1]))
    settings = RunSettings(sampling=p.SamplingSettings(max_tokens=96))
    with CompareSession(["A", "B"]) as session:
        assert session.load(paths, p.LoadSettings(n_ctx=2048)) == [None, None]
        for text, expected in DEMO_PROMPTS:
            result = session.run(lambda i, t=text: command_for(settings, (), t), mode="race", threads_total=2)
            smol, gemma = result.runs
            assert gemma.prompt.template_name == FRAME_NAME
            for rec in (smol, gemma):
                st = rec.stats()
                assert rec.error is None and st.stop_reason in (p.STOP_EOS, p.STOP_STRING), (text, rec.answer)
                answer = rec.answer.lower()
                assert answer.strip() and "question:" not in answer, (text, rec.answer)
                if expected:
                    assert expected in answer, (text, rec.answer)
                else:
                    assert any(f in answer for f in FRUITS), (text, rec.answer)


@pytest.mark.gui
def test_the_window_offers_the_examples_and_the_base_model_is_labelled(qtbot, demo_paths):
    w = make_window(qtbot)
    try:
        assert w.examples.isVisible() and all(text in w.examples.text() for text, _ in DEMO_PROMPTS)
        gemma = next(p for p in w.panes if p.model_path == str(demo_paths["gemma3"]))
        assert "base model" in gemma.facts_label.text()
        w.examples.linkActivated.emit("1")  # a click on the first example
        assert w.prompt.toPlainText() == DEMO_PROMPTS[0][0] and w.prompt.hasFocus()
        ask(qtbot, w, w.prompt.toPlainText())
        assert not w.examples.isVisible()
        assert "no winner on finishing time" not in w.banner.text()  # both ended by themselves
        stops = [pane.record.stats().stop_reason for pane in w.panes]
        assert all(stop in (p.STOP_EOS, p.STOP_STRING) for stop in stops), stops
        w.new_chat()
        assert w.examples.isVisible()
    finally:
        w.close()
