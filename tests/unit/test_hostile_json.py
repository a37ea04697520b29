"""JSON from strangers (issue 24, item 3): bounded size and depth, one sentence, never a RecursionError."""

from __future__ import annotations

import json
import time

import pytest

from gemmacompare.models.facts_cache import CACHE_VERSION, FactsCache
from gemmacompare.models.library import scan_library
from gemmacompare.models.locations import default_locations
from gemmacompare.state.safe_json import BadJSONError, load_json_bounded
from gemmacompare.state.settings import load_settings
from tests.make_files import write_tiny_gguf

BOMB = b"[" * 200_000 + b"]" * 200_000  # past the C parser's recursion limit


DEEP = b'{"a":' * 100 + b"1" + b"}" * 100  # parses, but deeper than anything we read


def _bad(source, **kw) -> str:
    t0 = time.monotonic()
    with pytest.raises(BadJSONError) as info:
        load_json_bounded(source, kw.pop("max_bytes", 1 << 20), what="the test file", **kw)
    assert time.monotonic() - t0 < 2.0
    msg = info.value.message
    assert "\n" not in msg and msg.startswith("the test file ") and msg.endswith(".")
    return msg


def test_good_json_reads():
    assert load_json_bounded(b'{"layers": [1, {"b": null}]}', 100, what="x") == {"layers": [1, {"b": None}]}


def test_bombs_and_junk_are_one_sentence(tmp_path):
    assert _bad(BOMB, max_bytes=1 << 20) == "the test file is nested more than 64 levels deep, so it was not read."
    assert _bad(DEEP) == "the test file is nested more than 64 levels deep, so it was not read."
    assert _bad(b"{" * 10 + b"x") == "the test file is not valid JSON (line 1, column 2), so it was not read."
    assert _bad(b"\xff\xfe\xfd") == "the test file is not UTF-8 text, so it was not read."
    assert _bad(b"1" * 5000) == "the test file is not valid JSON, so it was not read."  # Python's digit limit
    assert _bad(b"[]" + b" " * 2000, max_bytes=1000) == "the test file is larger than 1000 bytes, so it was not read."
    assert _bad("/dev/zero", max_bytes=1 << 20) == "the test file is larger than 1 MiB, so it was not read."
    with pytest.raises(FileNotFoundError):
        load_json_bounded(tmp_path / "none.json", 10, what="x")


def test_an_lmstudio_settings_bomb_keeps_the_default_folder(tmp_path):
    home = tmp_path / "home"
    (home / ".lmstudio").mkdir(parents=True)
    (home / ".lmstudio" / "settings.json").write_bytes(BOMB)
    model_dir = home / ".lmstudio" / "models" / "pub" / "tiny"
    model_dir.mkdir(parents=True)
    write_tiny_gguf(model_dir / "t.gguf")
    locs = default_locations(env={}, home=home, ollama_service=home / "no-service")
    assert home / ".lmstudio" / "models" in [loc.root for loc in locs]
    assert [e.ref for e in scan_library(locs, FactsCache(tmp_path / "f.json")).entries] == ["lmstudio:pub/tiny"]


@pytest.mark.parametrize("content", [BOMB, DEEP, b'{"version": 1, "items": {"a": 3, "b": [1]}}', b"\0" * 100])
def test_a_damaged_facts_cache_starts_afresh(tmp_path, content):
    path = tmp_path / "facts.json"
    path.write_bytes(content)
    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    cache = FactsCache(path)
    assert cache.facts(str(model)).architecture == "llama"
    cache.save()
    assert json.loads(path.read_text())["version"] == CACHE_VERSION


def test_a_damaged_facts_cache_entry_is_read_again(tmp_path):
    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    st = model.stat()
    entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "facts": {"oops": 1}, "peek": [1]}
    (tmp_path / "facts.json").write_text(json.dumps({"version": 1, "items": {str(model): entry}}))
    cache = FactsCache(tmp_path / "facts.json")
    assert cache.cached_facts(str(model)) is None
    assert cache.facts(str(model)).architecture == "llama"
    assert cache.peek(str(model), st)["general.architecture"] == "llama"


def test_a_settings_bomb_means_defaults_and_a_sentence(tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(BOMB)
    loaded = load_settings(path)
    assert loaded.message and "\n" not in loaded.message
