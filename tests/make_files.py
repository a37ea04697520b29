"""Broken and odd model files, made by the tests themselves."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_tiny_gguf(path: Path, arch: str = "llama") -> Path:
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny {arch}")
    w.add_context_length(128)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_truncated(src: Path, dst: Path, keep_bytes: int = 4 << 20) -> Path:
    with src.open("rb") as f:
        dst.write_bytes(f.read(keep_bytes))
    return dst


def write_bad_version(dst: Path, version: int = 99) -> Path:
    dst.write_bytes(b"GGUF" + struct.pack("<I", version) + b"\0" * 64)
    return dst


def write_broken_template(src: Path, dst: Path) -> Path:
    """A copy of a model whose chat template has a typo ({% endfro %}).

    Same length as the original tag, so the GGUF string lengths stay right.
    """
    data = src.read_bytes()
    good, bad = b"{% endfor %}", b"{% endfro %}"
    assert data.count(good) == 1, "expected one {% endfor %} in the template"
    dst.write_bytes(data.replace(good, bad))
    return dst
