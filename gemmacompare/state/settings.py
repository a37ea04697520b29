"""The app's settings: a typed model saved as JSON under the config dir.

A settings file that cannot be read is set aside (renamed, never deleted) and
defaults are used, with a message for the user; it never stops the app.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from gemmacompare.state import defaults
from gemmacompare.state.paths import app_dirs, write_private_text
from gemmacompare.state.safe_json import load_json_bounded

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_RECENT = 10


# llama.cpp's choices, as its tools spell them. "auto" (llama.cpp's default)
# turns flash attention on where the backend supports it.
FLASH_ATTN_CHOICES = ("auto", "on", "off")
# KV cache element types llama-bench accepts; f16 is llama.cpp's default.
KV_CACHE_TYPES = ("f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl", "f32")


@dataclass(frozen=True)
class PaneSettings:
    temperature: float = defaults.TEMPERATURE
    max_tokens: int = defaults.MAX_TOKENS
    seed: int = defaults.SEED
    n_ctx: int = defaults.N_CTX
    n_threads: int = 0  # 0: decided by the mode (whole machine or a share)
    n_gpu_layers: int = -1  # all where a GPU backend is present; llama.cpp offloads none otherwise
    flash_attn: str = "auto"
    type_k: str = "f16"
    type_v: str = "f16"
    thinking: bool = True
    system_prompt: str = ""
    raw_mode: bool = False
    # A model on a server (the server dialog): seconds to connect, to the first byte, of silence mid-stream.
    server_connect_timeout_s: float = defaults.SERVER_CONNECT_TIMEOUT_S
    server_first_byte_timeout_s: float = defaults.SERVER_FIRST_BYTE_TIMEOUT_S
    server_idle_timeout_s: float = defaults.SERVER_IDLE_TIMEOUT_S


@dataclass(frozen=True)
class AppSettings:
    schema_version: int = SCHEMA_VERSION
    models: tuple[str, ...] = ("", "")  # last model path per pane (two to four); "" = demo default
    panes: tuple[PaneSettings, ...] = (PaneSettings(), PaneSettings())
    mode: str = "race"
    theme: str = "system"  # system | light | dark
    charts_visible: bool = True
    geometry: str = ""  # Qt's saveGeometry, base64
    recent_models: tuple[str, ...] = ()
    model_folders: tuple[str, ...] = ()  # scanned for GGUFs besides other tools' folders
    run_folder: str = ""  # where the last run file was saved or opened; "" = the user's documents

    def with_recent(self, path: str) -> "AppSettings":
        recent = (path, *(p for p in self.recent_models if p != path))[:MAX_RECENT]
        return replace(self, recent_models=recent)


def settings_path() -> Path:
    override = os.environ.get("GEMMACOMPARE_SETTINGS")
    return Path(override) if override else app_dirs().config / "settings.json"


# Valid ranges for numeric pane settings; a file outside them is not trusted.
_RANGES = {
    "temperature": (0.0, 5.0), "max_tokens": (1, 1 << 20), "seed": (0, 2**32 - 1), "n_ctx": (128, 1 << 22),
    "n_threads": (0, 1024), "n_gpu_layers": (-1, 10_000),
    "server_connect_timeout_s": (0.1, 3600.0), "server_first_byte_timeout_s": (0.1, 3600.0),
    "server_idle_timeout_s": (0.1, 3600.0),
}
_CHOICES = {"flash_attn": FLASH_ATTN_CHOICES, "type_k": KV_CACHE_TYPES, "type_v": KV_CACHE_TYPES}


def _pane_from(d: object) -> PaneSettings:
    if not isinstance(d, dict):
        raise ValueError("a pane's settings are not an object")
    known = {f.name: f.type for f in fields(PaneSettings)}
    base = PaneSettings()
    kwargs: dict[str, Any] = {}
    for k, v in d.items():
        if k in known:
            want = type(getattr(base, k))
            if want is float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if not isinstance(v, want) or (want is int and isinstance(v, bool)):
                raise ValueError(f"pane setting {k!r} should be {want.__name__}")
            if k in _CHOICES and v not in _CHOICES[k]:
                raise ValueError(f"pane setting {k!r}={v!r} is not one of {', '.join(_CHOICES[k])}")
            lo, hi = _RANGES.get(k, (None, None))
            if lo is not None and not lo <= v <= hi:
                raise ValueError(f"pane setting {k!r}={v} is outside {lo}..{hi}")
            kwargs[k] = v
    return PaneSettings(**kwargs)


def settings_from_dict(d: object) -> AppSettings:
    if not isinstance(d, dict):
        raise ValueError("top level is not an object")
    version = d.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ValueError(f"unknown schema_version {version}")
    panes = d.get("panes", [{}, {}])
    models = d.get("models", ["", ""])
    if not isinstance(panes, list) or not isinstance(models, list) or len(panes) != len(models) \
            or not 2 <= len(panes) <= defaults.MAX_MODELS or not all(isinstance(m, str) for m in models):
        raise ValueError(f"expected two to {defaults.MAX_MODELS} panes, each with a model")
    recent = d.get("recent_models", [])
    if not isinstance(recent, list):
        raise ValueError("recent_models is not a list")
    folders = d.get("model_folders", [])
    if not isinstance(folders, list) or not all(isinstance(x, str) for x in folders):
        raise ValueError("model_folders is not a list of paths")
    mode = d.get("mode", "race")
    if mode not in ("race", "fair"):
        raise ValueError(f"unknown mode {mode!r}")
    theme = d.get("theme", "system")
    if theme not in ("system", "light", "dark"):
        raise ValueError(f"unknown theme {theme!r}")
    return AppSettings(
        schema_version=SCHEMA_VERSION,
        models=tuple(models),
        panes=tuple(_pane_from(x) for x in panes),
        mode=mode,
        theme=theme,
        charts_visible=bool(d.get("charts_visible", True)),
        geometry=str(d.get("geometry", "")),
        recent_models=tuple(str(x) for x in recent)[:MAX_RECENT],
        model_folders=tuple(folders),
        run_folder=str(d.get("run_folder", "")),
    )


@dataclass
class LoadedSettings:
    settings: AppSettings
    message: str | None = None  # set when the file was unusable and set aside
    backup: Path | None = None


MAX_SETTINGS_BYTES = 4 << 20  # a few KB in practice; a bigger file is damaged


def load_settings(path: Path | None = None) -> LoadedSettings:
    path = path or settings_path()
    if not path.exists():
        return LoadedSettings(AppSettings())
    try:
        return LoadedSettings(settings_from_dict(load_json_bounded(path, MAX_SETTINGS_BYTES, what=path.name)))
    except Exception as exc:  # noqa: BLE001 - any unusable file means defaults, never a crash
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        backup: Path | None = target
        try:
            path.replace(target)
        except OSError:
            backup = None
        where = f" (kept as {backup.name})" if backup else ""
        msg = f"Settings file was unreadable ({type(exc).__name__}){where}; using defaults."
        log.warning("%s: %s", msg, exc)
        return LoadedSettings(AppSettings(), msg, backup)


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    path = path or settings_path()
    # Written then renamed: a crash mid-write never leaves a half file behind.
    write_private_text(path, json.dumps(asdict(settings), indent=1))
