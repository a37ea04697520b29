"""`share` and `gallery --repo` with the real huggingface_hub client against the Hub stand-in on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemmacompare.engine.run_file import write_run_file
from tests.gallery_files import GPU_BOX, OLD_LAPTOP, model_part, run_doc, write
from tests.hub_server import FakeHub, HubFile, HubRepo

ROOT = Path(__file__).resolve().parents[2]
REPO = "meetup/gemma-runs"
TOKEN = "hf_testSECRETshare0123456789abcdef"


@pytest.fixture
def hub(tmp_path):
    server = FakeHub(datasets={REPO: HubRepo({})}, accepted_token=TOKEN).start()
    yield server
    server.stop()


def cli(tmp_path: Path, hub: FakeHub, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(tmp_path / "user"), "GEMMACOMPARE_HOME": str(tmp_path / "app"),
           "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1",
           "PYTHONPATH": str(ROOT)}
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def _written(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_share_opens_a_pull_request_and_gallery_repo_reads_it_back(hub, tmp_path):
    gpu = write(tmp_path / "gpu box.gcrun", run_doc(GPU_BOX, [model_part("SmolLM2", "aaaa", 10.0, backend="CUDA0")]))
    laptop = write(tmp_path / "laptop.gcrun", run_doc(OLD_LAPTOP, [model_part("SmolLM2", "aaaa", 40.0)]))
    out = cli(tmp_path, hub, "share", str(gpu), "--repo", REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"opened a pull request: {hub.url}/datasets/{REPO}/discussions/1"
    assert cli(tmp_path, hub, "share", str(laptop), "--repo", REPO).returncode == 0
    # Each pull request holds exactly its file, byte for byte, under runs/.
    assert [list(p.files.values()) for p in hub.pull_requests] == [[gpu.read_bytes()], [laptop.read_bytes()]]
    name = next(iter(hub.pull_requests[0].files))
    assert name.startswith("runs/gpu_box-") and name.endswith(".gcrun")
    # The token went in the Authorization header only: never in a body, never in a file written here.
    auth = [{k.lower(): v for k, v in h.items()}.get("authorization") for c, _, h in hub.requests if c == "POST"]
    assert auth and all(a == f"Bearer {TOKEN}" for a in auth)
    assert hub.bodies and not any(TOKEN.encode() in b for b in hub.bodies)
    assert not any(TOKEN.encode() in p.read_bytes() for p in _written(tmp_path))

    # Nothing is on main until the owner merges; then `gallery --repo` downloads and shows both.
    out = cli(tmp_path, hub, "gallery", "--repo", REPO, "--md")
    assert out.returncode == 1 and "no run file could be opened" in out.stderr
    hub.merge_pr(1, tmp_path / "hub-store")
    hub.merge_pr(2, tmp_path / "hub-store")
    # A stranger pushed a damaged file with a bidi override in its name: one line, the rest shown.
    bad = tmp_path / "hub-store" / "bad.gcrun"
    bad.write_text('{"format": "gemmacompare-run", "schema": 1, "kind": "comp')
    hub.datasets[REPO].files["runs/\u202ebad.gcrun"] = HubFile(bad)
    out = cli(tmp_path, hub, "gallery", "--repo", REPO, "--md", "--sort", "ms")
    assert out.returncode == 0, out.stderr
    assert "# 1/3 runs/gpu_box-" in out.stderr and "# 2 run files, 2 of 2 rows shown" in out.stderr
    assert "not opened: \\u202ebad.gcrun is not valid JSON" in out.stderr and "\u202e" not in out.stderr
    rows = out.stdout.strip().splitlines()[2:]
    assert len(rows) == 2 and "| 10.0 |" in rows[0] and "CUDA0" in rows[0] and "| 40.0 |" in rows[1]
    cached = list((tmp_path / "hf" / "hub").rglob("*.gcrun"))
    assert len(cached) == 3  # into the Hugging Face cache
    n_get = sum(1 for c, p, _ in hub.requests if c == "GET" and "/resolve/" in p)
    assert cli(tmp_path, hub, "gallery", "--repo", REPO).returncode == 0
    assert sum(1 for c, p, _ in hub.requests if c == "GET" and "/resolve/" in p) == n_get  # reused, not fetched

    # The Hub stopped (the connection refused): the files already in the cache, said so in one sentence.
    hub.stop()
    out = cli(tmp_path, hub, "gallery", "--repo", REPO, "--md", "--sort", "ms")
    assert out.returncode == 0, out.stderr
    note = [line for line in out.stderr.splitlines() if "cannot be reached" in line]
    assert note == [f"# The Hugging Face Hub ({hub.url}) cannot be reached or is not answering, so these are the 3 "
                    f"run files of {REPO} already in the cache from an earlier download (newer ones may be missing)."]
    rows = out.stdout.strip().splitlines()[2:]
    assert len(rows) == 2 and "| 10.0 |" in rows[0] and "| 40.0 |" in rows[1]
    assert "not opened: \\u202ebad.gcrun is not valid JSON" in out.stderr


def test_share_refusals_are_one_sentence(hub, tmp_path):
    good = write(tmp_path / "good.gcrun", run_doc(GPU_BOX, [model_part("SmolLM2", "aaaa", 10.0)]))
    # No token: the Hub refuses, and says what to do.
    out = cli(tmp_path, hub, "share", str(good), "--repo", REPO, token=None)
    assert out.returncode == 1 and "hf auth login" in out.stderr and out.stderr.count("\n") == 1
    # A damaged file is not sent anywhere.
    bad = tmp_path / "bad.gcrun"
    bad.write_text('{"format": "gemmacompare-run"')
    posts = len(hub.bodies)
    out = cli(tmp_path, hub, "share", str(bad), "--repo", REPO)
    assert out.returncode == 2 and "bad.gcrun" in out.stderr and len(hub.bodies) == posts
    # A file edited to hold the author's home folder is not sent either.
    doc = run_doc(GPU_BOX, [model_part("SmolLM2", "aaaa", 10.0)])
    doc["models"][0]["identity"]["file_name"] = str(tmp_path / "user" / "models" / "m.gguf")
    leaky = write(tmp_path / "leaky.gcrun", doc)
    out = cli(tmp_path, hub, "share", str(leaky), "--repo", REPO)
    assert out.returncode == 2 and "home folder" in out.stderr and len(hub.bodies) == posts
    # Gzipped, too: the JSON inside is what is checked, and the file read once is what would be sent.
    leaky_gz = write_run_file(tmp_path / "leaky.gcrun.gz", doc)
    out = cli(tmp_path, hub, "share", str(leaky_gz), "--repo", REPO)
    assert out.returncode == 2 and "home folder" in out.stderr and len(hub.bodies) == posts
    # No such repo; a name that is not USER/NAME.
    out = cli(tmp_path, hub, "share", str(good), "--repo", "meetup/missing")
    assert out.returncode == 1 and "no dataset repo meetup/missing" in out.stderr
    out = cli(tmp_path, hub, "share", str(good), "--repo", "not a repo")
    assert out.returncode == 1 and "USER/NAME" in out.stderr
    # The Hub out of reach: fast, one sentence.
    hub.stop()
    out = cli(tmp_path, hub, "gallery", "--repo", REPO)
    assert out.returncode == 1 and "cannot be reached" in out.stderr
