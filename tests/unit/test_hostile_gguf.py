"""Hostile GGUF headers (issue 24, items 1 and 3): one sentence within bounded time and memory.

Every file here is written byte by byte (tests/hostile_files.py), so it can
declare what no writer would: a million keys, 2^60 tensors, a key length of 2^63.
"""

from __future__ import annotations

import struct
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmacompare.models.facts_cache import FactsCache
from gemmacompare.models.gguf_file import FileProblem, ModelFileError, read_model_facts
from gemmacompare.models.gguf_header import NotGGUF, peek_header
from gemmacompare.models.gguf_reader import (
    GGUFHeader,
    HeaderLimits,
    HeaderProblem,
    NoMagic,
    PastEnd,
    peek_fields,
    read_header,
)
from gemmacompare.models.library import scan_library
from gemmacompare.models.locations import FOLDER, TREE_LAYOUT, Location
from tests.hostile_files import (
    ARRAY,
    F32,
    STRING,
    U8,
    gguf_bytes,
    gstr,
    kv_array,
    kv_string,
    kv_u32,
    minimal_kvs,
    tensor_info,
    write,
    write_big_vocab_gguf,
)
from tests.make_files import write_tiny_gguf

# Generous: the real figures are milliseconds and a few MB (see the README's "bad input" section).
TIME_LIMIT_S = 3.0
MEMORY_LIMIT = 64 << 20


def _problem(path: Path) -> ModelFileError:
    """The one sentence read_model_facts gives, checked for shape, time and memory."""
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(ModelFileError) as info:
            read_model_facts(path, check_arch=False)
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = info.value.message
    assert "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0, msg
    assert elapsed < TIME_LIMIT_S, f"{elapsed:.1f} s for {path.name}"
    assert peak < MEMORY_LIMIT, f"{peak >> 20} MiB for {path.name}"
    return info.value


def test_a_million_declared_keys_stop_at_the_key_limit(tmp_path):
    # The issue's 121 MB file of 1,000,000 keys took 87 s and 3.2 GB; the declared count is enough to refuse it.
    p = write(tmp_path / "keys.gguf", gguf_bytes(minimal_kvs(), n_kv=1_000_000, tail=b"\0" * 4096))
    err = _problem(p)
    assert err.problem is FileProblem.CORRUPT
    assert err.message == ("keys.gguf declares 1,000,000 metadata keys, more than the 4,096 this app reads, "
                           "so it was not read; the file is damaged or not a real model, pick another model.")


def test_keys_written_past_the_limit_are_refused(tmp_path):
    kvs = minimal_kvs() + [kv_u32(f"junk.{i}", i) for i in range(5000)]
    err = _problem(write(tmp_path / "many.gguf", gguf_bytes(kvs)))
    assert "5,002 metadata keys" in err.message


def test_two_to_the_sixty_tensors_stop_at_once(tmp_path):
    # The issue's case passed 8.9 GiB and ran for minutes.
    p = write(tmp_path / "tensors.gguf", gguf_bytes(minimal_kvs(), n_tensors=2**60, tail=b"\0" * (1 << 20)))
    err = _problem(p)
    assert "declares 1,152,921,504,606,846,976 tensors, more than the 65,536" in err.message


def test_a_huge_array_is_refused_before_it_is_walked(tmp_path):
    kvs = minimal_kvs() + [kv_array("tokenizer.ggml.tokens", STRING, 2**40, gstr("a") * 100)]
    err = _problem(write(tmp_path / "array.gguf", gguf_bytes(kvs)))
    assert "1,099,511,627,776 elements in its array 'tokenizer.ggml.tokens'" in err.message


