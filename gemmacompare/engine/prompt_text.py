"""Prompt text the tokenizer (local) or a server's JSON (remote) can take.

Bytes that are not UTF-8 reach Python from argv or a file read with
"surrogateescape" as lone surrogates; encoding them fails deep in generation
with an error that says nothing useful, so they are caught here in one sentence.
"""

from __future__ import annotations

from collections.abc import Iterable


class PromptTextError(ValueError):
    """The prompt cannot be used; the message is one sentence."""


def check_utf8(text: str, what: str = "prompt") -> None:
    """Raise PromptTextError when text holds characters that UTF-8 cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PromptTextError(
            f"The {what} has bytes that are not UTF-8 text (at character {exc.start}); "
            "save it as UTF-8 and send it again.") from None


def check_all_utf8(texts: Iterable[str], what: str = "prompt") -> None:
    for text in texts:
        check_utf8(text, what)
