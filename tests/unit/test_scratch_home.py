"""Scripts and benchmarks run in a scratch home that is gone when they exit,
while the demo-model cache stays the user's (built once, not once per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, os, subprocess, sys
from gemmacompare.state.paths import app_dirs, use_scratch_home
home = use_scratch_home("gemmacompare-test-")
(home / "settings.json").write_text("{}")
# A child (a model worker re-importing the script) keeps its parent's scratch home.
child = subprocess.run([sys.executable, "-c", "from gemmacompare.state.paths import use_scratch_home; "
                        "print(use_scratch_home('gemmacompare-test-'))"], capture_output=True, text=True)
print(json.dumps({"home": str(home), "child": child.stdout.strip(), "cache": str(app_dirs().cache),
                  "config": str(app_dirs().config)}))
"""


def run_script(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def clean_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMMACOMPARE_HOME", "GEMMACOMPARE_CACHE_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(tmp_path / "user"), TMPDIR=str(tmp_path), **extra)
    return env


def test_scratch_home_is_removed_at_exit_and_the_cache_stays_the_users(tmp_path):
    got = run_script(clean_env(tmp_path))
    home = Path(got["home"])
    assert home.parent == tmp_path and home.name.startswith("gemmacompare-test-")
    assert got["child"] == got["home"]
    assert Path(got["config"]).is_relative_to(home)  # settings and chats: the scratch home
    assert Path(got["cache"]).is_relative_to(tmp_path / "user")  # the assembled demo model: the user's cache
    assert not home.exists()


def test_a_users_own_home_is_neither_used_nor_removed(tmp_path):
    own = tmp_path / "portable"
    own.mkdir()
    (own / "keep.txt").write_text("mine")
    got = run_script(clean_env(tmp_path, GEMMACOMPARE_HOME=str(own)))
    assert Path(got["home"]) != own and not Path(got["home"]).exists()
    assert Path(got["cache"]).is_relative_to(own)  # its model cache is still the one used
    assert (own / "keep.txt").read_text() == "mine" and not (own / "settings.json").exists()
