"""Chat templates from strangers (issue 24, item 2): rendered within time, output and memory limits."""

from __future__ import annotations

import time

import psutil
import pytest

from gemmacompare.models.chat_template import MAX_TEMPLATE_CHARS, TemplateError, template_environment, template_problem
from gemmacompare.models.template_render import RenderLimits, render_template

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
VARS = {"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True, "bos_token": ""}
LIMITS = RenderLimits(time_s=1.0)


def _refused(source: str, limits: RenderLimits = LIMITS) -> str:
    rss0 = psutil.Process().memory_info().rss
    t0 = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render_template(source, VARS, limits)
    assert time.monotonic() - t0 < limits.time_s + 2.0
    assert psutil.Process().memory_info().rss - rss0 < 1 << 30  # generous: the limit is 256 MiB of growth
    msg = str(info.value)
    assert "\n" not in msg and msg.endswith(".") and msg.startswith("The chat template")
    return msg


def test_a_real_template_renders_as_before():
    assert render_template(CHATML, VARS) == template_environment().from_string(CHATML).render(**VARS)


@pytest.mark.parametrize("source", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% for k in r %}{% endfor %}{% endfor %}{% endfor %}",
])
def test_an_endless_loop_stops_at_the_time_limit(source):
    assert "took longer than 1 s" in _refused(source)


@pytest.mark.parametrize("source", [
    "{{ 'x' * 200000000 }}", "{{ 200000000 * 'x' }}", "{{ '%200000000s' % 'a' }}", "{{ '%.*f' % (9, 1.0) }}",
    "{{ '{:>200000000}'.format('a') }}", "{{ 'a'|center(200000000) }}", "{{ 'a'.ljust(200000000) }}",
    "{{ ('x' * 1000000)|replace('x', 'xxxxxxxxxxxxxxxx') }}", "{{ range(100000)|join('y' * 1000) }}",
    "{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}",
])
def test_output_past_the_limit_is_refused_before_it_is_tokenized(source):
    # A generous clock: this tests the output limit, which a loop of 84,000 steps on a busy
    # machine (a compile beside it) would otherwise race against the 1 s limit.
    assert "would produce more than 8,388,608 characters" in _refused(source, RenderLimits(time_s=10.0))


def test_text_doubling_stops_at_the_memory_limit():
    source = ("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
              "{% endfor %}{{ ns.s|length }}")
    assert "used more than 256 MiB" in _refused(source, RenderLimits(time_s=10.0))


def test_a_huge_power_is_refused():
    assert "power too large" in _refused("{{ 10 ** 100000000 }}")


def test_template_errors_are_one_sentence():
    assert _refused("{{ raise_exception('Only user and assistant roles are supported!') }}") == (
        "The chat template refused these messages: Only user and assistant roles are supported!.")
    assert _refused("{{ foo.bar }}") == "The chat template failed while rendering: 'foo' is undefined; fix it or " \
                                        "pick another model."
    assert "nested too deeply" in _refused("{% if 1 %}" * 5000 + "{% endif %}" * 5000)
    assert "more than the 262,144" in _refused("x" * (MAX_TEMPLATE_CHARS + 1))


def test_the_sandbox_still_holds():
    assert "failed while rendering" in _refused("{{ ''.__class__.__mro__[1].__subclasses__() }}")


def test_template_problem_bounds_size_and_depth():
    t0 = time.monotonic()
    assert template_problem("{% if 1 %}" * 5000 + "{% endif %}" * 5000) == "nested too deeply to compile"
    assert template_problem("x" * (MAX_TEMPLATE_CHARS + 1)).endswith("more than the 262,144 this app renders")
    assert time.monotonic() - t0 < 2.0
