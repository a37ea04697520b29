"""How long reading a model's facts takes on the largest legitimate header (issue 24).

Writes a GGUF with Gemma's 262,144-token vocabulary (tokens, scores, types),
a chat template and 800 tensor entries (tests/hostile_files.py), then reports
the median of read_model_facts() in this process and of `gemmacompare inspect`
as a command. Run it against another checkout with --code to compare before/after:

    .venv/bin/python benchmarks/inspect_header.py [--reps 7] [--code /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose gemmacompare is timed")
    ap.add_argument("--file", type=Path, help="reuse this header file instead of writing one")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.hostile_files import write_big_vocab_gguf

    path = args.file
    if path is None or not path.exists():
        path = path or Path(tempfile.mkdtemp()) / "big-vocab.gguf"
        write_big_vocab_gguf(path)
    code = (
        "import sys, time, statistics\n"
        "from gemmacompare.models.gguf_file import read_model_facts\n"
        "ts = []\n"
        "for _ in range(int(sys.argv[2])):\n"
        "    t = time.perf_counter(); f = read_model_facts(sys.argv[1]); ts.append(time.perf_counter() - t)\n"
        "print(f'{statistics.median(ts) * 1000:.0f} {min(ts) * 1000:.0f} {max(ts) * 1000:.0f}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(args.code)}
    out = subprocess.run([sys.executable, "-c", code, str(path), str(args.reps)], env=env, cwd=args.code,
                         capture_output=True, text=True, check=True).stdout.split()
    print(f"header file: {path.stat().st_size:,} bytes; code: {args.code}")
    print(f"read_model_facts: median {out[0]} ms (min {out[1]}, max {out[2]}) over {args.reps} runs")
    walls = []
    for _ in range(max(1, args.reps // 2)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gemmacompare", "inspect", str(path)], env=env, cwd=args.code,
                       capture_output=True, check=True)
        walls.append(time.perf_counter() - t)
    print(f"gemmacompare inspect (whole command): median {statistics.median(walls) * 1000:.0f} ms "
          f"over {len(walls)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
