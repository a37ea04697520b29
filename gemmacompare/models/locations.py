"""Where other tools keep GGUF models, each with its environment override.

Sources and their layouts (checked against each tool's own code and docs; see
shared notes "model-sources"):
- Hugging Face cache: HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub >
  $XDG_CACHE_HOME/huggingface/hub > ~/.cache/huggingface/hub (every OS).
- LM Studio: the folder named in ~/.lmstudio-home-pointer, else ~/.cache/lm-studio
  (older releases), else ~/.lmstudio; its models in settings.json "downloadsFolder"
  or <home>/models, laid out PUBLISHER/MODEL/*.gguf.
- Ollama: OLLAMA_MODELS, ~/.ollama/models, and the Linux service's home.
- llama.cpp: LLAMA_CACHE; legacy builds' flat cache (~/.cache/llama.cpp on Linux).
- GPT4All: its app-data folder and the Python binding's ~/.cache/gpt4all.
- Jan: its data folder's llamacpp/models (and the old ~/jan/models).
- Folders the user adds.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gemmacompare.state.safe_json import BadJSONError, load_json_bounded

log = logging.getLogger(__name__)

HF, LMSTUDIO, OLLAMA, LLAMACPP = "hf", "lmstudio", "ollama", "llamacpp"
GPT4ALL, JAN, FOLDER = "gpt4all", "jan", "folder"

SOURCE_LABELS = {
    HF: "Hugging Face cache", LMSTUDIO: "LM Studio", OLLAMA: "Ollama", LLAMACPP: "llama.cpp cache",
    GPT4ALL: "GPT4All", JAN: "Jan", FOLDER: "Your folders",
}
SOURCE_ORDER = (HF, LMSTUDIO, OLLAMA, LLAMACPP, GPT4ALL, JAN, FOLDER)

# The install script's service runs as user `ollama` with this home (scripts/install.sh).
OLLAMA_SERVICE_MODELS = Path("/usr/share/ollama/.ollama/models")

HF_LAYOUT, OLLAMA_LAYOUT, PUBLISHER_LAYOUT, TREE_LAYOUT = "hf-cache", "ollama", "publisher/model", "tree"


@dataclass(frozen=True)
class Location:
    source: str
    root: Path
    layout: str
    why: str  # where the path came from, shown when nothing is found



def _env_path(env: Mapping[str, str], key: str) -> Path | None:
    value = env.get(key, "").strip()
    return Path(os.path.expandvars(os.path.expanduser(value))) if value else None


def hf_hub_cache(env: Mapping[str, str], home: Path) -> tuple[Path, str]:
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if p := _env_path(env, key):
            return p, key
    if p := _env_path(env, "HF_HOME"):
        return p / "hub", "HF_HOME"
    if p := _env_path(env, "XDG_CACHE_HOME"):
        return p / "huggingface" / "hub", "XDG_CACHE_HOME"
    return home / ".cache" / "huggingface" / "hub", "default"


def _lmstudio_homes(home: Path) -> list[Path]:
    pointer = home / ".lmstudio-home-pointer"
    homes: list[Path] = []
    try:
        text = pointer.read_text(encoding="utf-8").strip()
        if text:
            homes.append(Path(text).expanduser())
    except OSError:
        pass
    homes += [home / ".lmstudio", home / ".cache" / "lm-studio"]
    return homes


def _lmstudio_models(lm_home: Path) -> list[tuple[Path, str]]:
    found = [(lm_home / "models", "default")]
    try:
        # LM Studio's file, read within limits: a damaged or hostile one costs its own setting only.
        doc = load_json_bounded(lm_home / "settings.json", 1 << 20, what="LM Studio's settings.json")
        custom = doc.get("downloadsFolder") if isinstance(doc, dict) else None
    except OSError:
        custom = None
    except BadJSONError as exc:
        log.info("%s: %s", lm_home, exc.message)
        custom = None
    if isinstance(custom, str) and custom.strip():
        found.insert(0, (Path(custom).expanduser(), "LM Studio settings"))
    return found


def _app_data(env: Mapping[str, str], home: Path) -> Path:
    if sys.platform == "win32":
        return _env_path(env, "LOCALAPPDATA") or home / "AppData" / "Local"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support"
    return _env_path(env, "XDG_DATA_HOME") or home / ".local" / "share"


def _jan_data(env: Mapping[str, str], home: Path) -> Path:
    if sys.platform == "win32":
        return (_env_path(env, "APPDATA") or home / "AppData" / "Roaming") / "Jan" / "data"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Jan" / "data"
    return (_env_path(env, "XDG_CONFIG_HOME") or home / ".config") / "Jan" / "data"


def _llamacpp_legacy(env: Mapping[str, str], home: Path) -> Path:
    if sys.platform == "win32":
        return (_env_path(env, "LOCALAPPDATA") or home / "AppData" / "Local") / "llama.cpp"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "llama.cpp"
    return (_env_path(env, "XDG_CACHE_HOME") or home / ".cache") / "llama.cpp"


def default_locations(env: Mapping[str, str] | None = None, home: Path | None = None,
                      folders: Sequence[str] = (), ollama_service: Path = OLLAMA_SERVICE_MODELS) -> list[Location]:
    """Every place to look, most specific first; duplicates (same folder) dropped."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    locs: list[Location] = []
    hf_root, hf_why = hf_hub_cache(env, home)
    locs.append(Location(HF, hf_root, HF_LAYOUT, hf_why))
    for lm_home in _lmstudio_homes(home):
        for root, why in _lmstudio_models(lm_home):
            locs.append(Location(LMSTUDIO, root, PUBLISHER_LAYOUT, why))
    if p := _env_path(env, "OLLAMA_MODELS"):
        locs.append(Location(OLLAMA, p, OLLAMA_LAYOUT, "OLLAMA_MODELS"))
    locs.append(Location(OLLAMA, home / ".ollama" / "models", OLLAMA_LAYOUT, "default"))
    locs.append(Location(OLLAMA, ollama_service, OLLAMA_LAYOUT, "Linux service"))
    # LLAMA_CACHE is a hub-layout root in current builds, a flat folder in older ones;
    # the tree scanner handles both.
    if p := _env_path(env, "LLAMA_CACHE"):
        locs.append(Location(LLAMACPP, p, TREE_LAYOUT, "LLAMA_CACHE"))
    locs.append(Location(LLAMACPP, _llamacpp_legacy(env, home), TREE_LAYOUT, "default"))
    locs.append(Location(GPT4ALL, _app_data(env, home) / "nomic.ai" / "GPT4All", TREE_LAYOUT, "default"))
    locs.append(Location(GPT4ALL, home / ".cache" / "gpt4all", TREE_LAYOUT, "Python binding"))
    locs.append(Location(JAN, _jan_data(env, home) / "llamacpp" / "models", TREE_LAYOUT, "default"))
    locs.append(Location(JAN, home / "jan" / "models", TREE_LAYOUT, "older releases"))
    for folder in folders:
        locs.append(Location(FOLDER, Path(folder).expanduser(), TREE_LAYOUT, "added in settings"))
    seen: set[str] = set()
    unique = []
    for loc in locs:
        key = os.path.normcase(os.path.abspath(loc.root))
        if key not in seen:
            seen.add(key)
            unique.append(loc)
    return unique
