"""The Jinja environment chat templates are rendered in, and the check that a
model's template compiles.

It lives below the engine so that reading a model's facts (`inspect`, the check
before loading) compiles the template exactly as generation will render it.
"""

from __future__ import annotations

import datetime
from typing import NoReturn

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_CHARS = 256 * 1024  # the longest real chat templates are under 100 KB; parsing this many takes ~0.6 s


class TemplateError(Exception):
    """The chat template could not be rendered."""


def _raise(message: str) -> NoReturn:
    raise TemplateError(message)


def template_environment() -> ImmutableSandboxedEnvironment:
    # Same Jinja settings as Hugging Face's apply_chat_template, which these
    # templates are written for.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    return env


def template_problem(source: str) -> str | None:
    """Why a chat template does not compile ("line 3: unknown tag 'endfro'"), or None.

    A stranger's template is refused unparsed when it is too long, and its nesting
    depth is bounded by the parser's recursion: both are problems, never a crash.
    """
    if len(source) > MAX_TEMPLATE_CHARS:
        return f"{len(source):,} characters long, more than the {MAX_TEMPLATE_CHARS:,} this app renders"
    try:
        template_environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        message = " ".join(str(exc.message or "syntax error").split())
        return where + (message if len(message) <= 300 else "syntax error")  # whole or not at all
    except RecursionError:
        return "nested too deeply to compile"
    return None
