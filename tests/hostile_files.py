"""Hostile and very large GGUF headers, written byte by byte by the tests.

The byte writers follow the GGUF layout (gguf_reader's docstring) directly, so
a test can declare anything: counts that do not match, lengths of 2^63, arrays
of arrays. write_big_vocab_gguf writes a *legitimate* header as large as a real
one (Gemma's 262,144-token vocabulary) with gguf-py's own writer.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)


def gstr(s: str | bytes, declared_len: int | None = None) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b) if declared_len is None else declared_len) + b


def kv_string(key: str, value: str | bytes) -> bytes:
    return gstr(key) + struct.pack("<I", STRING) + gstr(value)


def kv_u32(key: str, value: int) -> bytes:
    return gstr(key) + struct.pack("<I", U32) + struct.pack("<I", value)


def kv_array(key: str, item_type: int, n: int, payload: bytes = b"") -> bytes:
    return gstr(key) + struct.pack("<IIQ", ARRAY, item_type, n) + payload


def tensor_info(name: str, dims: tuple[int, ...], type_id: int = 0, offset: int = 0) -> bytes:
    return gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + \
        struct.pack("<IQ", type_id, offset)


def gguf_bytes(kvs: list[bytes], tensors: list[bytes] = (), *, n_kv: int | None = None,
               n_tensors: int | None = None, version: int = 3, tail: bytes = b"") -> bytes:
    """A GGUF file: header counts (declared, or the real ones), keys, tensor infos, then tail."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)
    return head + b"".join(kvs) + b"".join(tensors) + tail


def minimal_kvs(arch: str = "llama") -> list[bytes]:
    return [kv_string("general.architecture", arch), kv_string("general.name", "hostile")]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_big_vocab_gguf(path: Path, n_vocab: int = 262_144, n_tensors: int = 800, seed: int = 0) -> Path:
    """A legitimate header as large as Gemma 3/4's: 262,144 token strings, scores and types,
    a chat template, and 800 tensor entries (27B-sized models have about that many).

    Tensors are tiny (their count, not their size, is what costs a header reader).
    """
    import gguf

    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789▁"
    tokens = [f"<tok{i}>" if i < 256 else "".join(rng.choices(alphabet, k=rng.randint(1, 12)))
              for i in range(n_vocab)]
    w = gguf.GGUFWriter(str(path), "gemma3")
    w.add_name("big vocabulary")
    w.add_context_length(131072)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(np.linspace(0, -1, n_vocab, dtype=np.float32).tolist())
    w.add_token_types([1] * n_vocab)
    w.add_chat_template("{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}"
                        "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
    for i in range(n_tensors):
        w.add_tensor(f"blk.{i // 10}.t{i % 10}.weight", np.zeros((4,), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
