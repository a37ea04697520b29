"""Where the app keeps its files.

Everything lives under platformdirs locations; GEMMACOMPARE_HOME points them all
at one folder instead (tests, portable installs), so nothing touches the user's
real settings by accident.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "gemmacompare"


@dataclass(frozen=True)
class AppDirs:
    config: Path
    data: Path
    cache: Path
    log: Path

    def ensure(self) -> "AppDirs":
        for p in (self.config, self.data, self.cache, self.log):
            p.mkdir(parents=True, exist_ok=True)
        return self


def app_dirs() -> AppDirs:
    home = os.environ.get("GEMMACOMPARE_HOME")
    if home:
        root = Path(home)
        dirs = AppDirs(root / "config", root / "data", root / "cache", root / "log")
    else:
        dirs = AppDirs(
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        )
    # The cache only holds rebuildable files (the assembled demo model), so it
    # may be shared between otherwise separate homes, e.g. test cases.
    cache = os.environ.get("GEMMACOMPARE_CACHE_DIR")
    if cache:
        dirs = AppDirs(dirs.config, dirs.data, Path(cache), dirs.log)
    return dirs


def resources_dir() -> Path:
    """The top-level resources/ folder: in a checkout or editable install, inside a
    PyInstaller bundle, or installed from a wheel under <prefix>/share/gemmacompare/."""
    candidates: list[Path] = []
    env = os.environ.get("GEMMACOMPARE_RESOURCES")
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    if getattr(sys, "_MEIPASS", None):
        candidates.append(Path(sys._MEIPASS) / "resources")
    candidates.append(Path(sys.prefix) / "share" / "gemmacompare" / "resources")
    for c in candidates:
        if (c / "suites").is_dir():
            return c
    return candidates[0]
