"""Shared fixtures: a private app home per test, and the real demo models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    # One assembled Gemma file for the whole run; every test's home shares it.
    cache = tmp_path_factory.mktemp("model-cache")
    os.environ["GEMMACOMPARE_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch, model_cache) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("GEMMACOMPARE_HOME", str(home))
    # The model library looks in other tools' folders under the user's home and
    # their environment overrides: point it at an empty home, never the real one.
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    for key in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE",
                "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GEMMACOMPARE_CACHE_DIR", str(model_cache))
    return home


@pytest.fixture(scope="session")
def demo_paths(model_cache) -> dict[str, Path]:
    from gemmacompare.models.demo import gemma3_path, smollm2_path

    smol, gemma = smollm2_path(), gemma3_path()
    if smol is None or gemma is None:
        pytest.fail("demo models are not installed: run scripts/setup.sh")
    return {"smollm2": smol, "gemma3": gemma}


@pytest.fixture
def python_exe() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def llama_cpp_server(demo_paths, tmp_path_factory):
    """The real `python -m llama_cpp.server` serving SmolLM2 on 127.0.0.1 (a free port).

    Yields (base URL, log path); the log holds llama.cpp's own perf lines per request.
    """
    from tests.fake_servers import start_llama_cpp_server, stop_process

    log = tmp_path_factory.mktemp("llama-cpp-server") / "server.log"
    proc, base = start_llama_cpp_server(demo_paths["smollm2"], log)
    try:
        yield base, log
    finally:
        stop_process(proc)


@pytest.fixture
def fresh_llama_cpp_server(demo_paths, tmp_path):
    """A llama_cpp.server of the test's own, for comparing greedy answers with a
    local model: the shared one reuses the KV cache of an earlier request's
    common prefix (every chat shares the template's opening), and a prefill split
    differently gives slightly different logits, so after other tests' requests
    a greedy answer can part from the local one."""
    from tests.fake_servers import start_llama_cpp_server, stop_process

    log = tmp_path / "server.log"
    proc, base = start_llama_cpp_server(demo_paths["smollm2"], log)
    try:
        yield base, log
    finally:
        stop_process(proc)


@pytest.fixture
def misbehaving_server():
    from tests.fake_servers import MisbehavingServer

    with MisbehavingServer() as srv:
        yield srv