@pytest.mark.parametrize("where", ["key", "value", "array element", "tensor name"])
def test_a_string_length_of_two_to_the_63_is_one_sentence(tmp_path, where):
    huge = 2**63
    if where == "key":
        kvs = [gstr("x", declared_len=huge)]
    elif where == "value":
        kvs = minimal_kvs() + [gstr("general.description") + struct.pack("<I", STRING) + gstr("x", huge)]
    elif where == "array element":
        kvs = minimal_kvs() + [kv_array("general.tags", STRING, 3, gstr("a") + gstr("b", huge))]
    else:
        kvs = minimal_kvs()
    tensors = [gstr("t", huge) + b"\0" * 32] if where == "tensor name" else []
    err = _problem(write(tmp_path / "len.gguf", gguf_bytes(kvs, tensors, n_tensors=len(tensors))))
    assert err.problem is FileProblem.CORRUPT and "9,223,372,036,854,775,808 bytes" in err.message


def test_nested_arrays_and_too_many_dimensions_are_damage(tmp_path):
    nested = minimal_kvs() + [kv_array("x", ARRAY, 1, struct.pack("<IQ", ARRAY, 1) * 3000)]
    err = _problem(write(tmp_path / "nested.gguf", gguf_bytes(nested)))
    assert err.message == ("nested.gguf is a damaged GGUF file (it has an array of arrays ('x'), which llama.cpp "
                           "does not read); download it again.")
    dims = gguf_bytes(minimal_kvs(), [tensor_info("w", tuple([1] * 1000))])
    err = _problem(write(tmp_path / "dims.gguf", dims))
    assert "1,000 dimensions" in err.message


def test_duplicate_keys_and_unknown_types_are_damage(tmp_path):
    err = _problem(write(tmp_path / "dup.gguf", gguf_bytes(minimal_kvs() + [kv_string("general.name", "again")])))
    assert "has the key 'general.name' twice" in err.message
    odd = minimal_kvs() + [gstr("x") + struct.pack("<I", 99)]
    assert "unknown type 99" in _problem(write(tmp_path / "type.gguf", gguf_bytes(odd))).message
    t = gguf_bytes(minimal_kvs(), [tensor_info("w", (4,), type_id=250)])
    assert "unknown type 250" in _problem(write(tmp_path / "ttype.gguf", t)).message


def test_header_size_limit_counts_every_byte():
    data = gguf_bytes(minimal_kvs() + [kv_array("tokenizer.ggml.tokens", STRING, 5000, gstr("tok") * 5000)])
    assert isinstance(read_header(data), GGUFHeader)
    with pytest.raises(HeaderProblem, match="header larger than"):
        read_header(data, HeaderLimits(max_header_bytes=4096 << 0))


def test_header_running_past_the_end_says_truncated(tmp_path):
    kvs = minimal_kvs() + [kv_array("tokenizer.ggml.scores", F32, 10_000)]  # declares 40 KB it does not have
    err = _problem(write(tmp_path / "short.gguf", gguf_bytes(kvs)))
    assert err.problem is FileProblem.TRUNCATED and "ends inside its header" in err.message


def test_tensor_data_past_the_end_is_exact(tmp_path):
    data = gguf_bytes(minimal_kvs(), [tensor_info("w", (2**40,), type_id=U8)])  # type 0: F32, 4 TiB
    err = _problem(write(tmp_path / "data.gguf", data))
    assert err.problem is FileProblem.TRUNCATED and "bytes of 4,398,046,511," in err.message


def test_odd_values_in_known_keys_are_not_facts(tmp_path):
    kvs = [kv_string("general.architecture", "llama"), gstr("general.name") + struct.pack("<I", F32) + b"\0\0\x80\x7f",
           gstr("llama.context_length") + struct.pack("<I", 12) + struct.pack("<d", float("inf")),
           gstr("general.file_type") + struct.pack("<I", 12) + struct.pack("<d", float("nan"))]
    facts = read_model_facts(write(tmp_path / "odd.gguf", gguf_bytes(kvs)), check_arch=False)
    assert facts.name == "odd" and facts.context_length is None and facts.quantization == "unknown"


def test_peek_with_a_key_length_of_two_to_the_63_keeps_what_it_read(tmp_path):
    data = gguf_bytes(minimal_kvs() + [gstr("x", declared_len=2**63)])
    assert peek_header(write(tmp_path / "ovf.gguf", data)) == {"general.architecture": "llama",
                                                                "general.name": "hostile"}


