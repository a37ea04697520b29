"""What the app writes about the user is private (folders 0700, files 0600), and
an API key never reaches a file the app writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gemmacompare.arena.store import ArenaStore
from gemmacompare.bench.store import BenchStore
from gemmacompare.state.chat_log import ChatLog
from gemmacompare.state.paths import app_dirs
from gemmacompare.state.secrets import FILE, find_api_key, keys_file, store_api_key
from gemmacompare.state.settings import AppSettings, save_settings, settings_path

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_0700_and_files_0600_even_with_a_loose_umask(app_home):
    old = os.umask(0o022)
    try:
        save_settings(AppSettings())
        log = ChatLog.new()
        log.append({"role": "user", "text": "my private prompt"})
        with BenchStore() as store:
            store_path = store.path
        arena = ArenaStore()
        assert arena.battles() == []
    finally:
        os.umask(old)
    dirs = app_dirs()
    for d in (dirs.config, dirs.data, log.path.parent, store_path.parent, arena.path.parent):
        assert mode(d) == 0o700, d
    for f in (settings_path(), log.path, store_path, arena.path):
        assert mode(f) == 0o600, f
    for extra in store_path.parent.glob(store_path.name + "-*"):  # SQLite's -wal / -shm follow the db
        assert mode(extra) & 0o077 == 0, extra


def test_existing_loose_folder_is_tightened(app_home):
    loose = app_dirs().config
    loose.mkdir(parents=True)
    loose.chmod(0o755)
    save_settings(AppSettings())
    assert mode(loose) == 0o700


def test_stored_key_goes_to_a_0600_file_without_a_keyring(app_home, monkeypatch):
    monkeypatch.delenv("GEMMACOMPARE_API_KEY", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    assert store_api_key("http://127.0.0.1:8080/v1", "sk-stored-1234") == FILE
    assert mode(keys_file()) == 0o600
    assert find_api_key("http://127.0.0.1:8080/v1#other-model") == "sk-stored-1234"
    assert find_api_key("http://127.0.0.1:9090/v1") is None
    assert "sk-stored" not in settings_path().read_text() if settings_path().exists() else True
