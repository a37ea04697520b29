"""The model library on a realistic home folder: exactly the whole chat models, named as their tools name them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gemmacompare.models.facts_cache import CACHE_VERSION, FactsCache
from gemmacompare.models.library import ModelRefError, resolve_model_ref, scan_library
from gemmacompare.models.locations import default_locations
from tests.library_tree import build_home
from tests.unit.test_library import library_cli


@pytest.fixture(scope="module")
def tree(tmp_path_factory, demo_paths):
    home = tmp_path_factory.mktemp("library") / "home"
    expected = build_home(home, demo_paths["smollm2"], demo_paths["gemma3"])
    return home, expected


def _scan(home: Path, cache: FactsCache | None = None):
    locs = default_locations(env={}, home=home, folders=[str(home / "models")], ollama_service=home / "no-service")
    return scan_library(locs, cache or FactsCache(home.parent / "facts.json"))


def test_scan_lists_exactly_the_whole_chat_models(tree):
    home, expected = tree
    scan = _scan(home)
    got = {e.ref: e.path for e in scan.entries}
    assert got == expected


def test_entries_carry_facts_from_the_header(tree, demo_paths):
    home, _ = tree
    by_ref = {e.ref: e for e in _scan(home).entries}
    smol = by_ref["hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_1"]
    assert (smol.source, smol.name, smol.file) == ("hf", "bartowski/SmolLM2-135M-Instruct-GGUF",
                                                   "SmolLM2-135M-Instruct-Q4_1.gguf")
    assert smol.size == demo_paths["smollm2"].stat().st_size and smol.architecture == "llama"
    gemma = by_ref["ollama:hf.co/ggml-org/gemma3-270m:Q4_K_M"]
    assert gemma.quant == "Q4_K_M" and gemma.architecture == "gemma3" and gemma.file == ""
    split = by_ref["hf:unsloth/Tiny-GGUF:Q8_0"]
    shards = Path(split.path).parent
    assert split.shards == 2
    assert split.size == sum(os.stat(p).st_size for p in shards.iterdir())


def test_skipped_junk_is_noted_not_fatal(tree):
    home, _ = tree
    notes = "\n".join(_scan(home).notes)
    assert "Ollama model broken:latest" in notes and "unreadable" in notes
    assert "Ollama model ghost:latest" in notes and "missing" in notes
    assert "SmolLM2-135M-Instruct-Q8_0.gguf: broken or looping link" in notes
    assert "Half-Q4_K_M-00001-of-00002.gguf: split model without Half-Q4_K_M-00002-of-00002.gguf" in notes
    assert "notes.gguf: not a GGUF file" in notes


def test_facts_cache_is_keyed_by_size_and_mtime(tree, tmp_path, demo_paths):
    home, expected = tree
    cache_file = tmp_path / "facts.json"
    _scan(home, FactsCache(cache_file))
    saved = json.loads(cache_file.read_text())["items"]
    hf_real = expected["hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_1"]
    assert saved[hf_real]["peek"]["general.architecture"] == "llama"
    model = tmp_path / "m.gguf"
    model.write_bytes(demo_paths["smollm2"].read_bytes())
    cache = FactsCache(cache_file)
    assert cache.cached_facts(str(model)) is None
    facts = cache.facts(str(model))
    assert facts.quantization == "Q4_1"
    cache.save()
    again = FactsCache(cache_file)
    assert again.cached_facts(str(model)) == facts
    # A file changed in place (new mtime) is read again, not served from the cache.
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert again.cached_facts(str(model)) is None
    assert again.facts(str(model)) == facts


def test_a_damaged_cache_file_is_ignored(tree, tmp_path):
    home, expected = tree
    bad = tmp_path / "facts.json"
    bad.write_text("{nope")
    assert {e.ref for e in _scan(home, FactsCache(bad)).entries} == set(expected)
    assert json.loads(bad.read_text())["version"] == CACHE_VERSION


def test_names_resolve_and_unknown_ones_get_closest_matches(tree):
    home, expected = tree
    scan = _scan(home)
    assert resolve_model_ref("ollama:smollm2:135m", 0, scan) == Path(expected["ollama:smollm2:135m"])
    assert resolve_model_ref("ollama:smollm2", 0, scan) == Path(expected["ollama:smollm2:latest"])
    assert resolve_model_ref("lmstudio-community/gemma-3-270m-it-GGUF", 0, scan) == Path(
        expected["lmstudio:lmstudio-community/gemma-3-270m-it-GGUF:Q4_K_M"])
    assert resolve_model_ref("HF:bartowski/SmolLM2-135M-Instruct-GGUF:q4_1", 0, scan) == Path(
        expected["hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_1"])
    with pytest.raises(ModelRefError, match=r"No file or library model named 'ollama:smolm2:135m'; closest: "
                                            r"ollama:smollm2:135m"):
        resolve_model_ref("ollama:smolm2:135m", 0, scan)
    with pytest.raises(ModelRefError, match=r"^'unsloth/tiny-gguf' matches 2 models \(hf:unsloth/Tiny-GGUF:Q8_0, "
                                            r"hf:unsloth/Tiny-GGUF:F16\); use one of these names\.$"):
        resolve_model_ref("unsloth/tiny-gguf", 0, scan)
    # A path is a path, found or not; the file check reports a missing one.
    assert resolve_model_ref("./nowhere.gguf", 0, scan) == Path("./nowhere.gguf")


def test_models_cli_lists_the_library(tree):
    home, expected = tree
    out = library_cli(home, "models", "--json")
    assert out.returncode == 0, out.stderr
    listed = {e["ref"]: e for e in json.loads(out.stdout)}
    # The user's own folder is a setting, so the CLI sees every other source.
    assert set(listed) == set(expected) - {"folder:mine"}
    assert listed["ollama:smollm2:135m"]["quantization"] == "Q4_1"
    table = library_cli(home, "models")
    assert "ollama:smollm2:135m" in table.stdout and "Q4_1" in table.stdout


@pytest.mark.slow
def test_a_library_model_compares_by_name(tree):
    home, _ = tree
    out = library_cli(home, "compare", "ollama:smollm2:135m", "hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_1",
               "-p", "Say hi.", "-n", "4")
    assert out.returncode == 0, out.stderr
    assert "[A]" in out.stdout and "[B]" in out.stdout and "t/s" in out.stdout


def test_unknown_name_on_the_command_line_is_one_sentence(tree):
    from tests.fake_servers import free_port

    home, _ = tree
    port = free_port()  # no Ollama server there either (tests/integration/test_ollama_ref.py has one)
    out = library_cli(home, "compare", "ollama:smolm2:135m", "smollm2", "-p", "hi",
                      env={"OLLAMA_HOST": f"127.0.0.1:{port}"})
    assert out.returncode == 3
    assert out.stderr.strip().splitlines() == [
        "error: No Ollama model 'smolm2:135m' on disk (closest: ollama:smollm2:135m, ollama:smollm2:latest), and "
        f"no Ollama server answers at http://127.0.0.1:{port} ($OLLAMA_HOST); start Ollama or use "
        "`gemmacompare models` for the names on disk."]
    out = library_cli(home, "compare", "hf:smolm2:135m", "smollm2", "-p", "hi")
    assert out.returncode == 3
    assert out.stderr.strip().splitlines() == [
        "error: No file or library model named 'hf:smolm2:135m'; closest: ollama:smollm2:135m, "
        "ollama:smollm2:latest, hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_1 (`gemmacompare models` lists them all)."]
