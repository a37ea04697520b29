"""A GGUF header parser with limits, for files from strangers.

gguf-py's GGUFReader builds a numpy view per key, array element and tensor
and trusts every count: a header declaring a million keys or 2^60 tensors took
minutes and gigabytes before it failed. Here every count, length and offset is
checked against HeaderLimits and the buffer's end *before* anything is read or
allocated, so the cost of a header is bounded by the limits, not by what the
file claims. Long arrays (the tokenizer's vocabulary) are stepped over, never
built: the facts we show need none of them.

Layout (little-endian): magic, u32 version, u64 tensor count, u64 key count,
then keys (string key, u32 type, value), then tensor infos (string name,
u32 n_dims, u64 dims[n_dims], u32 type, u64 offset), then data aligned to
general.alignment (32 by default).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
GGML_MAX_DIMS = 4  # llama.cpp rejects tensors with more dimensions

STRING, ARRAY = 8, 9
_SCALARS = {
    0: struct.Struct("<B"), 1: struct.Struct("<b"), 2: struct.Struct("<H"), 3: struct.Struct("<h"),
    4: struct.Struct("<I"), 5: struct.Struct("<i"), 6: struct.Struct("<f"), 7: struct.Struct("<?"),
    10: struct.Struct("<Q"), 11: struct.Struct("<q"), 12: struct.Struct("<d"),
}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class HeaderLimits:
    """What a header may declare before we stop reading it.

    Real models are far inside these: about 50 keys, under 2,000 tensors, a
    262,144-token vocabulary (Gemma) as the longest array, chat templates under
    100 KB, headers under 10 MiB. The limits are 10-100x that, and still keep
    the worst hostile header to about a second and tens of MiB.
    """

    max_keys: int = 4096
    max_tensors: int = 65_536
    max_array_elements: int = 4 * 1024 * 1024
    max_name_bytes: int = 64 * 1024  # one key or tensor name
    max_string_bytes: int = 4 * 1024 * 1024  # one string value or array element
    max_header_bytes: int = 64 * 1024 * 1024  # magic to the end of the tensor table
    max_materialized_array: int = 256  # longer arrays are stepped over, not built


DEFAULT_LIMITS = HeaderLimits()


class PastEnd(Exception):
    """The header points past the end of the buffer; `needed` is how far it reaches."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


