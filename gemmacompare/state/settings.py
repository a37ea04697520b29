"""The app's settings: a typed model saved as JSON under the config dir.

A settings file that cannot be read is set aside (renamed, never deleted) and
defaults are used, with a message for the user; it never stops the app.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gemmacompare.state import defaults
from gemmacompare.state.paths import app_dirs, write_private_text
from gemmacompare.state.safe_json import load_json_bounded
from gemmacompare.state.settings_table import (
    RunSettings,
    SettingError,
    from_flat,
    to_flat,
    window_defaults,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_RECENT = 10


# A pane's settings are a model's run settings, declared in the settings table; the
# file keeps them flat, by the table's file names.
PaneSettings = RunSettings


def pane_settings(**flat: Any) -> RunSettings:
    """The window's settings for a pane: its defaults, with `flat` (file names) changed."""
    return from_flat(flat)


@dataclass(frozen=True)
class AppSettings:
    schema_version: int = SCHEMA_VERSION
    models: tuple[str, ...] = ("", "")  # last model path per pane (two to four); "" = demo default
    panes: tuple[PaneSettings, ...] = field(default_factory=lambda: (window_defaults(), window_defaults()))
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


def _pane_from(d: object) -> PaneSettings:
    try:
        return from_flat(d)
    except SettingError as exc:
        raise ValueError(str(exc)) from None


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
    d = asdict(settings)
    d["panes"] = [to_flat(p) for p in settings.panes]
    write_private_text(path, json.dumps(d, indent=1))
