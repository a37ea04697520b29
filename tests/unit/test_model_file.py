"""GGUF facts and every kind of bad file, on real and hand-made files."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from gemmacompare.models.gguf_file import FileProblem, ModelFileError, read_model_facts
from tests.make_files import write_bad_version, write_tiny_gguf

ROOT = Path(__file__).resolve().parents[2]


def problem_of(path) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        read_model_facts(path)
    msg = info.value.message
    assert "\n" not in msg and msg.endswith(".")
    return info.value


def test_missing(tmp_path):
    assert problem_of(tmp_path / "nope.gguf").problem is FileProblem.MISSING


def test_directory(tmp_path):
    assert problem_of(tmp_path).problem is FileProblem.DIRECTORY


def test_zero_bytes(tmp_path):
    p = tmp_path / "empty.gguf"
    p.touch()
    assert problem_of(p).problem is FileProblem.EMPTY


def test_not_gguf(tmp_path):
    p = tmp_path / "notes.gguf"
    p.write_text("these are not weights\n" * 10)
    err = problem_of(p)
    assert err.problem is FileProblem.NOT_GGUF and "not a GGUF" in err.message


def test_bad_version(tmp_path):
    err = problem_of(write_bad_version(tmp_path / "v99.gguf"))
    assert err.problem is FileProblem.BAD_VERSION and "version 99" in err.message


def test_unknown_architecture(tmp_path):
    err = problem_of(write_tiny_gguf(tmp_path / "alien.gguf", arch="notarealarch"))
    assert err.problem is FileProblem.UNKNOWN_ARCH and "notarealarch" in err.message


def test_known_architecture_tiny_file_reads(tmp_path):
    f = read_model_facts(write_tiny_gguf(tmp_path / "tiny.gguf", arch="llama"))
    assert f.architecture == "llama" and f.parameters == 32


def test_unreadable_file(tmp_path):
    p = write_bad_version(tmp_path / "locked.gguf", 3)
    p.chmod(0o000)
    try:
        if os.getuid() != 0:
            assert problem_of(p).problem is FileProblem.UNREADABLE
            return
        # Root reads everything; without the capabilities that let it, it is an
        # ordinary owner facing a mode-000 file.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to drop root's read override")
        code = (
            "import sys; from gemmacompare.models.gguf_file import read_model_facts, ModelFileError\n"
            "try: read_model_facts(sys.argv[1])\n"
            "except ModelFileError as e: print(e.problem.name); print(e.message)\n"
        )
        out = subprocess.run(
            [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", code, str(p)],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )
        assert out.stdout.splitlines()[:1] == ["UNREADABLE"], out.stdout + out.stderr
        assert "permission" in out.stdout
    finally:
        p.chmod(0o644)


def test_absurd_header_counts_are_a_message(tmp_path):
    # A kv count of 2**63: gguf's reader and our array skipper must not crash.
    p = tmp_path / "ovf.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2**63) + b"\0" * 64)
    assert problem_of(p).problem in (FileProblem.CORRUPT, FileProblem.TRUNCATED)


def test_damaged_headers_never_crash(tmp_path):
    """Random byte damage in a real header: facts or a ModelFileError, nothing else."""
    good = write_tiny_gguf(tmp_path / "good.gguf").read_bytes()
    rng = random.Random(1234)
    outcomes = {"facts": 0, "error": 0}
    for n in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(8, min(len(data), 400))] = rng.randrange(256)
        p = tmp_path / f"d{n}.gguf"
        p.write_bytes(bytes(data))
        try:
            read_model_facts(p, check_arch=False)
            outcomes["facts"] += 1
        except ModelFileError as exc:
            assert "\n" not in exc.message
            # Our words only: no library text, whole or cut short.
            assert "…" not in exc.message and "dtype" not in exc.message and "numpy" not in exc.message
            assert exc.message.endswith(("download it again.", "a usable llama.cpp model.", "pick another model."))
            outcomes["error"] += 1
    assert outcomes["error"] > 0
