#!/usr/bin/env python3
"""Write a synthetic GGUF of a seed architecture: published shapes, random weights.

    scripts/make_synthetic.py PRESET OUT.gguf [--type Q4_K_M] [--scripted] [--count-only]

Presets: gemma4-e2b, qwen35-4b, llama32-3b (the published shapes) and gemma4-tiny,
qwen35-tiny, llama32-tiny (a few MB, the same structure, for tests). Prints the parameter count beside the
published one, the time taken and the file size. A full-size file needs the float
file on disk first (about 2 bytes a parameter: 9.3 GB for Gemma-4-E2B) and a few
minutes of quantising; --count-only prints the counts without writing anything.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gemmacompare.models.gguf_file import human_bytes, human_count  # noqa: E402
from gemmacompare.models.synthetic import QUANT_TYPES, build  # noqa: E402
from gemmacompare.models.synthetic_presets import PRESETS  # noqa: E402
from gemmacompare.models.synthetic_tensors import parameter_count  # noqa: E402

TOLERANCE = 0.05


def count_lines(preset_name: str) -> tuple[list[str], bool]:
    """The count, and the published figure it must match within 5%."""
    preset = PRESETS[preset_name]
    count = parameter_count(preset)
    lines = [f"parameters:  {count.total:,} ({human_count(count.total)}) in the file"]
    if count.per_layer_embeddings:
        lines.append(
            f"             of which per-layer embeddings {count.per_layer_embeddings:,}; "
            f"effective {count.effective:,} ({human_count(count.effective)})"
        )
    pub = preset.published
    if pub is None:
        return lines, True
    ours = count.effective if pub.what == "effective" else count.total
    off = ours / pub.compared - 1
    ok = abs(off) <= TOLERANCE
    figure = f"{human_count(pub.value)} {pub.what} ({pub.source})"
    if pub.minus:
        figure = (
            f"{pub.value:,} {pub.what} ({pub.source}) minus "
            + ", ".join(f"{what} {n:,}" for what, n in pub.minus)
            + f" = {pub.compared:,} ({human_count(pub.compared)})"
        )
    lines.append(f"published:   {figure}; ours {off:+.1%} " + ("(within 5%)" if ok else "(OUTSIDE 5%)"))
    return lines, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("out", type=Path, nargs="?")
    ap.add_argument("--type", default="Q4_K_M", choices=list(QUANT_TYPES), help="output type (default Q4_K_M)")
    ap.add_argument("--scripted", action="store_true", help="bigram test weights instead of random ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="quantiser threads (0: llama.cpp's default)")
    ap.add_argument("--count-only", action="store_true", help="print the parameter count and write nothing")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    lines, ok = count_lines(args.preset)
    print(f"preset:      {args.preset}")
    print("\n".join(lines))
    if args.count_only:
        return 0 if ok else 1
    if args.out is None:
        ap.error("OUT.gguf is required unless --count-only is given")
    result = build(args.preset, args.out, args.type, scripted=args.scripted, seed=args.seed, threads=args.threads)
    print(f"written:     {result.path} ({args.type}, {human_bytes(result.file_size)}, {result.file_size:,} bytes)")
    print(f"time:        {result.write_seconds:.1f} s writing, {result.quantize_seconds:.1f} s quantising")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
