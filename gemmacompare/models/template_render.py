"""Rendering a chat template from a stranger's GGUF within a time and size limit.

Jinja's sandbox stops templates reaching Python's internals, not from running
forever or building a 200 MB prompt: nested `range(100000)` loops left a pane
silent for a minute, and one `"x" * 200000000` pushed the worker to 9.8 GB once
the text was tokenized. render_template() therefore

- refuses a template longer than max_template_chars before compiling it;
- refuses, before they run, the single operations that allocate without bound
  (`s * n`, `a ** b`, "%99999999s", "{:>99999999}", `center(10**9)`);
- traces the render (sys.settrace, this thread only) and stops it at the time
  limit and when the process's memory grows by more than max_memory_growth
  (exponential growth by `~` or `replace` takes a few lines, each one traced);
- counts the output as Jinja streams it and stops at max_output_chars,
  so nothing over the limit is ever joined, let alone tokenized.

Each stop is a TemplateError with one sentence. Rendering through the tracer
costs a few milliseconds on a real template and chat.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.nodes
import jinja2.runtime
import jinja2.sandbox
import psutil

from gemmacompare.models.chat_template import MAX_TEMPLATE_CHARS, TemplateError, template_environment
from gemmacompare.state.untrusted import terminal_safe

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class RenderLimits:
    time_s: float = 5.0
    # A million-token context is about 4 MB of text; a prompt past 8 Mi characters cannot fit any model.
    max_output_chars: int = 8 * 1024 * 1024
    max_template_chars: int = MAX_TEMPLATE_CHARS
    # Bytes of RSS over what the process had when rendering began. A real render needs a few MB;
    # text doubling by `~` is caught one step past this, so the peak stays under about 3x it.
    max_memory_growth: int = 256 << 20


DEFAULT_RENDER_LIMITS = RenderLimits()


class _Stop(BaseException):
    """Raised inside the render to end it. A BaseException, so no `except Exception`
    in Jinja or in a filter can swallow it and let the render carry on."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def _too_big(limits: RenderLimits) -> _Stop:
    return _Stop(f"The chat template would produce more than {limits.max_output_chars:,} characters; "
                 "it is broken or hostile, so fix it or pick another model.")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")


def _format_too_wide(fmt: str, limit: int) -> bool:
    """Whether a %- or {}-format string asks for a width or precision over limit (or one taken from an argument)."""
    for m in _PERCENT_SPEC.finditer(fmt):
        for n in m.groups():
            if n == "*" or (n and int(n) > limit):
                return True
    for m in _BRACE_SPEC.finditer(fmt):
        spec = m.group(1)
        if "{" in spec or any(int(d) > limit for d in re.findall(r"\d+", spec)):
            return True
    return False


