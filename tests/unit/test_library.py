"""The model library on a realistic home folder: exactly the whole chat models, named as their tools name them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gemmacompare.models.locations import default_locations, hf_hub_cache

ROOT = Path(__file__).resolve().parents[2]


def test_environment_overrides_and_lmstudio_custom_folder(tmp_path):
    home = tmp_path / "h"
    assert hf_hub_cache({"HF_HUB_CACHE": "/x/hub", "HF_HOME": "/y"}, home)[0] == Path("/x/hub")
    assert hf_hub_cache({"HF_HOME": "/y"}, home)[0] == Path("/y/hub")
    assert hf_hub_cache({}, home)[0] == home / ".cache" / "huggingface" / "hub"
    (home / ".lmstudio").mkdir(parents=True)
    (home / ".lmstudio" / "settings.json").write_text(json.dumps({"downloadsFolder": str(tmp_path / "lm")}))
    locs = default_locations(env={"OLLAMA_MODELS": str(tmp_path / "oll"), "LLAMA_CACHE": str(tmp_path / "lc")},
                             home=home)
    roots = {(loc.source, str(loc.root)) for loc in locs}
    assert ("lmstudio", str(tmp_path / "lm")) in roots and ("ollama", str(tmp_path / "oll")) in roots
    assert ("llamacpp", str(tmp_path / "lc")) in roots
    assert ("ollama", "/usr/share/ollama/.ollama/models") in roots


def library_cli(home: Path, *args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("HF_", "OLLAMA", "LLAMA_CACHE", "XDG_"))},
           **(env or {})}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_models_cli_on_an_empty_machine_says_where_it_looked(tmp_path):
    out = library_cli(tmp_path, "models")
    assert out.returncode == 0
    assert "No GGUF models found. Looked in: " in out.stderr and str(tmp_path / ".ollama" / "models") in out.stderr
