"""Where the app keeps its files.

Everything lives under platformdirs locations; GEMMACOMPARE_HOME points them all
at one folder instead (tests, portable installs), so nothing touches the user's
real settings by accident.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
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


# What the app writes about the user (prompts, answers, settings, logs) is for
# the user alone: folders 0700, files 0600, whatever the umask says.
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; tighten it if it exists and is ours."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        try:
            p.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create an empty 0600 file if there is none, tighten one that is ours; the folder too."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Write a whole file atomically (temp file, then rename), as 0600."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, FILE_MODE)
    tmp.replace(path)


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and (st.st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except (OSError, AttributeError):  # another user's folder, or no getuid (Windows)
        pass


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


# Set with GEMMACOMPARE_HOME by use_scratch_home, so a child process can tell
# its parent's scratch home from a user's own (a portable install's).
_SCRATCH_HOME = "GEMMACOMPARE_SCRATCH_HOME"


def use_scratch_home(prefix: str) -> Path:
    """Point GEMMACOMPARE_HOME at a new folder, removed when this process exits.

    For scripts and benchmarks: they never touch, or show, the user's own
    settings and chats, even where GEMMACOMPARE_HOME names them. The cache
    stays the user's (it only holds the assembled demo model), so the 240 MB
    Gemma file is built once, not once per run; every run used to leave its
    own copy in the temp folder. A model worker re-importing the script keeps
    its parent's scratch home.
    """
    inherited = os.environ.get("GEMMACOMPARE_HOME")
    if inherited and os.environ.get(_SCRATCH_HOME) == inherited:
        return Path(inherited)
    os.environ.setdefault("GEMMACOMPARE_CACHE_DIR", str(app_dirs().cache))
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["GEMMACOMPARE_HOME"] = os.environ[_SCRATCH_HOME] = str(home)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def resources_dir() -> Path:
    """The top-level resources/ folder: in a checkout or editable install, inside a
    PyInstaller bundle, or installed from a wheel under <prefix>/share/gemmacompare/."""
    candidates: list[Path] = []
    env = os.environ.get("GEMMACOMPARE_RESOURCES")
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    bundle = getattr(sys, "_MEIPASS", None)  # set by a PyInstaller bundle
    if bundle:
        candidates.append(Path(bundle) / "resources")
    candidates.append(Path(sys.prefix) / "share" / "gemmacompare" / "resources")
    for c in candidates:
        if (c / "suites").is_dir():
            return c
    return candidates[0]


def set_aside(path: Path) -> Path:
    """Rename a damaged SQLite file (with its -wal and -shm) to NAME.damaged-TIME, never delete
    it; returns the new name. Raises OSError when it cannot be moved."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            src.rename(Path(str(aside) + suffix))
    return aside
