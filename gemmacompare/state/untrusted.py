"""Text from strangers made safe to print on a terminal.

Model metadata, file names, server ids and error bodies are data. Printed raw,
an ESC or OSC sequence can retitle the terminal, recolour or erase what we
print, and a bidi override (U+202E) reorders it, so a file name can pass for
another. terminal_safe() writes every such character as a visible escape
(`\\x1b`, `\\u202e`) that the terminal shows and does not act on, and bounds the
length so one field cannot flood the screen.
"""

from __future__ import annotations

import unicodedata

DEFAULT_MAX_LEN = 512  # names and paths; a whole line of `inspect` fits
ELLIPSIS = "…"

# Categories a terminal acts on or that change how neighbours are drawn:
# Cc (C0 and C1 controls: ESC, CSI U+009B, BEL, CR...), Cf (format: bidi
# embeddings, overrides and isolates, zero-width joiners, BOM, tag characters),
# Zl/Zp (line and paragraph separators), Cs (lone surrogates from "surrogateescape"
# file names), Co/Cn (private use and unassigned: no glyph, meaning unknown).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_inert(ch: str) -> bool:
    """Whether a terminal shows this character as itself (no control, format or bidi effect)."""
    return unicodedata.category(ch) not in _ESCAPED_CATEGORIES


def terminal_safe(text: object, max_len: int = DEFAULT_MAX_LEN, *, keep_newlines: bool = False) -> str:
    """text with control, format and bidi characters escaped, at most about max_len characters.

    A backslash is kept as it is: the escapes are for the eye, and doubling
    every backslash would garble Windows paths. keep_newlines keeps "\\n" (and
    tabs) for multi-line text such as a chat template; a "\\r" is always
    escaped, since it lets a later line overwrite an earlier one.
    """
    s = text if isinstance(text, str) else str(text)
    out: list[str] = []
    length = 0
    # Only as much input as can reach the output is looked at: a 100 MB name costs no more than a short one.
    for i, ch in enumerate(s):
        if length >= max_len:
            out.append(f"{ELLIPSIS} ({len(s) - i:,} more characters)")
            break
        if keep_newlines and ch in "\n\t":
            piece = ch
        elif ch.isprintable() or is_inert(ch):  # isprintable: the fast path for ordinary text
            piece = ch
        else:
            piece = _escaped(ch)
        out.append(piece)
        length += len(piece)
    return "".join(out)
