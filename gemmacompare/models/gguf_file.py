"""GGUF facts and validation, read before anything is handed to llama.cpp.

llama.cpp answers a bad file with a GGML_ASSERT or a terse log line; we check
what we can first so the user gets one sentence saying what is wrong and what
to do.
"""

from __future__ import annotations

import collections
import enum
import functools
import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from gemmacompare.models.chat_template import template_problem
from gemmacompare.models.reasoning_formats import reasoning_format_for_template, template_supports_thinking_switch

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
SUPPORTED_GGUF_VERSIONS = (2, 3)


class FileProblem(enum.Enum):
    """Each kind has its own CLI exit status (the value)."""

    MISSING = 10
    DIRECTORY = 11
    UNREADABLE = 12
    EMPTY = 13
    NOT_GGUF = 14
    BAD_VERSION = 15
    TRUNCATED = 16
    UNKNOWN_ARCH = 17
    CORRUPT = 18


class ModelFileError(Exception):
    def __init__(self, problem: FileProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass(frozen=True)
class ModelFacts:
    path: str
    file_size: int
    architecture: str
    name: str
    parameters: int
    quantization: str
    context_length: int | None
    chat_template: str | None
    reasoning: str | None
    thinking_switch: bool
    gguf_version: int
    tensor_types: dict[str, int] = field(default_factory=dict)
    template_problem: str | None = None  # why the chat template does not compile
    # Random weights in a real model's shapes (models/synthetic.py): good for speed
    # and memory, meaningless answers; the app says so wherever it shows the model.
    synthetic: bool = False
    layout: tuple[tuple[str, str], ...] = ()  # the architecture's shape, as label/value pairs

    SYNTHETIC_LABEL = "synthetic weights (speed and memory only)"

    def __post_init__(self) -> None:
        # The facts cache stores JSON, which gives the layout back as lists.
        object.__setattr__(self, "layout", tuple(tuple(pair) for pair in self.layout))

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    @property
    def template_label(self) -> str:
        if self.template_problem:
            return f"present but broken ({self.template_problem})"
        return "yes" if self.has_chat_template else "no (a fallback is used)"

    @property
    def size_label(self) -> str:
        return human_count(self.parameters)

    def summary_lines(self) -> list[str]:
        return [
            f"file:           {self.path}",
            f"name:           {self.name}",
            f"architecture:   {self.architecture}",
            f"parameters:     {self.size_label} ({self.parameters:,})",
            f"quantisation:   {self.quantization}",
            f"file size:      {human_bytes(self.file_size)}",
            f"context length: {self.context_length or 'unknown'}",
            f"chat template:  {self.template_label}",
            f"reasoning:      {self.reasoning or 'none seen in template'}"
            + (" (thinking switch)" if self.thinking_switch else ""),
            *(f"{(label + ':').ljust(15)} {text}" for label, text in self.layout),
            *([f"weights:        {self.SYNTHETIC_LABEL}"] if self.synthetic else []),
        ]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def human_count(n: int) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}" if n < div * 10 else f"{n / div:.0f}{suffix}"
    return str(n)


def _check_path(path: Path) -> int:
    if not path.exists():
        raise ModelFileError(
            FileProblem.MISSING, f"{path} does not exist; check the path or pick the file again."
        )
    if path.is_dir():
        raise ModelFileError(
            FileProblem.DIRECTORY, f"{path} is a folder, not a model; pick the .gguf file inside it."
        )
    if not os.access(path, os.R_OK):
        raise ModelFileError(
            FileProblem.UNREADABLE,
            f"{path.name} cannot be read (permission denied); fix its permissions or copy it somewhere readable.",
        )
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(
            FileProblem.EMPTY, f"{path.name} is empty (0 bytes); the download or copy probably failed, fetch it again."
        )
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelFileError(
            FileProblem.UNREADABLE, f"{path.name} cannot be read ({exc.strerror}); check the file and try again."
        ) from exc
    if head[:4] != GGUF_MAGIC:
        raise ModelFileError(
            FileProblem.NOT_GGUF,
            f"{path.name} is not a GGUF model (it does not start with 'GGUF'); pick a .gguf file.",
        )
    if len(head) < 8:
        raise ModelFileError(
            FileProblem.TRUNCATED, f"{path.name} is cut short after its header; download it again."
        )
    (version,) = struct.unpack("<I", head[4:8])
    if version not in SUPPORTED_GGUF_VERSIONS:
        raise ModelFileError(
            FileProblem.BAD_VERSION,
            f"{path.name} is GGUF version {version}, which this app cannot read (it reads versions 2 and 3); "
            "convert it with a current llama.cpp.",
        )
    return size


