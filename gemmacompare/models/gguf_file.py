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
import math
import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gemmacompare.models.chat_template import template_problem
from gemmacompare.models.gguf_reader import GGUF_MAGIC, GGUFHeader, HeaderProblem, PastEnd, Value, read_header
from gemmacompare.models.memory_estimate import MemoryEstimate, estimate_memory, memory_shape
from gemmacompare.models.reasoning_formats import reasoning_format_for_template, template_supports_thinking_switch

log = logging.getLogger(__name__)

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
    # The hyperparameters memory depends on (models.memory_estimate.memory_shape); {} if unknown.
    memory_shape: dict[str, Any] = field(default_factory=dict)

    SYNTHETIC_LABEL = "synthetic weights (speed and memory only)"

    def __post_init__(self) -> None:
        # The facts cache stores JSON, which gives the layout back as lists.
        object.__setattr__(self, "layout", tuple(tuple(pair) for pair in self.layout))

    def memory_at(self, n_ctx: int, **options: Any) -> MemoryEstimate | None:
        """What llama.cpp will allocate at n_ctx (weights, KV, recurrent state); see estimate_memory."""
        return estimate_memory(self.memory_shape, self.file_size, n_ctx, **options)

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
    """Validate a GGUF file and read its facts. Raises ModelFileError.

    The header is read within gguf_reader's HeaderLimits, so a hostile file
    costs at most about a second and tens of MiB, whatever it declares.
    """
    p = Path(path).expanduser()
    size = _check_path(p)
    header = _read_header(p, size)

    def value(key: str, default: Value | None = None) -> Value | None:
        v = header.fields.get(key)
        return default if v is None else v

    arch = value("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelFileError(
            FileProblem.CORRUPT, f"{p.name} has no general.architecture; it is not a usable llama.cpp model."
        )

    params, types, data_end = _tensor_totals(p.name, header)
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
    name = value("general.name")
    fmt = reasoning_format_for_template(template)
    return ModelFacts(
        path=str(p),
        file_size=size,
        architecture=arch,
        name=name if isinstance(name, str) and name else p.stem,
        parameters=params,
        quantization=_quantization_name(value("general.file_type"), types),
        context_length=_int_or_none(value(f"{arch}.context_length")),
        chat_template=template,
        reasoning=fmt.name if fmt else None,
        thinking_switch=template_supports_thinking_switch(template),
        gguf_version=header.version,
        tensor_types=dict(types),
        template_problem=template_problem(template) if template else None,
        synthetic=value("gemmacompare.synthetic") is True or str(value("general.name", "")).startswith("Synthetic "),
        layout=architecture_layout(arch, value),
        memory_shape=memory_shape(arch, value),
    )


def architecture_layout(arch: str, value: Callable[[str], Value | None]) -> tuple[tuple[str, str], ...]:
    """What makes this architecture's speed and memory what they are: layers and
    widths, and for the seed architectures the sliding-window pattern, shared KV
    and per-layer embeddings (gemma4) or the DeltaNet/attention mix (qwen35)."""

    def num(key: str) -> int | float | None:
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


def _read_header(p: Path, size: int) -> GGUFHeader:
    try:
        with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return read_header(mm)
    except PastEnd as exc:
        raise ModelFileError(FileProblem.TRUNCATED, truncated_message(p.name, size, exc.needed, False)) from None
    except HeaderProblem as exc:
        log.info("gguf header of %s: %s", p, exc.reason)
        if exc.over_limit:
            raise ModelFileError(
                FileProblem.CORRUPT,
                f"{p.name} {exc.reason}, so it was not read; the file is damaged or not a real model, "
                "pick another model.",
            ) from None
        raise ModelFileError(
            FileProblem.CORRUPT, f"{p.name} is a damaged GGUF file (it {exc.reason}); download it again."
        ) from None
    except (OSError, ValueError):  # mmap of a special file, or a read error mid-way
        log.info("could not map %s", p, exc_info=True)
        raise ModelFileError(
            FileProblem.UNREADABLE, f"{p.name} cannot be read as a file; check the file and try again."
        ) from None


def _tensor_totals(name: str, header: GGUFHeader) -> tuple[int, collections.Counter[str], int]:
    """Parameters, elements per tensor type, and where the last tensor's data ends."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    params = 0
    types: collections.Counter[str] = collections.Counter()
    data_end = 0
    for t in header.tensors:
        try:
            qtype = GGMLQuantizationType(t.type_id)
            block_size, type_size = GGML_QUANT_SIZES[qtype]
        except (KeyError, ValueError):
            raise ModelFileError(
                FileProblem.CORRUPT,
                f"{name} is a damaged GGUF file (its tensor {t.name!r} has unknown type {t.type_id}); "
                "download it again.",
            ) from None
        n_elements = math.prod(t.dims)
        params += n_elements
        types[qtype.name] += n_elements
        data_end = max(data_end, header.data_offset + t.offset + n_elements * type_size // block_size)
    return params, types, data_end


def truncated_message(name: str, actual: int, needed: int, exact: bool) -> str:
    # Exact byte counts: a file cut by a few bytes has the same size in MiB.
    if exact:
        return f"{name} is truncated ({actual:,} bytes of {needed:,} expected); download it again."
    return f"{name} is truncated (it ends inside its header, after {actual:,} bytes); download it again."


def _int_or_none(v: Any) -> int | None:  # any header value
    if isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):  # a string, a list, NaN or infinity from a header
        return None


def _quantization_name(file_type: Any, types: collections.Counter[str]) -> str:
    try:
        from gguf import LlamaFileType

        name = LlamaFileType(int(file_type)).name
        return name.removeprefix("MOSTLY_")
    except (TypeError, ValueError, OverflowError):
        pass
    if types:
        return types.most_common(1)[0][0]
    return "unknown"


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
