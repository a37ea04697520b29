"""A quick look at a GGUF file's first metadata keys, without reading its tensors.

The library scan needs architecture, type and split numbers for hundreds of
files; parsing each file fully (as gguf_file.read_model_facts does) would take
seconds. The general.* and split.* keys come first in files written by
llama.cpp's converters, so reading up to the tokenizer's long arrays is enough.
"""

from __future__ import annotations

import struct
from pathlib import Path

from gemmacompare.models.gguf_file import GGUF_MAGIC, SUPPORTED_GGUF_VERSIONS

_PEEK_BYTES = 256 * 1024
_MAX_KEYS = 64
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_LONG_ARRAY = 1024


class NotGGUF(Exception):
    pass


def peek_header(path: str | Path) -> dict[str, str | int | float | bool]:
    """Scalar and string keys within the first 256 KiB (arrays skipped). Raises NotGGUF or OSError."""
    with open(path, "rb") as f:
        data = f.read(_PEEK_BYTES)
    if len(data) < 24 or data[:4] != GGUF_MAGIC:
        raise NotGGUF("no GGUF magic")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    if version not in SUPPORTED_GGUF_VERSIONS:
        raise NotGGUF(f"GGUF version {version}")
    out: dict[str, str | int | float | bool] = {}
    off = 24
    try:
        for _ in range(min(n_kv, _MAX_KEYS)):
            (klen,) = struct.unpack_from("<Q", data, off)
            key = data[off + 8: off + 8 + klen].decode("utf-8", "replace")
            off += 8 + klen
            (vtype,) = struct.unpack_from("<I", data, off)
            off += 4
            if vtype == _STRING:
                (slen,) = struct.unpack_from("<Q", data, off)
                if off + 8 + slen > len(data):
                    break
                out[key] = data[off + 8: off + 8 + slen].decode("utf-8", "replace")
                off += 8 + slen
            elif vtype in _SCALARS:
                fmt = _SCALARS[vtype]
                (out[key],) = struct.unpack_from(fmt, data, off)
                off += struct.calcsize(fmt)
            elif vtype == _ARRAY:
                off = _skip_array(data, off)  # tags, languages; the tokenizer's lists run past the buffer
            else:
                break
    except (struct.error, _PastBuffer):
        pass  # ran past what we read; keep what we have
    return out


class _PastBuffer(Exception):
    pass


def _skip_array(data: bytes, off: int) -> int:
    itype, n = struct.unpack_from("<IQ", data, off)
    off += 12
    if itype in _SCALARS:
        off += n * struct.calcsize(_SCALARS[itype])
    elif itype == _STRING:
        if n > _LONG_ARRAY:
            raise _PastBuffer  # the tokenizer's vocabulary: everything we need came before it
        for _ in range(n):
            (slen,) = struct.unpack_from("<Q", data, off)
            off += 8 + slen
            if off > len(data):
                break
    else:
        raise _PastBuffer  # nested arrays: not in any header key we read
    if off > len(data):
        raise _PastBuffer
    return off
