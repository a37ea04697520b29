"""Strangers' names and paths (issue 24, items 5 and 6): inert on a terminal, kept inside their folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemmacompare.models.facts_cache import FactsCache
from gemmacompare.models.library import scan_library
from gemmacompare.models.locations import default_locations
from gemmacompare.models.scanners import ollama_blob
from tests.library_tree import ollama_model
from tests.unit.test_hostile_names import ESC_TITLE, RED, RLO, assert_inert, run_cli


def test_models_lists_hostile_names_inert(tmp_path, demo_paths):
    home = tmp_path / "home"
    ollama_model(home / ".ollama" / "models", f"evil{RED}{RLO}", f"tag{ESC_TITLE}", demo_paths["smollm2"])
    out = run_cli("-v", "models", env={"HOME": str(home)})
    assert out.returncode == 0, out.stderr
    assert_inert(out.stdout + out.stderr)
    assert "ollama:evil\\x1b[31m\\u202e:tag\\x1b]0;pwned\\x07" in out.stdout
    as_json = run_cli("models", "--json", env={"HOME": str(home)})
    assert_inert(as_json.stdout)
    assert json.loads(as_json.stdout)[0]["name"] == f"evil{RED}{RLO}:tag{ESC_TITLE}"


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
