"""JSON from strangers (other tools' manifests, caches, server bodies), read within limits.

`json.loads` has no size limit and, on a few thousand nested brackets, raises
RecursionError, which no caller expects; a value nested that deep also breaks
later code that walks it. Every such read goes through load_json_bounded, which
reads at most max_bytes, checks the nesting depth and raises one error type
with one sentence. The parser's own words go to the log.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 64  # manifests, settings and API bodies nest fewer than 10 levels


class BadJSONError(ValueError):
    """JSON we will not use; `message` is one sentence naming what was read.

    A ValueError, so callers that already catch ValueError from json.loads keep working.
    """

    # What was wrong, for callers that word their own sentence.
    TOO_LARGE, TOO_DEEP, NOT_UTF8, INVALID = "too large", "too deep", "not UTF-8", "invalid"

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def _size_label(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KiB"
    return f"{n} bytes"


def read_bounded(path: str | os.PathLike[str], max_bytes: int, what: str) -> bytes:
    """At most max_bytes of a file; BadJSONError if there is more. Raises OSError as open() does.

    Reads, never stats: /dev/zero, a FIFO or a growing file report no useful size.
    """
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadJSONError(f"{what} is larger than {_size_label(max_bytes)}, so it was not read.",
                           BadJSONError.TOO_LARGE)
    return data


def _depth_ok(value: Any, max_depth: int) -> bool:
    # Iterative: a recursive walk would hit the very limit we are guarding against.
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(v, dict):
            children = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        if depth > max_depth:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def load_json_bounded(source: str | os.PathLike[str] | bytes | bytearray | memoryview, max_bytes: int, *,
                      what: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse JSON from a file path or from bytes, within max_bytes and max_depth.

    `what` names the thing in the message ("Ollama manifest gemma3:4b", "the server's reply").
    Raises BadJSONError (too large, too deep, not JSON, not UTF-8) or, for a path, OSError.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise BadJSONError(f"{what} is larger than {_size_label(max_bytes)}, so it was not read.",
                               BadJSONError.TOO_LARGE)
    else:
        data = read_bounded(Path(source), max_bytes, what)
    try:
        value = json.loads(data)
    except RecursionError:
        log.info("%s: JSON nested too deep for the parser", what)
        raise BadJSONError(f"{what} is nested more than {max_depth} levels deep, so it was not read.",
                           BadJSONError.TOO_DEEP) from None
    except UnicodeDecodeError as exc:
        log.info("%s: not UTF-8 JSON: %s", what, exc)
        raise BadJSONError(f"{what} is not UTF-8 text, so it was not read.", BadJSONError.NOT_UTF8) from None
    except ValueError as exc:  # JSONDecodeError
        log.info("%s: invalid JSON: %s", what, exc)
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadJSONError(f"{what} is not valid JSON{where}, so it was not read.", BadJSONError.INVALID) from None
    if not _depth_ok(value, max_depth):
        raise BadJSONError(f"{what} is nested more than {max_depth} levels deep, so it was not read.",
                           BadJSONError.TOO_DEEP)
    return value