def test_one_hostile_file_does_not_stop_the_models_listing(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    write_tiny_gguf(folder / "good.gguf")
    write(folder / "overflow.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 3) + gstr("k", declared_len=2**63))
    write(folder / "bomb.gguf", gguf_bytes(minimal_kvs(), n_kv=10**9, n_tensors=2**60))
    cache = FactsCache(tmp_path / "facts.json")
    scan = scan_library([Location(FOLDER, folder, TREE_LAYOUT, "test")], cache)
    # The scan lists from a peek at the first keys; the full read (on picking one) gives the sentence.
    by_file = {e.file: e for e in scan.entries}
    assert "good.gguf" in by_file and by_file["good.gguf"].architecture == "llama"
    with pytest.raises(ModelFileError, match="declares 1,000,000,000 metadata keys"):
        cache.facts(by_file["bomb.gguf"].path)


def test_a_legitimate_gemma_sized_header_reads_quickly(tmp_path):
    """262,144 vocabulary strings, scores and types and 800 tensors: the largest honest header.

    benchmarks/inspect_header.py gives the figures (about 50 ms here); the limit only catches a regression
    of the order of the old per-element reader."""
    p = write_big_vocab_gguf(tmp_path / "big.gguf")
    read_model_facts(p, check_arch=False)  # warm: imports
    t0 = time.monotonic()
    facts = read_model_facts(p, check_arch=False)
    assert time.monotonic() - t0 < 1.5
    assert facts.architecture == "gemma3" and facts.context_length == 131072 and facts.parameters == 800 * 4
    assert facts.has_chat_template and facts.template_problem is None
    assert peek_header(p)["general.architecture"] == "gemma3"


# --- fuzz ------------------------------------------------------------------------

_VALID = gguf_bytes(minimal_kvs() + [kv_u32("llama.context_length", 128),
                                     kv_array("general.tags", STRING, 2, gstr("a") + gstr("b")),
                                     kv_array("tokenizer.ggml.scores", F32, 300, b"\0" * 1200)],
                    [tensor_info("w", (4, 2)), tensor_info("v", (8,), offset=32)], tail=b"\0" * 64)


def _expect_only_ours(data: bytes, tmp_path: Path) -> None:
    try:
        read_header(data)
    except (PastEnd, HeaderProblem):
        pass
    try:
        peek_fields(data, 64)
    except NoMagic:
        pass
    p = tmp_path / "fuzz.gguf"
    p.write_bytes(data)
    try:
        read_model_facts(p, check_arch=False)
    except ModelFileError as exc:
        assert "\n" not in exc.message and exc.message.endswith(".")
    try:
        peek_header(p)
    except NotGGUF:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_damaged_real_header_gives_facts_or_our_error(tmp_path, data):
    buf = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(8, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(buf)))
    _expect_only_ours(bytes(buf[:cut]), tmp_path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)), body=st.binary(max_size=512))
def test_fuzz_random_header_body_gives_facts_or_our_error(tmp_path, counts, body):
    _expect_only_ours(b"GGUF" + struct.pack("<IQQ", 3, *counts) + body, tmp_path)


def test_memory_estimate_shape_is_bounded():
    """Per-layer lists are built from the declared layer count: a stranger's 2**31 gets no
    estimate, not a list of two billion entries; a declared pattern of the wrong length is ignored."""
    from gemmacompare.models.memory_estimate import memory_shape

    base = {"llama.embedding_length": 64, "llama.attention.head_count": 4}
    assert memory_shape("llama", {**base, "llama.block_count": 2**31}.get) == {}
    assert memory_shape("llama", {**base, "llama.block_count": -3}.get) == {}
    shape = memory_shape("gemma3", {"gemma3.embedding_length": 64, "gemma3.attention.head_count": 4,
                                    "gemma3.block_count": 6, "gemma3.attention.sliding_window": 512,
                                    "gemma3.attention.sliding_window_pattern": [True] * 10**5}.get)
    assert shape["swa"] == [True] * 5 + [False]  # llama.cpp's default period for gemma3, not the bogus list
