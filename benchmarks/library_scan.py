"""How fast the model library lists 200 models, and whether the window waits for it.

Builds a home folder with 200 GGUF entries across the sources (sparse files: the
SmolLM2 demo file's real header, then a hole up to its full size), then reports medians of:
- scan with an empty facts cache ("cold") and with the cache from an earlier scan ("warm"),
- the picker: scan + rows + filling the popup's tree, cold and warm,
- the window: constructing and showing MainWindow with that home vs an empty home,
  and when the scan's result arrives after the window is up.
Targets (issue 9): picker list < 0.5 s warm, < 2 s cold; window not delayed by the scan.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/library_scan.py [--reps 5]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.library_tree import ollama_model  # noqa: E402

_HEADER = 512 * 1024


def link_or_copy(src: Path, dst: Path) -> Path:
    """A sparse stand-in of src: its header, then a hole to its size (each a file of its own)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as f, dst.open("wb") as out:
        out.write(f.read(_HEADER))
        out.truncate(src.stat().st_size)
    return dst


def build_tree(home: Path, src: Path) -> int:
    n = 0
    hub = home / ".cache" / "huggingface" / "hub"
    for i in range(60):
        # A blob per repo and a relative snapshot link, as huggingface_hub lays them out.
        repo = hub / f"models--org{i}--Model{i}-GGUF"
        blob = repo / "blobs" / f"{i:064x}"
        link_or_copy(src, blob)
        snap = repo / "snapshots" / ("a" * 40) / f"Model{i}-Q4_K_M.gguf"
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.symlink_to(Path("../../blobs") / blob.name)
        n += 1
    for i in range(40):
        link_or_copy(src, home / ".lmstudio" / "models" / f"pub{i % 8}" / f"model{i}-GGUF" / f"model{i}-Q4_K_M.gguf")
        n += 1
    oll = home / ".ollama" / "models"
    for i in range(40):
        m = ollama_model(oll, f"model{i}", "latest", src)
        # Give each its own blob name so each is a separate file, as distinct models are.
        text = m.read_text()
        digest = text.split('"application/vnd.ollama.image.model","digest":"')[1].split('"')[0]
        new = f"sha256:{i + 1:064x}"
        link_or_copy(src, oll / "blobs" / new.replace(":", "-"))
        m.write_text(text.replace(digest, new))
        n += 1
    for i in range(20):
        link_or_copy(src, home / ".cache" / "llama.cpp" / f"org_Repo{i}-GGUF_model{i}-q4_k_m.gguf")
        link_or_copy(src, home / ".local" / "share" / "nomic.ai" / "GPT4All" / f"gpt{i}.Q4_0.gguf")
        link_or_copy(src, home / ".config" / "Jan" / "data" / "llamacpp" / "models" / f"jan{i}" / "model.gguf")
        n += 3
    return n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gemmacompare-libscan-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # model copies: hundreds of MB
    os.environ["GEMMACOMPARE_HOME"] = str(root / "app")
    home = root / "user"
    empty_home = root / "empty"
    empty_home.mkdir()
    for key in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                "XDG_CONFIG_HOME"):
        os.environ.pop(key, None)

    from gemmacompare.models.demo import smollm2_path
    from gemmacompare.models.facts_cache import FactsCache
    from gemmacompare.models.library import scan_library
    from gemmacompare.models.locations import default_locations

    src = smollm2_path()
    if src is None:
        print("the SmolLM2 demo model is not installed (scripts/setup.sh)")
        return 1
    built = build_tree(home, src)
    locs = default_locations(env={}, home=home)

    from PySide6.QtWidgets import QApplication, QWidget

    from gemmacompare.ui.model_picker import PickerPopup, picker_rows

    app = QApplication.instance() or QApplication([])
    host = QWidget()
    popup = PickerPopup(host)

    def picker(cache_path: Path) -> tuple[float, float, int]:
        t0 = time.perf_counter()
        scan = scan_library(locs, FactsCache(cache_path))
        t1 = time.perf_counter()
        popup.fill(picker_rows([], [], scan), None, None)
        app.processEvents()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t0, len(scan.entries)

    cold_scan, cold_pick, warm_scan, warm_pick = [], [], [], []
    found = 0
    for r in range(args.reps):
        cache = root / f"facts-{r}.json"
        s, p, found = picker(cache)  # empty cache
        cold_scan.append(s)
        cold_pick.append(p)
        s, p, _ = picker(cache)  # the cache the first scan wrote
        warm_scan.append(s)
        warm_pick.append(p)

    # The window: same construction with a 200-model home and with an empty one. No demo
    # models, so no worker process starts and only the scan differs.
    from PySide6.QtCore import QTimer

    import gemmacompare.ui.main_window as main_window
    from gemmacompare.state.settings import load_settings

    main_window.demo_models = lambda: []

    def open_window(user_home: Path) -> tuple[float, float, float]:
        os.environ["HOME"] = str(user_home)
        (root / "app" / "cache" / "library-facts.json").unlink(missing_ok=True)  # cold: the worst case
        t0 = time.perf_counter()
        w = main_window.MainWindow(load_settings())
        w.show()
        shown = time.perf_counter() - t0
        gaps, last = [0.0], [time.perf_counter()]

        def probe() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(probe)
        timer.start()
        while w.library is None:
            app.processEvents()
            time.sleep(0.001)
        listed = time.perf_counter() - t0
        timer.stop()
        w.close()
        app.processEvents()
        return shown, listed, max(gaps)

    win_full, win_empty, listed_full, lag, lag_empty = [], [], [], [], []
    for _ in range(args.reps):
        a, b, g = open_window(home)
        win_full.append(a)
        listed_full.append(b)
        lag.append(g)
        a, _b, g = open_window(empty_home)
        win_empty.append(a)
        lag_empty.append(g)

    med = statistics.median
    print(f"# library scan: {found} entries found of {built} built, {args.reps} reps, medians "
          f"(2-core VM shared with other engineers)")
    print(f"scan, cold facts cache:           {med(cold_scan) * 1000:7.1f} ms")
    print(f"scan, warm facts cache:           {med(warm_scan) * 1000:7.1f} ms")
    print(f"picker list, cold (target < 2 s): {med(cold_pick) * 1000:7.1f} ms")
    print(f"picker list, warm (target < 0.5 s): {med(warm_pick) * 1000:5.1f} ms")
    print(f"window shown, 200-model home:     {med(win_full) * 1000:7.1f} ms")
    print(f"window shown, empty home:         {med(win_empty) * 1000:7.1f} ms  "
          f"(ratio {med(win_full) / med(win_empty):.2f})")
    print(f"scan result in the window after:  {med(listed_full) * 1000:7.1f} ms from construction (cold cache)")
    print(f"longest event-loop gap meanwhile: {med(lag) * 1000:7.1f} ms (empty home: {med(lag_empty) * 1000:.1f} ms; "
          "5 ms probe timer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
