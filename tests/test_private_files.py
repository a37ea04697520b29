"""What the app writes about the user is private (folders 0700, files 0600), and
an API key never reaches a file the app writes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gemmacompare.arena.store import ArenaStore
from gemmacompare.bench.store import BenchStore
from gemmacompare.state.chat_log import ChatLog
from gemmacompare.state.paths import app_dirs
from gemmacompare.state.secrets import FILE, find_api_key, forget_api_key, keys_file, store_api_key
from gemmacompare.state.settings import AppSettings, save_settings, settings_path
from tests.fake_servers import MisbehavingServer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_0700_and_files_0600_even_with_a_loose_umask(app_home):
    old = os.umask(0o022)
    try:
        dirs = app_dirs().ensure()
        save_settings(AppSettings())
        log = ChatLog.new()
        log.append({"role": "user", "text": "my private prompt"})
        with BenchStore() as store:
            store_path = store.path
        arena = ArenaStore()
        assert arena.battles() == []
    finally:
        os.umask(old)
    for d in (dirs.config, dirs.data, dirs.cache, dirs.log, log.path.parent, store_path.parent, arena.path.parent):
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
    forget_api_key("http://127.0.0.1:8080/v1")
    assert find_api_key("http://127.0.0.1:8080/v1") is None


def test_api_key_from_the_environment_never_lands_in_a_file(app_home, tmp_path, demo_paths):
    key = "sk-test-0123456789-SECRETKEY"
    env = {**os.environ, "GEMMACOMPARE_API_KEY": key, "GEMMACOMPARE_HOME": str(app_home)}
    out = tmp_path / "out"
    out.mkdir()
    with MisbehavingServer(api_key=key) as srv:
        compare = subprocess.run(
            [sys.executable, "-m", "gemmacompare", "-v", "compare", srv.url("echo"), srv.url("401"),
             "-p", "hello remote world", "--json", str(out / "compare.json")],
            capture_output=True, text=True, timeout=120, env=env)
        bench = subprocess.run(
            [sys.executable, "-m", "gemmacompare", "-v", "bench", srv.url("echo"), "--limit", "2", "--warmup", "0",
             "-n", "8", "--out", str(out / "bench")],
            capture_output=True, text=True, timeout=120, env=env)
        # The key did travel, as a bearer header, to the server it is for.
        assert any(r["headers"].get("Authorization") == f"Bearer {key}" for r in srv.requests)
    assert json.loads((out / "compare.json").read_text())["models"][0]["answer"].startswith("hello remote")
    assert bench.returncode == 0, bench.stderr
    # An explicit check that the wrong-key error was reported, then a grep of everything written.
    assert "refused the API key" in compare.stderr
    written = [p for root in (app_home, out) for p in Path(root).rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in written) and any(p.suffix == ".md" for p in written)
    assert any("bench" in p.name for p in written if p.suffix in (".db", ".sqlite", ".sqlite3"))
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    assert key not in compare.stdout + compare.stderr + bench.stdout + bench.stderr
