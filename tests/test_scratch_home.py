"""Scripts and benchmarks run in a scratch home that is gone when they exit,
while the demo-model cache stays the user's (built once, not once per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, os, sys
from gemmacompare.state.paths import app_dirs, use_scratch_home
home = use_scratch_home("gemmacompare-test-")
again = use_scratch_home("gemmacompare-test-")  # a second call (an imported script) keeps the first
(home / "settings.json").write_text("{}")
print(json.dumps({"home": str(home), "again": str(again), "cache": str(app_dirs().cache),
                  "config": str(app_dirs().config)}))
"""


def run_script(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_scratch_home_is_removed_at_exit_and_the_cache_stays_the_users(tmp_path):
    user = tmp_path / "user"
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMMACOMPARE_HOME", "GEMMACOMPARE_CACHE_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(user), TMPDIR=str(tmp_path))
    got = run_script(env)
    home = Path(got["home"])
    assert home.parent == tmp_path and home.name.startswith("gemmacompare-test-")
    assert got["again"] == got["home"]
    assert Path(got["config"]).is_relative_to(home)  # settings and chats: the scratch home
    assert Path(got["cache"]).is_relative_to(user)  # the assembled demo model: the user's cache
    assert not home.exists()


def test_an_inherited_home_is_kept(tmp_path):
    home = tmp_path / "given"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GEMMACOMPARE_CACHE_DIR"}
    env.update(GEMMACOMPARE_HOME=str(home), HOME=str(tmp_path / "user"))
    got = run_script(env)
    assert got["home"] == str(home)
    assert Path(got["cache"]).is_relative_to(home)  # nothing redirected
    assert (home / "settings.json").is_file()  # and nothing removed
