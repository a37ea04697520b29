"""Strangers' names and paths (issue 24, items 5 and 6): inert on a terminal, kept inside their folders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gemmacompare.models.scanners import Notes, walk_files
from gemmacompare.state.untrusted import terminal_safe
from tests.hostile_files import gguf_bytes, kv_string, write

ROOT = Path(__file__).resolve().parents[2]


ESC_TITLE = "\x1b]0;pwned\x07"  # OSC: retitles the terminal


RED = "\x1b[31m"


RLO = "\u202e"  # right-to-left override: "evil\u202efdp.exe" shows as "evilexe.pdf"


DANGEROUS = ("\x1b", "\x07", "\x9b", "\r", RLO, "\u2066", "\u2069", "\u200f")


def assert_inert(text: str) -> None:
    assert not any(ch in text for ch in DANGEROUS), repr(text)


def test_terminal_safe_makes_controls_and_bidi_visible():
    out = terminal_safe(f"a{ESC_TITLE}b{RED}c\x9bd{RLO}e\u2066f\u2069g\r\nh")
    assert_inert(out)
    assert out == "a\\x1b]0;pwned\\x07b\\x1b[31mc\\x9bd\\u202ee\\u2066f\\u2069g\\x0d\\x0ah"
    assert terminal_safe("Gemma 3 · 270M — é 日本 C:\\models\\x.gguf") == "Gemma 3 · 270M — é 日本 C:\\models\\x.gguf"
    assert terminal_safe("a\n\tb\rc", keep_newlines=True) == "a\n\tb\\x0dc"


def test_terminal_safe_bounds_length_and_time():
    t0 = time.monotonic()
    out = terminal_safe("\x1b" * 50_000_000, max_len=100)
    assert time.monotonic() - t0 < 1.0
    assert len(out) < 140 and out.endswith("more characters)")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=240, env={**os.environ, **(env or {})})


def test_inspect_prints_hostile_metadata_inert(tmp_path):
    kvs = [kv_string("general.architecture", "llama"), kv_string("general.name", f"nice{ESC_TITLE}{RED}{RLO}model")]
    p = write(tmp_path / f"evil{RLO}fdp.gguf", gguf_bytes(kvs))
    out = run_cli("inspect", str(p))
    assert out.returncode == 0, out.stderr
    assert_inert(out.stdout + out.stderr)
    assert "name:           nice\\x1b]0;pwned\\x07\\x1b[31m\\u202emodel" in out.stdout
    assert "evil\\u202efdp.gguf" in out.stdout
    bad = write(tmp_path / f"x{RED}{RLO}.gguf", b"not a model at all")
    out = run_cli("inspect", str(bad))
    assert_inert(out.stderr)
    assert out.stderr.startswith("error: x\\x1b[31m\\u202e.gguf is not a GGUF model")


def test_a_folder_link_out_of_a_cache_is_not_followed(tmp_path):
    cache = tmp_path / "cache"
    (cache / "sub").mkdir(parents=True)
    (cache / "sub" / "inside.gguf").write_bytes(b"x")
    (cache / "root-link").symlink_to("/")
    (cache / "up-link").symlink_to(tmp_path)
    (cache / "in-link").symlink_to(cache / "sub")
    notes = Notes()
    t0 = time.monotonic()
    files = {p.relative_to(cache).as_posix() for p in walk_files(cache, notes)}
    assert time.monotonic() - t0 < 2.0
    assert files in ({"sub/inside.gguf"}, {"in-link/inside.gguf"})  # one folder, visited once, by either name
    assert sum("a folder link out of" in n for n in notes.lines) == 2
    # A folder the user added: their links are theirs to follow.
    user = {p.name for p in walk_files(cache, Notes(), max_depth=1, contain=False)}
    assert "inside.gguf" in user
