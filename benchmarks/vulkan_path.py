"""The demo models on the Vulkan backend (Mesa's lavapipe, a Vulkan device on the CPU)
beside llama.cpp's CPU backend, through the compare session.

lavapipe is slow; the point is that the GPU path works end to end, not its speed.
Each backend gets its own session (Vulkan enumerates devices once per process, and
the workers inherit the environment they start with): CPU with Vulkan hidden, then
Vulkan with lavapipe made visible. Fair mode, every thread, greedy, end of
generation ignored, `--tokens` after a raw prompt, `--reps` rounds; prints medians
of generation and prefill t/s, and llama.cpp's device memory per model.

    .venv/bin/python benchmarks/vulkan_path.py [--tokens 16] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.modes import FAIR, default_threads  # noqa: E402
from gemmacompare.engine.session import CompareSession  # noqa: E402
from gemmacompare.models.demo import gemma3_path, smollm2_path  # noqa: E402

LAVAPIPE = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
PROMPT = "The history of the printing press begins in"
BACKENDS = {
    "CPU": {"VK_ICD_FILENAMES": "/nonexistent.json"},
    "Vulkan (lavapipe)": {"VK_ICD_FILENAMES": LAVAPIPE, "GGML_VK_VISIBLE_DEVICES": "0"},
}


def measure(env: dict[str, str], paths: list[str], tokens: int, reps: int) -> list[dict]:
    os.environ.update(env)
    out = []
    with CompareSession(("smollm2", "gemma3")) as s:
        errors = s.load(paths, p.LoadSettings(n_ctx=512))
        if any(errors):
            raise SystemExit(f"load failed: {errors}")
        gen: list[list[float]] = [[], []]
        pre: list[list[float]] = [[], []]
        for _ in range(reps):
            cmds = {i: p.GenerateCommand(100 + i, raw_prompt=PROMPT, sampling=p.SamplingSettings(
                max_tokens=tokens, temperature=0.0, ignore_eos=True)) for i in (0, 1)}
            result = s.run(cmds, mode=FAIR, threads_total=default_threads())
            for i, rec in enumerate(result.runs):
                st = rec.stats()
                gen[i].append(st.gen_tps or 0.0)
                pre[i].append(st.prefill_tps or 0.0)
        for i, ld in enumerate(s.loaded):
            out.append({"placement": ld.placement.summary, "device_mib": ld.placement.device_bytes() / 2**20,
                        "gen": statistics.median(gen[i]), "prefill": statistics.median(pre[i]),
                        "gen_all": gen[i]})
    for k in env:
        os.environ.pop(k, None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    paths = [str(smollm2_path()), str(gemma3_path())]
    print(f"demo models, fair mode, {default_threads()} threads, {args.tokens} tokens after a raw prompt, "
          f"median of {args.reps}")
    results = {}
    for name, env in BACKENDS.items():
        results[name] = measure(env, paths, args.tokens, args.reps)
        for model, r in zip(("SmolLM2-135M Q4_1", "Gemma-3-270M Q4_K_M"), results[name]):
            print(f"{name:<18} {model:<20} gen {r['gen']:6.1f} t/s  prefill {r['prefill']:6.1f} t/s  "
                  f"device {r['device_mib']:6.1f} MiB  ({r['placement']}; gen per round "
                  f"{', '.join(f'{x:.1f}' for x in r['gen_all'])})", flush=True)
    cpu, vk = results["CPU"], results["Vulkan (lavapipe)"]
    for model, c, v in zip(("SmolLM2", "Gemma-3"), cpu, vk):
        print(f"{model}: lavapipe runs at {v['gen'] / c['gen']:.2f}x the CPU backend's generation speed, "
              f"{v['prefill'] / c['prefill']:.2f}x its prefill")


if __name__ == "__main__":
    main()
