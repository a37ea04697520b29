"""`ollama:NAME:TAG` means "this model from Ollama": the GGUF on disk when the library finds
it, else the Ollama server at $OLLAMA_HOST when that serves it, else one sentence saying both
were checked. A stand-in for Ollama's API at the network edge; a temp home with or without
Ollama's manifest and blob."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemmacompare.engine.model_refs import resolve_models
from gemmacompare.models.library import ModelRefError
from tests.fake_servers import OllamaLikeServer, free_port
from tests.library_tree import ollama_model, sha256_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ollama_on_disk(demo_paths) -> Path:
    """SmolLM2 pulled by Ollama as smollm2:135m into the test user's ~/.ollama; its blob's path."""
    models = Path(os.environ["HOME"]) / ".ollama" / "models"
    ollama_model(models, "smollm2", "135m", demo_paths["smollm2"])
    return models / "blobs" / ("sha256-" + sha256_of(demo_paths["smollm2"]))


def _cli(*args: str, ollama_host: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OLLAMA_HOST": ollama_host}
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_on_disk_the_name_is_the_file_even_when_the_server_serves_it(ollama_on_disk, monkeypatch):
    with OllamaLikeServer(["smollm2:135m"]) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.host)
        assert resolve_models(["ollama:smollm2:135m"]) == [ollama_on_disk]
        assert srv.requests == []  # the disk answered; the server was not asked
        # The explicit form uses the server even so.
        assert resolve_models(["ollama-server:smollm2:135m"]) == ["ollama-server:smollm2:135m"]


def test_not_on_disk_the_name_is_the_servers_model(monkeypatch):
    with OllamaLikeServer(["qwen3:0.6b", "smollm2:latest"]) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.host)
        # An untagged name means :latest, as in Ollama.
        assert resolve_models(["ollama:qwen3:0.6b", "ollama:smollm2"]) == [
            "ollama-server:qwen3:0.6b", "ollama-server:smollm2:latest"]
        assert [(m, p) for m, p, _ in srv.requests] == [("GET", "/v1/models")] * 2


def test_nowhere_is_one_sentence_that_says_both_were_checked(ollama_on_disk, monkeypatch):
    port = free_port()
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    with pytest.raises(ModelRefError) as exc:
        resolve_models(["ollama:smolm2:135m"])
    assert str(exc.value) == (
        "No Ollama model 'smolm2:135m' on disk (closest: ollama:smollm2:135m), and no Ollama server answers at "
        f"http://127.0.0.1:{port} ($OLLAMA_HOST); start Ollama or use `gemmacompare models` for the names on disk.")
    with OllamaLikeServer(["qwen3:0.6b"]) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.host)
        with pytest.raises(ModelRefError) as exc:
            resolve_models(["ollama:smolm2:135m"])
    assert str(exc.value) == (
        "No Ollama model 'smolm2:135m' on disk (closest: ollama:smollm2:135m), and the Ollama server at "
        f"http://{srv.host} does not serve it (it serves qwen3:0.6b); pull it there (ollama pull smolm2:135m) "
        "or pick one of those.")


def test_compare_cli_runs_a_local_model_beside_the_ollama_server_one():
    with OllamaLikeServer(["qwen3:0.6b"]) as srv:
        out = _cli("compare", "smollm2", "ollama:qwen3:0.6b", "-p", "Say hi.", "-n", "4", "--no-think",
                   ollama_host=srv.host)
        assert out.returncode == 0, out.stderr
        assert "# server: ollama-server:qwen3:0.6b" in out.stderr
        assert "Served by Ollama." in out.stdout
        posts = [(p, b) for m, p, b in srv.requests if m == "POST"]
    assert [p for p, _ in posts] == ["/v1/chat/completions"]
    body = posts[0][1]
    assert body["model"] == "qwen3:0.6b" and body["messages"][-1]["content"] == "Say hi."
    assert body["reasoning_effort"] == "none"  # Ollama's way to turn thinking off


def test_compare_cli_names_both_places_when_the_model_is_nowhere(ollama_on_disk):
    out = _cli("compare", "ollama:smolm2:135m", "smollm2", "-p", "hi", ollama_host=f"127.0.0.1:{free_port()}")
    assert out.returncode == 3
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: No Ollama model 'smolm2:135m' on disk (closest: ollama:smollm2:135m), "
                           "and no Ollama server answers at http://127.0.0.1:")


def test_models_cli_lists_the_ollama_servers_models():
    with OllamaLikeServer(["qwen3:0.6b", "gemma3:270m"]) as srv:
        out = _cli("models", "--server", "ollama", "--json", ollama_host=srv.host, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [(r["id"], r["ref"]) for r in json.loads(out.stdout)] == [
        ("qwen3:0.6b", "ollama-server:qwen3:0.6b"), ("gemma3:270m", "ollama-server:gemma3:270m")]


@pytest.mark.gui
def test_window_opens_the_ollama_servers_model_by_its_short_name(qtbot, monkeypatch):
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    with OllamaLikeServer(["qwen3:0.6b"]) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.host)
        w = MainWindow(load_settings(), ["smollm2", "ollama:qwen3:0.6b"])
        qtbot.addWidget(w)
        w.show()
        remote = w.panes[1]
        qtbot.waitUntil(lambda: remote.state in ("ready", "error"), timeout=60_000)
        assert remote.state == "ready", remote.state_label.text()
        assert remote.model_path == "ollama-server:qwen3:0.6b"
        assert remote.chooser.text().startswith(f"qwen3:0.6b @ {srv.host}")
        w.close()
