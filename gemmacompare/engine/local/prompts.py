"""Turning a chat into the exact text a model was trained on.

The model's own GGUF chat template (Jinja) is used when present. Base models
such as the Gemma-3-270M demo have none: they get a question-and-answer frame
(models/base_models.py); a chat model whose template was lost gets a fallback
chosen by architecture. The name of what was used is reported with the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from gemmacompare.engine.protocol import ChatMessage
from gemmacompare.models.base_models import FRAME_NAME, render_frame
from gemmacompare.models.chat_template import TemplateError
from gemmacompare.models.template_render import DEFAULT_RENDER_LIMITS, RenderLimits, render_template

# A token is rarely more than a few characters of text; 32 a token is far beyond any
# real prompt that fits the context, and stops a hostile template long before it
# builds hundreds of MB that tokenizing would multiply.
CHARS_PER_TOKEN_LIMIT = 32

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


def output_limit(n_ctx: int | None) -> RenderLimits:
    """Render limits whose output cap fits a context of n_ctx tokens (the default cap when unknown)."""
    if not n_ctx or n_ctx <= 0:
        return DEFAULT_RENDER_LIMITS
    cap = min(DEFAULT_RENDER_LIMITS.max_output_chars, n_ctx * CHARS_PER_TOKEN_LIMIT)
    return replace(DEFAULT_RENDER_LIMITS, max_output_chars=cap)


def render_chat(
    messages: Iterable[ChatMessage],
    *,
    template: str | None,
    architecture: str,
    bos_token: str = "",
    eos_token: str = "",
    enable_thinking: bool | None = None,
    n_ctx: int | None = None,
    base_model: bool = False,
) -> RenderedPrompt:
    """The chat as the model's template writes it; TemplateError with one sentence when the
    template fails or passes the time, memory or output limits (see models.template_render)."""
    messages = list(messages)
    limits = output_limit(n_ctx)
    _check_chat_fits(messages, limits, n_ctx)
    if base_model and not template:
        return RenderedPrompt(bos_token + render_frame((m.role, m.content) for m in messages), FRAME_NAME)
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
    return RenderedPrompt(render_template(source, variables, limits), name)


def _check_chat_fits(messages: list[ChatMessage], limits: RenderLimits, n_ctx: int | None) -> None:
    """A chat whose own text passes the output limit is too long for the context, not a bad
    template: say that, before the template is blamed for it."""
    size = sum(len(m.content) for m in messages)
    if size > limits.max_output_chars:
        where = f"a context of {n_ctx:,} tokens" if n_ctx else "any model's context"
        raise TemplateError(f"The chat is {size:,} characters, more than {where} can hold; "
                            "start a new chat or raise the context size.")
