"""JSON from strangers (issue 24, item 3): bounded size and depth, one sentence, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

from gemmacompare.models.facts_cache import FactsCache
from gemmacompare.models.library import scan_library
from gemmacompare.models.locations import default_locations
from tests.library_tree import ollama_model
from tests.unit.test_hostile_json import BOMB


def _home_with_ollama(tmp_path: Path, demo_paths) -> Path:
    home = tmp_path / "home"
    root = home / ".ollama" / "models"
    ollama_model(root, "smollm2", "latest", demo_paths["smollm2"])
    return home


def _scan(home: Path):
    locs = default_locations(env={}, home=home, ollama_service=home / "no-service")
    return scan_library(locs, FactsCache(home.parent / "facts.json"))


def test_an_ollama_manifest_bomb_skips_that_model_only(tmp_path, demo_paths):
    home = _home_with_ollama(tmp_path, demo_paths)
    bomb = home / ".ollama/models/manifests/registry.ollama.ai/library/evil/latest"
    bomb.parent.mkdir(parents=True)
    bomb.write_bytes(BOMB)
    scan = _scan(home)
    assert [e.ref for e in scan.entries] == ["ollama:smollm2:latest"]
    assert any("evil:latest (unreadable): its manifest" in n and "nested more than 64 levels" in n for n in scan.notes)
