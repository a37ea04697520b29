"""Chat templates: the model's own, fallbacks, enable_thinking, failures."""

from __future__ import annotations

from gemmacompare.engine.local.prompts import render_chat
from tests.unit.test_prompts import MSGS


def test_gguf_template_used(demo_paths):
    from gemmacompare.models.gguf_file import read_model_facts

    f = read_model_facts(demo_paths["smollm2"])
    r = render_chat(MSGS, template=f.chat_template, architecture=f.architecture)
    assert r.template_name == "gguf"
    assert r.text.endswith("<|im_start|>assistant\n")
    assert r.text.count("<|im_start|>user") == 2
