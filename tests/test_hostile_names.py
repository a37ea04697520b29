"""Strangers' names and paths (issue 24, items 5 and 6): inert on a terminal, kept inside their folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gemmacompare.models.facts_cache import FactsCache
from gemmacompare.models.library import scan_library
from gemmacompare.models.locations import default_locations
from gemmacompare.models.scanners import Notes, ollama_blob, walk_files
from gemmacompare.state.untrusted import terminal_safe
from tests.hostile_files import gguf_bytes, kv_string, write
from tests.library_tree import ollama_model

ROOT = Path(__file__).resolve().parent.parent
ESC_TITLE = "\x1b]0;pwned\x07"  # OSC: retitles the terminal
RED = "\x1b[31m"
RLO = "\u202e"  # right-to-left override: "evil\u202efdp.exe" shows as "evilexe.pdf"
DANGEROUS = ("\x1b", "\x07", "\x9b", "\r", RLO, "\u2066", "\u2069", "\u200f")


def _inert(text: str) -> None:
    assert not any(ch in text for ch in DANGEROUS), repr(text)


def test_terminal_safe_makes_controls_and_bidi_visible():
    out = terminal_safe(f"a{ESC_TITLE}b{RED}c\x9bd{RLO}e\u2066f\u2069g\r\nh")
    _inert(out)
    assert out == "a\\x1b]0;pwned\\x07b\\x1b[31mc\\x9bd\\u202ee\\u2066f\\u2069g\\x0d\\x0ah"
    assert terminal_safe("Gemma 3 · 270M — é 日本 C:\\models\\x.gguf") == "Gemma 3 · 270M — é 日本 C:\\models\\x.gguf"
    assert terminal_safe("a\n\tb\rc", keep_newlines=True) == "a\n\tb\\x0dc"


def test_terminal_safe_bounds_length_and_time():
    t0 = time.monotonic()
    out = terminal_safe("\x1b" * 50_000_000, max_len=100)
    assert time.monotonic() - t0 < 1.0
    assert len(out) < 140 and out.endswith("more characters)")


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=240, env={**os.environ, **(env or {})})


def test_inspect_prints_hostile_metadata_inert(tmp_path):
    kvs = [kv_string("general.architecture", "llama"), kv_string("general.name", f"nice{ESC_TITLE}{RED}{RLO}model")]
    p = write(tmp_path / f"evil{RLO}fdp.gguf", gguf_bytes(kvs))
    out = _cli("inspect", str(p))
    assert out.returncode == 0, out.stderr
    _inert(out.stdout + out.stderr)
    assert "name:           nice\\x1b]0;pwned\\x07\\x1b[31m\\u202emodel" in out.stdout
    assert "evil\\u202efdp.gguf" in out.stdout
    bad = write(tmp_path / f"x{RED}{RLO}.gguf", b"not a model at all")
    out = _cli("inspect", str(bad))
    _inert(out.stderr)
    assert out.stderr.startswith("error: x\\x1b[31m\\u202e.gguf is not a GGUF model")


def test_models_lists_hostile_names_inert(tmp_path, demo_paths):
    home = tmp_path / "home"
    ollama_model(home / ".ollama" / "models", f"evil{RED}{RLO}", f"tag{ESC_TITLE}", demo_paths["smollm2"])
    out = _cli("-v", "models", env={"HOME": str(home)})
    assert out.returncode == 0, out.stderr
    _inert(out.stdout + out.stderr)
    assert "ollama:evil\\x1b[31m\\u202e:tag\\x1b]0;pwned\\x07" in out.stdout
    as_json = _cli("models", "--json", env={"HOME": str(home)})
    _inert(as_json.stdout)
    assert json.loads(as_json.stdout)[0]["name"] == f"evil{RED}{RLO}:tag{ESC_TITLE}"


# --- Ollama digests and folder links ------------------------------------------------

def _ollama_home(tmp_path: Path, demo_paths) -> tuple[Path, Path]:
    home = tmp_path / "home"
    root = home / ".ollama" / "models"
    ollama_model(root, "good", "latest", demo_paths["smollm2"])
    return home, root


def _manifest_with_digest(root: Path, name: str, digest: str) -> None:
    m = root / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest}]}))


def _scan(home: Path):
    locs = default_locations(env={}, home=home, ollama_service=home / "no-service")
    return scan_library(locs, FactsCache(home.parent / "facts.json"))


@pytest.mark.parametrize("digest", ["../../x.gguf", "/etc/passwd", "sha256:../../../etc/passwd",
                                    "sha256:" + "A" * 64, "sha256:" + "0" * 63, "sha512:" + "0" * 64])
def test_ollama_digests_must_be_sha256_hex(tmp_path, demo_paths, digest):
    home, root = _ollama_home(tmp_path, demo_paths)
    # Something a traversal could reach, so that only validation keeps it out.
    (tmp_path / "x.gguf").write_bytes(demo_paths["smollm2"].read_bytes()[:1 << 20])
    _manifest_with_digest(root, "evil", digest)
    scan = _scan(home)
    assert [e.ref for e in scan.entries] == ["ollama:good:latest"]
    assert any("evil:latest" in n and "not a sha256 digest" in n for n in scan.notes)


def test_an_ollama_blob_linking_out_of_blobs_is_refused(tmp_path, demo_paths):
    home, root = _ollama_home(tmp_path, demo_paths)
    digest = "sha256:" + "ab" * 32
    outside = tmp_path / "elsewhere.gguf"
    outside.write_bytes(demo_paths["smollm2"].read_bytes()[:1 << 20])
    (root / "blobs" / digest.replace(":", "-")).symlink_to(outside)
    assert ollama_blob(root, digest) is None
    good = "sha256:" + "cd" * 32
    assert ollama_blob(root, good) == root / "blobs" / good.replace(":", "-")


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
