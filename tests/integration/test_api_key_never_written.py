"""What the app writes about the user is private (folders 0700, files 0600), and
an API key never reaches a file the app writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_servers import MisbehavingServer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


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
