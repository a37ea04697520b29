"""Turning a chat into the exact text a model was trained on.

The model's own GGUF chat template (Jinja) is used when present. Base models
such as the Gemma-3-270M demo have none, so a fallback is chosen by
architecture and its name is reported with the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from gemmacompare.engine.protocol import ChatMessage
from gemmacompare.models.chat_template import TemplateError, template_environment

GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
    "{% if m['role'] == 'system' %}<start_of_turn>user\n{{ m['content'] | trim }}\n\n"
    "{% else %}{% if not (loop.index0 > 0 and messages[loop.index0 - 1]['role'] == 'system') %}"
    "<start_of_turn>{{ role }}\n{% endif %}{{ m['content'] | trim }}<end_of_turn>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Architecture prefix -> (fallback name, template). First match wins.
FALLBACK_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    ("gemma", "gemma (fallback)", GEMMA_TEMPLATE),
    ("", "chatml (fallback)", CHATML_TEMPLATE),
)


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    template_name: str


def fallback_template(architecture: str) -> tuple[str, str]:
    for prefix, name, tpl in FALLBACK_TEMPLATES:
        if architecture.startswith(prefix):
            return name, tpl
    raise AssertionError("the empty prefix always matches")


def render_chat(
    messages: Iterable[ChatMessage],
    *,
    template: str | None,
    architecture: str,
    bos_token: str = "",
    eos_token: str = "",
    enable_thinking: bool | None = None,
) -> RenderedPrompt:
    if template:
        name, source = "gguf", template
    else:
        name, source = fallback_template(architecture)
    variables = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "add_generation_prompt": True,
        "bos_token": bos_token,
        "eos_token": eos_token,
    }
    if enable_thinking is not None:
        variables["enable_thinking"] = enable_thinking
    try:
        text = template_environment().from_string(source).render(**variables)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 - a template is user data; whatever it raises is its error
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc
    return RenderedPrompt(text, name)
