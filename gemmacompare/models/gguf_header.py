"""A quick look at a GGUF file's first metadata keys, without reading its tensors.

The library scan needs architecture, type and split numbers for hundreds of
files; parsing each file fully (as gguf_file.read_model_facts does) would take
seconds. The general.* and split.* keys come first in files written by
llama.cpp's converters, so reading up to the tokenizer's long arrays is enough.
"""

from __future__ import annotations

from pathlib import Path

from gemmacompare.models.gguf_file import SUPPORTED_GGUF_VERSIONS
from gemmacompare.models.gguf_reader import NoMagic, peek_fields

_PEEK_BYTES = 256 * 1024
_MAX_KEYS = 64


class NotGGUF(Exception):
    pass


def peek_header(path: str | Path) -> dict[str, str | int | float | bool]:
    """Scalar and string keys within the first 256 KiB (arrays skipped). Raises NotGGUF or OSError.

    Nothing else, whatever the bytes: one hostile file (a key length of 2^63)
    must cost the library scan that file only, not the whole listing.
    """
    with open(path, "rb") as f:
        data = f.read(_PEEK_BYTES)
    if len(data) < 24 or data[:4] != b"GGUF":
        raise NotGGUF("no GGUF magic")
    version = int.from_bytes(data[4:8], "little")
    if version not in SUPPORTED_GGUF_VERSIONS:
        raise NotGGUF(f"GGUF version {version}")
    try:
        fields = peek_fields(data, _MAX_KEYS)
    except NoMagic:
        raise NotGGUF("no GGUF magic") from None
    # Arrays (tags, languages) are left out: the scan shows scalars, and the facts cache stores this as JSON.
    return {k: v for k, v in fields.items() if isinstance(v, (str, int, float, bool))}
