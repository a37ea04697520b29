"""Chat templates: the model's own, fallbacks, enable_thinking, failures."""

from __future__ import annotations

import pytest

from gemmacompare.engine.local.prompts import render_chat
from gemmacompare.engine.protocol import ChatMessage
from gemmacompare.models.chat_template import TemplateError

MSGS = (ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello!"), ChatMessage("user", "2+2?"))


def test_gemma_fallback_when_no_template():
    r = render_chat(MSGS, template=None, architecture="gemma3", bos_token="<bos>")
    assert r.template_name == "gemma (fallback)"
    assert r.text.startswith("<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!")
    assert r.text.endswith("<start_of_turn>model\n")


def test_chatml_fallback_for_other_arch():
    r = render_chat(MSGS[:1], template=None, architecture="qwen2")
    assert r.template_name == "chatml (fallback)"
    assert r.text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_enable_thinking_is_passed_through():
    tpl = (
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "<|im_start|>assistant\n{% if enable_thinking is defined and not enable_thinking %}"
        "<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}"
    )
    on = render_chat(MSGS[:1], template=tpl, architecture="qwen3", enable_thinking=True)
    off = render_chat(MSGS[:1], template=tpl, architecture="qwen3", enable_thinking=False)
    assert on.text.endswith("<think>\n") and off.text.endswith("</think>\n\n")


def test_template_error_is_reported():
    with pytest.raises(TemplateError, match="only user"):
        render_chat(MSGS, template="{{ raise_exception('only user turns please') }}", architecture="llama")
    with pytest.raises(TemplateError):
        render_chat(MSGS, template="{% for %}", architecture="llama")


def test_loop_controls_and_runtime_errors():
    tpl = "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m['content'] }}{% endfor %}"
    assert render_chat(MSGS, template=tpl, architecture="llama").text == "Hi"
    with pytest.raises(TemplateError, match="failed while rendering: integer division or modulo by zero"):
        render_chat(MSGS, template="{{ 1 // 0 }}", architecture="llama")
    with pytest.raises(TemplateError):
        render_chat(MSGS, template="{{ messages[7]['content'] }}", architecture="llama")