def read_model_facts(path: str | os.PathLike[str], check_arch: bool = True) -> ModelFacts:
    """Validate a GGUF file and read its facts. Raises ModelFileError."""
    p = Path(path).expanduser()
    size = _check_path(p)
    try:
        reader = _summary_reader_class()(str(p))
    except _PastTheEnd as exc:
        raise ModelFileError(FileProblem.TRUNCATED, truncated_message(p.name, size, exc.needed, exc.exact)) from None
    except Exception as exc:  # noqa: BLE001 - a damaged header can raise anything; it is never a crash
        # The library's own words (often numpy's) mean nothing to a user; they go to the log in full.
        log.info("gguf could not read %s", p, exc_info=True)
        msg = str(exc)
        if "mmap length is greater" in msg or isinstance(exc, IndexError):
            raise ModelFileError(
                FileProblem.TRUNCATED,
                f"{p.name} is truncated ({size:,} bytes; its header points past the end); download it again.",
            ) from None
        raise ModelFileError(
            FileProblem.CORRUPT,
            f"{p.name} is a damaged GGUF file (its header cannot be read); download it again.",
        ) from None

    def value(key: str, default=None):
        fld = reader.fields.get(key)
        if fld is None:
            return default
        try:
            return fld.contents()
        except Exception:  # a broken field is reported as missing, not a crash
            return default

    arch = value("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelFileError(
            FileProblem.CORRUPT, f"{p.name} has no general.architecture; it is not a usable llama.cpp model."
        )

    params = 0
    types: collections.Counter[str] = collections.Counter()
    data_end = 0
    for t in reader.tensors:
        params += int(t.n_elements)
        types[t.tensor_type.name] += int(t.n_elements)
        data_end = max(data_end, int(t.data_offset) + int(t.n_bytes))
    if data_end > size:
        raise ModelFileError(FileProblem.TRUNCATED, truncated_message(p.name, size, data_end, exact=True))

    if check_arch and not architecture_known(arch):
        raise ModelFileError(
            FileProblem.UNKNOWN_ARCH,
            f"{p.name} is a '{arch}' model, which this llama.cpp build does not support; "
            "update llama-cpp-python or pick another model.",
        )

    template = value("tokenizer.chat_template")
    template = template if isinstance(template, str) and template else None
    fmt = reasoning_format_for_template(template)
    return ModelFacts(
        path=str(p),
        file_size=size,
        architecture=arch,
        name=str(value("general.name", p.stem)),
        parameters=params,
        quantization=_quantization_name(value("general.file_type"), types),
        context_length=_int_or_none(value(f"{arch}.context_length")),
        chat_template=template,
        reasoning=fmt.name if fmt else None,
        thinking_switch=template_supports_thinking_switch(template),
        gguf_version=int(value("GGUF.version", 0)),
        tensor_types=dict(types),
        template_problem=template_problem(template) if template else None,
        synthetic=value("gemmacompare.synthetic") is True or str(value("general.name", "")).startswith("Synthetic "),
        layout=architecture_layout(arch, value),
    )


def architecture_layout(arch: str, value) -> tuple[tuple[str, str], ...]:
    """What makes this architecture's speed and memory what they are: layers and
    widths, and for the seed architectures the sliding-window pattern, shared KV
    and per-layer embeddings (gemma4) or the DeltaNet/attention mix (qwen35)."""

    def num(key: str):
        v = value(f"{arch}.{key}")
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    out: list[tuple[str, str]] = []
    n_layer, n_embd = num("block_count"), num("embedding_length")
    if n_layer is None:
        return ()
    heads, kv = num("attention.head_count"), value(f"{arch}.attention.head_count_kv")
    kv_text = f"{kv}" if isinstance(kv, int) else "per layer"
    out.append(("layers", f"{n_layer} · width {n_embd} · {heads} heads, KV heads {kv_text}"))
    pattern = value(f"{arch}.attention.sliding_window_pattern")
    window = num("attention.sliding_window")
    if isinstance(pattern, list) and window:
        n_swa = sum(1 for x in pattern if x)
        out.append(("attention", f"{n_swa} sliding-window ({window} tokens), {len(pattern) - n_swa} full"))
    shared = num("attention.shared_kv_layers")
    if shared:
        out.append(("KV cache", f"last {shared} layers reuse earlier layers' KV"))
    ple = num("embedding_length_per_layer_input")
    if ple:
        out.append(("per-layer emb", f"{ple} per layer (a table of {ple * n_layer} x vocabulary)"))
    interval = num("full_attention_interval")
    if num("ssm.state_size") and interval:
        n_attn = n_layer // interval
        out.append(("attention", f"{n_layer - n_attn} Gated DeltaNet (recurrent state), {n_attn} full attention"))
    return tuple(out)


