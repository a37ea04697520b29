"""The gallery of a real demo run plus hand-made "other machines", as a page opened in headless Chromium.

Chromium (Debian's `chromium`) renders the page to a screenshot and dumps the DOM
it built; its network log shows that the page asked for nothing (the browser's
own background requests carry no page origin, a page's requests do).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import geometric_mean

import pytest

from tests.gallery_files import GPU_BOX, OLD_LAPTOP, model_part, run_doc, write

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SMOL, GEMMA = "SmolLM2-135M-Instruct", "Gemma-3-270M"


def cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home / "user"), "GEMMACOMPARE_HOME": str(home / "app"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gemmacompare", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def gallery_dir(tmp_path_factory, demo_paths) -> Path:
    """A real fair run of the demo models on this machine, and four files standing for other machines."""
    d = tmp_path_factory.mktemp("gallery")
    runs = d / "runs"
    runs.mkdir()
    out = cli(d, "compare", "smollm2", "gemma3", "-p", "Name three colours.", "-n", "12", "--mode", "fair",
              "--save-run", str(runs / "this-machine.gcrun"))
    assert out.returncode == 0, out.stderr
    out = cli(d, "bench", "smollm2", "gemma3", "--limit", "1", "-n", "8", "--warmup", "0", "-q",
              "--save-run", str(runs / "this-machine-bench.gcrun"))
    assert out.returncode == 0, out.stderr
    real = json.loads((runs / "this-machine.gcrun").read_text())
    hashes = {m["identity"]["display_name"]: m["identity"]["file_hash"] for m in real["models"]}
    smol_name, gemma_name = real["models"][0]["identity"]["display_name"], real["models"][1]["identity"]["display_name"]
    sq, gq = (m["identity"]["quantization"] for m in real["models"])

    def smol(ms: float, **kw) -> dict:
        return model_part(smol_name, hashes[smol_name], ms, quant=sq, **kw)

    def gemma(ms: float, **kw) -> dict:
        return model_part(gemma_name, hashes[gemma_name], ms, quant=gq, label="B", **kw)

    write(runs / "gpu-box-1.gcrun", run_doc(GPU_BOX, [smol(4.0, backend="CUDA0"), gemma(6.0, backend="CUDA0")]))
    write(runs / "gpu-box-2.gcrun", run_doc(GPU_BOX, [smol(5.0, backend="CUDA0")], created="2026-12-02T08:00:00+00:00"))
    write(runs / "laptop.gcrun", run_doc(OLD_LAPTOP, [smol(30.0, busy=True), gemma(55.0)]))
    write(runs / "laptop-claim.gcrun", run_doc(OLD_LAPTOP, [smol(25.0, threads=8), gemma(50.0, threads=8)],
                                               claim_ms=[[25.0, 50.0], [27.0, 53.0], [26.0, 51.0]]))
    (runs / "damaged.gcrun").write_text('{"format": "gemmacompare-run", "schema": 1, "kind": "comp')
    write(runs / "hostile.gcrun", run_doc(GPU_BOX, [model_part("<img src=http://127.0.0.1:9/x>\u202eevil", "ffff",
                                                               3.0)]))
    return d


def test_gallery_of_real_and_other_machines(gallery_dir):
    from gemmacompare.bench.gallery import build_gallery

    g = build_gallery([gallery_dir / "runs"])
    assert g.n_files == 7 and [n.name for n in g.not_opened] == ["damaged.gcrun"]
    this = [r for r in g.rows if "Ryzen" not in r.machine and "i5-8250U" not in r.machine]
    assert {f for r in this for f in r.files} == {"this-machine.gcrun", "this-machine-bench.gcrun"}
    assert len(this) in (2, 4) and all(r.ms_per_token and r.ms_per_token.mean > 0 for r in this)
    assert all(r.backend != "unknown" for r in this)  # a real run says where llama.cpp put the model
    # New run files carry the llama.cpp build: ggml's commit and version, backends, the CPU variant chosen.
    build = json.loads((gallery_dir / "runs" / "this-machine.gcrun").read_text())["machine"]["llama_cpp"]
    bench = json.loads((gallery_dir / "runs" / "this-machine-bench.gcrun").read_text())
    assert bench["machine"]["llama_cpp"] == build and all(m["loaded"]["placement"]["backend"] for m in bench["models"])
    assert build["commit"] not in ("", "unknown") and "CPU" in build["backends"] and build["cpu_variant"]
    assert all(build["commit"] in r.build and build["ggml_version"] in r.build for r in this)
    assert all(r.build.endswith("build unknown") for r in g.rows if r not in this)  # older files: unknown
    gpu = [r for r in g.rows if "Ryzen" in r.machine and len(r.runs) == 2]
    assert len(gpu) == 1 and gpu[0].ms_per_token.mean == pytest.approx(geometric_mean([4.0, 5.0]))


def page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for; Chromium's own background requests have no page origin."""
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [e["params"]["url"] for e in log["events"]
            if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
            and e["params"].get("initiator") != "not an origin"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_page_in_headless_chromium(gallery_dir):
    out, shot, netlog = gallery_dir / "gallery.html", gallery_dir / "gallery.png", gallery_dir / "net.json"
    res = cli(gallery_dir, "gallery", str(gallery_dir / "runs"), "--sort", "ms", "--html", str(out),
              "--pair", "smollm2", "gemma", "--claimed-ratio", "2.4")
    assert res.returncode == 0, res.stderr
    assert "not opened: damaged.gcrun is not valid JSON" in res.stderr
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={gallery_dir / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", f"--log-net-log={netlog}", out.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    # The figures are those of the files: the GPU box's two runs (4 and 5 ms/token) as one row, the claim's mean.
    from gemmacompare.bench.gallery import build_gallery

    n_rows = len(build_gallery([gallery_dir / "runs"]).rows)
    assert "4.5 [" in html and "26.0 [" in html and html.count("<tr>") == 1 + n_rows
    assert html.count("<svg") == 3 + 1 and "claimed 2.4x" in html  # a chart per model, and the pair's ratio
    assert "&lt;img src=http://127.0.0.1:9/x&gt;\\u202eevil" in html and "<img" not in html
    assert page_requests(netlog) == []
    # The check sees a page that does ask: one with an image from elsewhere.
    leak = gallery_dir / "leak.html"
    leak.write_text('<html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    subprocess.run([*base, "--dump-dom", f"--log-net-log={netlog}", leak.as_uri()], capture_output=True, timeout=120)
    assert page_requests(netlog) == ["http://127.0.0.1:9/x.png"]
    res = subprocess.run([*base, f"--screenshot={shot}", "--window-size=1400,2000", out.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and shot.stat().st_size > 10_000, res.stderr[-2000:]
    if os.environ.get("GEMMACOMPARE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "gallery-page.png")
