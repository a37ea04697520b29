"""Hub downloads with the real huggingface_hub client against a Hub-compatible server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gemmacompare.models import hub
from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.models.hub import ChoiceNeeded, DownloadCancelled, HubError, download, list_models, pick_model
from gemmacompare.models.library import scan_library
from gemmacompare.models.locations import default_locations
from tests.hub_server import FakeHub, HubFile, HubRepo
from tests.library_tree import write_gguf

ROOT = Path(__file__).resolve().parents[2]


SMOL_REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"


TOKEN = "hf_testSECRETtoken0123456789abcdef"


@pytest.fixture(scope="module")
def hub_files(tmp_path_factory, demo_paths):
    d = tmp_path_factory.mktemp("hubfiles")
    smol = HubFile(demo_paths["smollm2"])
    tiny = HubFile(write_gguf(d / "tiny.gguf"))
    readme = d / "README.md"
    readme.write_text("# a model card\n")
    return {"smol": smol, "tiny": tiny, "readme": HubFile(readme),
            "s1": HubFile(write_gguf(d / "s1.gguf", split=(0, 2))),
            "s2": HubFile(write_gguf(d / "s2.gguf", split=(1, 2))),
            "proj": HubFile(write_gguf(d / "proj.gguf", "clip", gtype="mmproj", template=None))}


@pytest.fixture
def fake_hub(hub_files, monkeypatch, tmp_path):
    f = hub_files
    server = FakeHub(repos={
        SMOL_REPO: HubRepo({"SmolLM2-135M-Instruct-Q4_K_M.gguf": f["smol"],
                            "SmolLM2-135M-Instruct-Q8_0.gguf": f["tiny"],
                            "mmproj-SmolLM2-f16.gguf": f["proj"], "README.md": f["readme"]}),
        "org/Choices-GGUF": HubRepo({"m-Q8_0.gguf": f["tiny"], "m-Q5_K_M.gguf": f["tiny"]}),
        "google/gemma-gated-GGUF": HubRepo({"g-Q4_K_M.gguf": f["tiny"]}, gated=True),
        "org/NoGGUF": HubRepo({"README.md": f["readme"], "model.safetensors": f["readme"]}),
        "org/Split-GGUF": HubRepo({"Q8_0/Split-Q8_0-00001-of-00002.gguf": f["s1"],
                                   "Q8_0/Split-Q8_0-00002-of-00002.gguf": f["s2"], "README.md": f["readme"]}),
    }).start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield server
    server.stop()


def _hf_cache(tmp_path: Path) -> Path:
    return tmp_path / "hf" / "hub"


def _library(tmp_path: Path):
    return scan_library(default_locations(env={"HF_HOME": str(tmp_path / "hf")}, home=tmp_path / "user"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_download_with_progress_lands_in_the_shared_cache(fake_hub, hub_files, tmp_path):
    models = list_models(SMOL_REPO)
    assert [m.quant for m in models] == ["Q4_K_M", "Q8_0"]  # the projector is not a model
    model = pick_model(models, None)  # no quant named: Q4_K_M, as llama.cpp's -hf does
    events = []
    path = download(model, events.append)
    assert path.is_symlink() and path.parents[2] == _hf_cache(tmp_path) / (
        "models--" + SMOL_REPO.replace("/", "--"))
    assert _sha(path) == hub_files["smol"].sha256
    assert events and events[-1].done == events[-1].total == hub_files["smol"].size
    assert [e.done for e in events] == sorted(e.done for e in events)
    size = human_bytes(hub_files["smol"].size)
    assert events[-1].text().startswith(f"{size} of {size} at ")
    entries = {e.ref: e for e in _library(tmp_path).entries}
    assert entries[f"hf:{SMOL_REPO}:Q4_1"].path == str(path)  # the file's own header says Q4_1


def test_cancel_leaves_nothing_half_downloaded(fake_hub, tmp_path):
    fake_hub.throttle = 0.05
    cancel = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p.done)
        cancel.set()

    model = pick_model(list_models(SMOL_REPO), "Q4_K_M")
    with pytest.raises(DownloadCancelled):
        download(model, on_progress, cancel)
    assert seen and seen[-1] < model.size
    blobs = _hf_cache(tmp_path) / ("models--" + SMOL_REPO.replace("/", "--")) / "blobs"
    assert not [p for p in blobs.iterdir() if p.name.endswith(".incomplete")]
    assert _library(tmp_path).entries == []


def test_a_dropped_connection_resumes_with_a_range_request(fake_hub, hub_files):
    fake_hub.drop_after = 25 << 20
    model = pick_model(list_models(SMOL_REPO), "Q4_K_M")
    path = download(model)
    assert _sha(path) == hub_files["smol"].sha256
    gets = [h for (cmd, url, h) in fake_hub.requests if cmd == "GET" and "/resolve/" in url]
    ranges = [h.get("Range") or h.get("range") for h in gets]
    assert ranges[0] is None and ranges[1] == f"bytes={20 << 20}-"  # whole 10 MiB chunks kept


def test_gated_repo_says_what_to_do_and_works_with_a_token(fake_hub, monkeypatch):
    with pytest.raises(HubError) as err:
        list_models("google/gemma-gated-GGUF")
    assert err.value.message == (
        f"google/gemma-gated-GGUF is gated or private: accept its licence on {fake_hub.url}/google/gemma-gated-GGUF "
        "while logged in, then run `hf auth login` or set HF_TOKEN, and try again.")
    fake_hub.accepted_token = TOKEN
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    model = pick_model(list_models("google/gemma-gated-GGUF"), None)
    assert download(model).is_file()


def test_missing_repo_and_repo_without_gguf(fake_hub):
    with pytest.raises(HubError, match=r"^There is no repository org/Nothing on the Hub \(or it is private"):
        list_models("org/Nothing")
    with pytest.raises(HubError, match=r"^org/NoGGUF has no GGUF model files; pick a repository that publishes GGUF"):
        list_models("org/NoGGUF")


def test_no_default_quant_lists_the_choices(fake_hub):
    with pytest.raises(ChoiceNeeded, match=r"org/Choices-GGUF has several quantisations: Q5_K_M \(.*\), Q8_0 \(.*\); "
                                           r"pick one with org/Choices-GGUF:QUANT\."):
        pick_model(list_models("org/Choices-GGUF"), None)
    with pytest.raises(HubError, match=r"org/Choices-GGUF has no Q2_K file; it has Q5_K_M, Q8_0\."):
        pick_model(list_models("org/Choices-GGUF"), "Q2_K")


def test_split_model_downloads_every_shard_and_is_one_library_entry(fake_hub, hub_files, tmp_path):
    [model] = list_models("org/Split-GGUF")
    assert model.files == ("Q8_0/Split-Q8_0-00001-of-00002.gguf", "Q8_0/Split-Q8_0-00002-of-00002.gguf")
    events = []
    first = download(model, events.append)
    assert first.name == "Split-Q8_0-00001-of-00002.gguf"
    assert {p.name for p in first.parent.iterdir()} == {first.name, "Split-Q8_0-00002-of-00002.gguf"}
    assert {e.file_index for e in events} == {1, 2} and events[-1].done == model.size
    [entry] = _library(tmp_path).entries
    assert (entry.ref, entry.shards, entry.size) == ("hf:org/Split-GGUF:Q8_0", 2, model.size)


def test_disk_space_check_refuses_before_downloading(fake_hub, monkeypatch):
    monkeypatch.setattr(hub, "free_bytes", lambda folder: 50 << 20)
    model = pick_model(list_models(SMOL_REPO), "Q4_K_M")
    with pytest.raises(HubError, match=r"^Not enough free disk space for SmolLM2-135M-Instruct-Q4_K_M.gguf: it needs "
                                       r"9\d\.\d MiB and .* has 50\.0 MiB free"):
        download(model)
    assert not [u for (_c, u, _h) in fake_hub.requests if "/resolve/" in u]


def test_unreachable_hub_is_one_sentence(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(HubError) as err:
        list_models(SMOL_REPO)
    assert err.value.message == (f"The Hugging Face Hub (http://127.0.0.1:{port}) cannot be reached: it refused the "
                                 "connection. Check the network (or HF_ENDPOINT) and try again; models already on "
                                 "disk are listed in the pickers.")


def _cli(*args: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


@pytest.mark.slow
def test_pull_then_compare_the_pulled_model(fake_hub, tmp_path, app_home):
    fake_hub.accepted_token = TOKEN
    env = {**os.environ, "HF_TOKEN": TOKEN}
    out = _cli("-v", "pull", SMOL_REPO, env=env)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.is_file() and f"hf:{SMOL_REPO}:Q4_K_M" in out.stderr
    # The token went to the Hub (as huggingface_hub sends it) and nowhere else.
    assert any(h.get("authorization") == f"Bearer {TOKEN}" or h.get("Authorization") == f"Bearer {TOKEN}"
               for (_c, _u, h) in fake_hub.requests)
    app_home.mkdir(parents=True, exist_ok=True)
    run = _cli("compare", f"hf:{SMOL_REPO}:Q4_1", "smollm2", "-p", "Say hi.", "-n", "4", "--json",
               str(app_home / "result.json"), env=env)
    assert run.returncode == 0, run.stderr
    assert "[A]" in run.stdout and "t/s" in run.stdout
    for text in (out.stdout, out.stderr, run.stdout, run.stderr):
        assert TOKEN not in text
    written = [p for p in [*app_home.rglob("*"), *(tmp_path / "hf").rglob("*")] if p.is_file()]
    assert written and not [p for p in written if TOKEN.encode() in p.read_bytes()]


def test_pull_without_a_default_quant_exits_with_the_choices(fake_hub):
    out = _cli("pull", "org/Choices-GGUF", env=dict(os.environ))
    assert out.returncode == 2
    assert out.stderr.startswith("error: org/Choices-GGUF has several quantisations: Q5_K_M")