def truncated_message(name: str, actual: int, needed: int, exact: bool) -> str:
    # Exact byte counts: a file cut by a few bytes has the same size in MiB.
    if exact:
        return f"{name} is truncated ({actual:,} bytes of {needed:,} expected); download it again."
    return f"{name} is truncated (it ends inside its header, after {actual:,} bytes); download it again."


class _PastTheEnd(Exception):
    """The header or the tensor table points past the end of the file."""

    def __init__(self, needed: int, exact: bool) -> None:
        super().__init__(needed)
        self.needed = needed
        self.exact = exact  # the whole file's size is known (tensor data), not only a lower bound


def _int_or_none(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _quantization_name(file_type, types: collections.Counter[str]) -> str:
    try:
        from gguf import LlamaFileType

        name = LlamaFileType(int(file_type)).name
        return name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        pass
    if types:
        return types.most_common(1)[0][0]
    return "unknown"


# Arrays longer than this (token lists, scores, merges) are skipped, not parsed:
# gguf's reader builds one numpy view per element, which takes seconds on a
# 262k-token vocabulary, and the facts we show never need them.
_SKIP_ARRAYS_LONGER_THAN = 256


@functools.lru_cache(maxsize=1)
def _summary_reader_class():
    import numpy as np
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFValueType

    class SummaryReader(GGUFReader):
        # gguf reads through numpy views of a memory map; reading past the end
        # gives numpy errors ("When changing to a larger dtype...") that say
        # nothing about the file. Check the bounds first and say how much is missing.
        def _get(self, offset, dtype, count=1, override_order=None):
            end = int(offset) + np.dtype(dtype).itemsize * int(count)
            if end > len(self.data):
                raise _PastTheEnd(end, exact=False)
            return super()._get(offset, dtype, count, override_order)

        def _build_tensors(self, start_offs, fields):
            needed = 0
            for fld in fields:
                _name_len, _name, _n_dims, dims, raw_dtype, offset_tensor = fld.parts
                try:
                    block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(int(raw_dtype[0]))]
                except (KeyError, ValueError):
                    continue  # the reader itself reports an unknown type
                n_elems = int(np.prod(dims.astype(object)))
                needed = max(needed, int(start_offs) + int(offset_tensor[0]) + n_elems * type_size // block_size)
            if needed > len(self.data):
                raise _PastTheEnd(needed, exact=True)
            return super()._build_tensors(start_offs, fields)

        def _get_field_parts(self, orig_offs, raw_type):
            if raw_type != GGUFValueType.ARRAY:
                return super()._get_field_parts(orig_offs, raw_type)
            raw_itype = self._get(orig_offs, np.uint32)
            alen = self._get(orig_offs + 4, np.uint64)
            n = int(alen[0])
            if n <= _SKIP_ARRAYS_LONGER_THAN:
                return super()._get_field_parts(orig_offs, raw_type)
            itype = GGUFValueType(int(raw_itype[0]))
            offs = orig_offs + 12
            end = len(self.data)
            if itype == GGUFValueType.STRING:
                view = memoryview(self.data)
                unpack = struct.Struct("<Q").unpack_from
                for _ in range(n):
                    if offs + 8 > end:
                        raise _PastTheEnd(offs + 8, exact=False)
                    offs += 8 + unpack(view, offs)[0]
                    if offs > end:
                        raise _PastTheEnd(offs, exact=False)
            else:
                nptype = self.gguf_scalar_to_np.get(itype)
                if nptype is None:
                    return super()._get_field_parts(orig_offs, raw_type)
                offs += n * np.dtype(nptype).itemsize
            if offs > len(self.data):
                raise _PastTheEnd(offs, exact=False)
            return offs - orig_offs, [raw_itype, alen], [], [GGUFValueType.ARRAY, itype]

    return SummaryReader


@functools.lru_cache(maxsize=1)
def _libllama_bytes() -> bytes | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or not spec.submodule_search_locations:
            return None
        lib_dir = Path(list(spec.submodule_search_locations)[0]) / "lib"
        libs = sorted(lib_dir.glob("libllama.*"))
        return libs[0].read_bytes() if libs else None
    except OSError:
        return None


def architecture_known(arch: str) -> bool:
    """Whether the installed llama.cpp knows this architecture.

    llama.cpp has no API that lists its architectures, but their names are
    NUL-terminated literals in libllama (LLM_ARCH_NAMES); when the library
    cannot be read we let llama.cpp decide at load time.
    """
    blob = _libllama_bytes()
    if blob is None:
        return True
    return b"\0" + arch.encode() + b"\0" in blob