def _int_too_big(value: Any, limit: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit


def _replace_too_big(text: Any, old: Any, new: Any, limit: int) -> bool:
    """Whether text.replace(old, new) would be longer than limit (x -> xxxxxxxx, eight times per step)."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)) or len(new) <= len(old):
        return False
    hits = len(text) + 1 if not old else text.count(old)
    return len(text) + hits * (len(new) - len(old)) > limit


def _join_too_big(items: Any, sep: Any, limit: int) -> bool:
    return isinstance(sep, str) and isinstance(items, (list, tuple, range)) and len(items) * len(sep) > limit


class _BoundedEnvironment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The app's template sandbox, with every size-multiplying operation checked first."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, limits: RenderLimits, **options: Any) -> None:
        super().__init__(**options)
        self.limits = limits

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limit = self.limits.max_output_chars
        if operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > limit:
                raise _too_big(self.limits)
        elif operator == "**":
            # 10 ** 10 ** 8 is one C call that runs for minutes; no template needs big powers.
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 256:
                raise _Stop("The chat template computes a power too large to evaluate; fix it or pick another model.")
        elif operator == "%" and isinstance(left, str) and _format_too_wide(left, limit):
            raise _too_big(self.limits)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        limit = __self.limits.max_output_chars
        # "x".ljust(10**9), "x".center(n), s.zfill(n): any huge count argument.
        if any(_int_too_big(a, limit) for a in (*args, *kwargs.values())):
            raise _too_big(__self.limits)
        target = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner: Any = getattr(target, "__self__", None)
        method = getattr(target, "__name__", "") if isinstance(owner, str) else ""
        if (method in ("format", "format_map") and _format_too_wide(owner, limit)) \
                or (method == "replace" and len(args) >= 2 and _replace_too_big(owner, args[0], args[1], limit)) \
                or (method == "join" and args and _join_too_big(args[0], owner, limit)):
            raise _too_big(__self.limits)
        return super().call(__context, __obj, *args, **kwargs)


def _guarded_filter(name: str, fn: Any, limits: RenderLimits) -> Any:
    # Filters are called directly by the compiled template, not through call(); check their arguments here.
    @functools.wraps(fn)  # keeps jinja_pass_arg (pass_context and friends)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = (*args, *kwargs.values())
        if any(_int_too_big(a, limits.max_output_chars) for a in values):  # center(10**9), indent(10**9)
            raise _too_big(limits)
        limit = limits.max_output_chars
        plain = [a for a in args if not isinstance(a, (jinja2.runtime.Context, jinja2.nodes.EvalContext))]
        if (name == "format" and any(isinstance(a, str) and _format_too_wide(a, limit) for a in values)) \
                or (name == "replace" and len(plain) >= 3 and _replace_too_big(plain[0], plain[1], plain[2], limit)) \
                or (name == "join" and len(plain) >= 2 and _join_too_big(plain[0], plain[1], limit)):
            raise _too_big(limits)
        return fn(*args, **kwargs)

    return guarded


@functools.lru_cache(maxsize=4)
def bounded_environment(limits: RenderLimits = DEFAULT_RENDER_LIMITS) -> _BoundedEnvironment:
    base = template_environment()  # the same settings and globals generation always used
    env = _BoundedEnvironment(limits, trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals.update(base.globals)
    env.filters = {name: _guarded_filter(name, fn, limits) for name, fn in base.filters.items()}
    return env


class _Tracer:
    """Checks the clock (every traced line) and memory (every 20 ms) while a render runs."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.time_s
        self.process = psutil.Process()
        self.rss0 = self.process.memory_info().rss
        self.next_memory_check = 0.0

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        now = time.monotonic()
        if now > self.deadline:
            raise _Stop(f"The chat template took longer than {self.limits.time_s:g} s to render (a loop that "
                        "does not end?); fix it or pick another model.")
        if now >= self.next_memory_check:
            self.next_memory_check = now + 0.02
            if self.process.memory_info().rss - self.rss0 > self.limits.max_memory_growth:
                raise _Stop(f"The chat template used more than {self.limits.max_memory_growth >> 20:,} MiB while "
                            "rendering; it is broken or hostile, so fix it or pick another model.")
        return self  # trace the lines of this frame too


def _failure_sentence(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    # The template's own raise_exception() text is its author's sentence; Jinja's errors are short.
    # A long one is not cut short (the design's rule): the log has it, the sentence names its kind.
    detail = f": {terminal_safe(text, 300)}" if text and len(text) <= 300 else f" ({type(exc).__name__})"
    if isinstance(exc, TemplateError):
        return f"The chat template refused these messages{detail}."
    return f"The chat template failed while rendering{detail}; fix it or pick another model."


def render_template(source: str, variables: Mapping[str, Any],
                    limits: RenderLimits = DEFAULT_RENDER_LIMITS) -> str:
    """The template rendered with variables, or TemplateError with one sentence.

    Call it on the thread that does the work (the model's worker), never the GUI thread:
    it may take up to limits.time_s.
    """
    if len(source) > limits.max_template_chars:
        raise TemplateError(f"The chat template is {len(source):,} characters long, more than the "
                            f"{limits.max_template_chars:,} this app renders; pick another model.")
    env = bounded_environment(limits)
    parts: list[str] = []
    total = 0
    previous = sys.gettrace()  # a debugger's or coverage's tracer, put back afterwards
    sys.settrace(_Tracer(limits))
    try:
        template = env.from_string(source)
        for chunk in template.generate(**variables):
            total += len(chunk)
            if total > limits.max_output_chars:
                raise _too_big(limits)
            parts.append(chunk)
    except _Stop as stop:
        log.info("chat template stopped: %s", stop.sentence)
        raise TemplateError(stop.sentence) from None
    except RecursionError:
        raise TemplateError("The chat template is nested too deeply to render; fix it or pick another "
                            "model.") from None
    except Exception as exc:  # noqa: BLE001 - a template is a stranger's code; whatever it raises is its error
        log.info("chat template failed", exc_info=True)
        raise TemplateError(_failure_sentence(exc)) from None
    finally:
        sys.settrace(previous)
    return "".join(parts)