class HeaderProblem(Exception):
    """The header breaks a limit or the format. `reason` completes "<file> ..." as one clause."""

    def __init__(self, reason: str, over_limit: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.over_limit = over_limit


class NoMagic(HeaderProblem):
    """The buffer does not start with b"GGUF"."""

    def __init__(self) -> None:
        super().__init__("is not a GGUF file", False)


@dataclass(frozen=True)
class LongArray:
    """An array stepped over: its element type and length only."""

    item_type: int
    length: int


Scalar = Union[int, float, bool]
Value = Union[Scalar, str, list[Scalar], list[str], LongArray]  # llama.cpp reads no arrays of arrays
# What a header is read from: the file's bytes or an mmap of it.
Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    type_id: int
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    fields: dict[str, Value]
    tensors: tuple[TensorInfo, ...]
    data_offset: int  # where tensor data starts in the file


class _Cursor:
    """Reads forward through a buffer; every step checks the end and the header-size limit first."""

    def __init__(self, buf: Buffer, limits: HeaderLimits) -> None:
        self.buf = buf
        self.size = len(buf)
        self.limits = limits
        self.off = 0

    def take(self, n: int) -> int:
        start = self.off
        end = start + n
        if end > self.limits.max_header_bytes:
            raise HeaderProblem(f"has a header larger than {self.limits.max_header_bytes >> 20} MiB", True)
        if end > self.size:
            raise PastEnd(end)
        self.off = end
        return start

    def u32(self) -> int:
        n: int = _U32.unpack_from(self.buf, self.take(4))[0]
        return n

    def u64(self) -> int:
        n: int = _U64.unpack_from(self.buf, self.take(8))[0]
        return n

    def text(self, limit: int, what: str) -> str:
        n = self.u64()
        if n > limit:
            raise HeaderProblem(f"has {what} of {n:,} bytes, more than the {limit:,} this app reads", True)
        start = self.take(n)
        # Invalid UTF-8 is shown, not fatal: names and templates are only displayed or compiled.
        return bytes(self.buf[start:start + n]).decode("utf-8", "replace")

    def scalar(self, type_id: int) -> Scalar:
        s = _SCALARS[type_id]
        value: Scalar = s.unpack_from(self.buf, self.take(s.size))[0]
        return value


def _check_count(n: int, limit: int, what: str) -> None:
    if n > limit:
        raise HeaderProblem(f"declares {n:,} {what}, more than the {limit:,} this app reads", True)


def _array(cur: _Cursor, key: str, stop_at_long_strings: bool) -> Value:
    item_type = cur.u32()
    n = cur.u64()
    limits = cur.limits
    _check_count(n, limits.max_array_elements, f"elements in its array {key!r}")
    if item_type == ARRAY:
        raise HeaderProblem(f"has an array of arrays ({key!r}), which llama.cpp does not read", False)
    if item_type != STRING and item_type not in _SCALARS:
        raise HeaderProblem(f"has an array of unknown type {item_type} ({key!r})", False)
    if n <= limits.max_materialized_array:
        if item_type == STRING:
            return [cur.text(limits.max_string_bytes, f"a string in {key!r}") for _ in range(n)]
        return [cur.scalar(item_type) for _ in range(n)]
    if item_type != STRING:
        cur.take(n * _SCALARS[item_type].size)
        return LongArray(item_type, n)
    if stop_at_long_strings:
        raise _StopHere
    _skip_strings(cur, n, key)
    return LongArray(item_type, n)


def _skip_strings(cur: _Cursor, n: int, key: str) -> None:
    # The hot loop of a real header (262k vocabulary strings): locals only, one bounds check per element.
    buf, off, size = cur.buf, cur.off, cur.size
    end_limit = min(size, cur.limits.max_header_bytes)
    max_len = cur.limits.max_string_bytes
    unpack = _U64.unpack_from
    for _ in range(n):
        if off + 8 > end_limit:
            cur.off = off
            cur.take(8)  # raises: past the end of the file, or over the header-size limit
        slen = unpack(buf, off)[0]
        if slen > max_len:
            raise HeaderProblem(f"has a string in {key!r} of {slen:,} bytes, more than the {max_len:,} "
                                "this app reads", True)
        if off + 8 + slen > end_limit:
            cur.off = off + 8
            cur.take(slen)  # raises, as above
        off += 8 + slen
    cur.off = off


class _StopHere(Exception):
    """Peeking: the rest of the header is the tokenizer's lists, which a peek does not need."""


def _fields(cur: _Cursor, count: int, stop_at_long_strings: bool) -> Iterator[tuple[str, Value]]:
    for _ in range(count):
        key = cur.text(cur.limits.max_name_bytes, "a key name")
        vtype = cur.u32()
        if vtype == STRING:
            yield key, cur.text(cur.limits.max_string_bytes, f"the value of {key!r}")
        elif vtype in _SCALARS:
            yield key, cur.scalar(vtype)
        elif vtype == ARRAY:
            yield key, _array(cur, key, stop_at_long_strings)
        else:
            raise HeaderProblem(f"has a key ({key!r}) of unknown type {vtype}", False)


def _start(buf: Buffer, limits: HeaderLimits) -> tuple[_Cursor, int, int, int]:
    cur = _Cursor(buf, limits)
    if bytes(buf[:4]) != GGUF_MAGIC:
        raise NoMagic()
    cur.take(4)
    version = cur.u32()
    n_tensors = cur.u64()
    n_kv = cur.u64()
    return cur, version, n_tensors, n_kv


def read_header(buf: Buffer, limits: HeaderLimits = DEFAULT_LIMITS) -> GGUFHeader:
    """Parse a whole header from a buffer (bytes or an mmap of the file).

    Raises PastEnd when the header runs past the buffer, HeaderProblem for a
    broken limit or format; nothing else for any bytes (the fuzz test's promise).
    """
    cur, version, n_tensors, n_kv = _start(buf, limits)
    _check_count(n_kv, limits.max_keys, "metadata keys")
    _check_count(n_tensors, limits.max_tensors, "tensors")
    fields: dict[str, Value] = {}
    for key, value in _fields(cur, n_kv, stop_at_long_strings=False):
        if key in fields:  # llama.cpp refuses duplicates too; which one would it mean?
            raise HeaderProblem(f"has the key {key!r} twice", False)
        fields[key] = value
    tensors = []
    names: set[str] = set()
    for _ in range(n_tensors):
        name = cur.text(limits.max_name_bytes, "a tensor name")
        n_dims = cur.u32()
        if n_dims > GGML_MAX_DIMS:
            raise HeaderProblem(f"has a tensor ({name!r}) with {n_dims:,} dimensions (at most 4)", False)
        dims = tuple(cur.u64() for _ in range(n_dims))
        type_id = cur.u32()
        offset = cur.u64()
        if name in names:
            raise HeaderProblem(f"has the tensor {name!r} twice", False)
        names.add(name)
        tensors.append(TensorInfo(name, dims, type_id, offset))
    align = fields.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(align, int) or isinstance(align, bool) or align <= 0 or align & (align - 1):
        raise HeaderProblem("has an invalid general.alignment (not a power of two)", False)
    data_offset = -(-cur.off // align) * align
    return GGUFHeader(version, fields, tuple(tensors), data_offset)


def peek_fields(buf: Buffer, max_keys: int, limits: HeaderLimits = DEFAULT_LIMITS) -> dict[str, Value]:
    """The first keys (up to max_keys) that fit in buf; stops quietly at the buffer's end,
    at the tokenizer's long string lists, or at anything broken, keeping what it read.

    Raises NoMagic when buf is not GGUF at all, nothing else.
    """
    out: dict[str, Value] = {}
    try:
        cur, _version, _n_tensors, n_kv = _start(buf, limits)
        for key, value in _fields(cur, min(n_kv, max_keys), stop_at_long_strings=True):
            out.setdefault(key, value)
    except NoMagic:
        raise
    except (HeaderProblem, PastEnd, _StopHere):
        pass  # a peek keeps what it read; the full read (read_model_facts) names the problem
    return out
