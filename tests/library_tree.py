"""A realistic home folder with models from each tool, built by the tests.

Real GGUF content (the demo models hard-linked, tiny GGUFs written with gguf-py),
laid out the way each tool writes it, plus the junk a real machine has.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

COMMIT = "a" * 40
OLD_COMMIT = "b" * 40


@lru_cache(maxsize=8)
def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def link_or_copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


def write_gguf(path: Path, arch: str = "llama", *, gtype: str | None = None, split: tuple[int, int] | None = None,
               template: str | None = "{{ messages }}") -> Path:
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny {arch}")
    if gtype:
        w.add_type(gtype)
    if split:
        w.add_uint16("split.no", split[0])
        w.add_uint16("split.count", split[1])
        w.add_int32("split.tensors.count", split[1])
    w.add_context_length(128)
    if template:
        w.add_chat_template(template)
    w.add_tensor(f"blk.{split[0] if split else 0}.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def hf_cache_file(hub: Path, repo: str, filename: str, src: Path, commit: str = COMMIT) -> Path:
    """As huggingface_hub stores it: blobs/<sha256> and a relative snapshot symlink."""
    repo_dir = hub / ("models--" + repo.replace("/", "--"))
    blob = repo_dir / "blobs" / sha256_of(src)
    if not blob.exists():
        link_or_copy(src, blob)
    snap = repo_dir / "snapshots" / commit / filename
    snap.parent.mkdir(parents=True, exist_ok=True)
    depth = filename.count("/")
    snap.symlink_to(Path("../" * (depth + 2)) / "blobs" / blob.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snap


def ollama_model(root: Path, name: str, tag: str, src: Path, host: str = "registry.ollama.ai",
                 namespace: str = "library", file_type: str = "Q4_1", family: str = "llama") -> Path:
    """As Ollama writes it: content-addressed blobs and a compact JSON manifest."""
    blobs = root / "blobs"
    digest = "sha256:" + sha256_of(src)
    model_blob = blobs / digest.replace(":", "-")
    if not model_blob.exists():
        link_or_copy(src, model_blob)
    extras = []
    for media, data in (("application/vnd.ollama.image.template", b"{{ .Prompt }}"),
                        ("application/vnd.ollama.image.params", b'{"stop":["<|im_end|>"]}')):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        (blobs / d.replace(":", "-")).write_bytes(data)
        extras.append({"mediaType": media, "digest": d, "size": len(data)})
    config = json.dumps({"model_format": "gguf", "model_family": family, "model_families": [family],
                         "model_type": "135M", "file_type": file_type, "architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}, separators=(",", ":")).encode()
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    (blobs / cd.replace(":", "-")).write_bytes(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": src.stat().st_size},
                   *extras],
    }
    m = root / "manifests" / host / namespace / name / tag
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(json.dumps(manifest, separators=(",", ":")))
    return m


def build_home(home: Path, smol: Path, gemma: Path) -> dict[str, str]:
    """Every source with models and junk; returns the refs the library must list, mapped to paths."""
    expected: dict[str, str] = {}
    tiny = write_gguf(home.parent / "tiny-src" / "tiny.gguf")

    # Hugging Face cache: the same blob under two revisions is one entry.
    hub = home / ".cache" / "huggingface" / "hub"
    snap = hf_cache_file(hub, "bartowski/SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct-Q4_1.gguf", smol)
    hf_cache_file(hub, "bartowski/SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct-Q4_1.gguf", smol, OLD_COMMIT)
    expected["hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_1"] = str(snap)
    proj = write_gguf(home.parent / "tiny-src" / "proj.gguf", "clip", gtype="mmproj", template=None)
    hf_cache_file(hub, "bartowski/SmolLM2-135M-Instruct-GGUF", "mmproj-SmolLM2-f16.gguf", proj)
    hf_cache_file(hub, "bartowski/SmolLM2-135M-Instruct-GGUF", "vision-tower.gguf", proj)  # clip, no hint in name
    repo = hub / "models--bartowski--SmolLM2-135M-Instruct-GGUF"
    (repo / "blobs" / ("c" * 64 + ".0a1b2c3d.incomplete")).write_bytes(b"GGUF" + b"\0" * 100)
    (repo / "snapshots" / COMMIT / "SmolLM2-135M-Instruct-Q8_0.gguf").symlink_to("../../blobs/" + "d" * 64)  # broken
    # A split model in a subfolder: shard 1 is offered, with both shards' size.
    s1 = write_gguf(home.parent / "tiny-src" / "s1.gguf", split=(0, 2))
    s2 = write_gguf(home.parent / "tiny-src" / "s2.gguf", split=(1, 2))
    first = hf_cache_file(hub, "unsloth/Tiny-GGUF", "Q8_0/Tiny-Q8_0-00001-of-00002.gguf", s1)
    hf_cache_file(hub, "unsloth/Tiny-GGUF", "Q8_0/Tiny-Q8_0-00002-of-00002.gguf", s2)
    expected["hf:unsloth/Tiny-GGUF:Q8_0"] = str(first)
    expected["hf:unsloth/Tiny-GGUF:F16"] = str(hf_cache_file(hub, "unsloth/Tiny-GGUF", "Tiny-F16.gguf", tiny))
    # A split model whose second shard never arrived.
    hf_cache_file(hub, "unsloth/Half-GGUF", "Half-Q4_K_M-00001-of-00002.gguf", s1)
    (hub / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")

    # LM Studio: PUBLISHER/MODEL/file.
    lm = home / ".lmstudio" / "models" / "lmstudio-community" / "gemma-3-270m-it-GGUF"
    expected["lmstudio:lmstudio-community/gemma-3-270m-it-GGUF:Q4_K_M"] = str(
        link_or_copy(gemma, lm / "gemma-3-270m-it-Q4_K_M.gguf"))
    (lm / "gemma-3-270m-it-Q8_0.gguf.downloading").write_bytes(b"GGUF")
    (lm / "gemma-3-270m-it-Q6_K.gguf.part").write_bytes(b"GGUF")

    # Ollama: two tags of one blob are two names; a malformed manifest, a missing blob, a partial blob.
    oll = home / ".ollama" / "models"
    ollama_model(oll, "smollm2", "135m", smol)
    ollama_model(oll, "smollm2", "latest", smol)
    blob = str(oll / "blobs" / ("sha256-" + sha256_of(smol)))
    expected["ollama:smollm2:135m"] = blob
    expected["ollama:smollm2:latest"] = blob
    ollama_model(oll, "gemma3-270m", "Q4_K_M", gemma, host="hf.co", namespace="ggml-org", file_type="Q4_K_M",
                 family="gemma3")
    expected["ollama:hf.co/ggml-org/gemma3-270m:Q4_K_M"] = str(oll / "blobs" / ("sha256-" + sha256_of(gemma)))
    bad = oll / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schemaVersion":2,"layers":[{"mediaType":')
    ghost = ollama_model(oll, "ghost", "latest", tiny)
    (oll / "blobs" / ("sha256-" + sha256_of(tiny))).unlink()
    assert ghost.exists()
    (oll / "blobs" / ("sha256-" + "e" * 64 + "-partial")).write_bytes(b"GGUF")

    # llama.cpp's legacy flat cache, with its side files.
    lc = home / ".cache" / "llama.cpp"
    flat = link_or_copy(tiny, lc / "ggml-org_Tiny-GGUF_tiny-q8_0.gguf")
    expected["llamacpp:ggml-org_Tiny-GGUF_tiny-q8_0"] = str(flat)
    (lc / "ggml-org_Tiny-GGUF_tiny-q8_0.gguf.etag").write_text('"abc"')
    (lc / "ggml-org_Tiny-GGUF_big-q4_k_m.gguf.downloadInProgress").write_bytes(b"GGUF")

    # GPT4All and Jan.
    g4 = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    expected["gpt4all:tiny-chat.Q4_0"] = str(link_or_copy(tiny, g4 / "tiny-chat.Q4_0.gguf"))
    link_or_copy(tiny, g4 / "incomplete-other.Q4_0.gguf")
    jan = home / ".config" / "Jan" / "data" / "llamacpp" / "models" / "qwen-tiny"
    expected["jan:qwen-tiny"] = str(link_or_copy(tiny, jan / "model.gguf"))
    link_or_copy(proj, jan / "mmproj.gguf")
    (jan / "model.yml").write_text("model_path: llamacpp/models/qwen-tiny/model.gguf\nname: qwen-tiny\n")

    # A folder the user added, with a loop of folder links and a loop of file links.
    mine = home / "models"
    expected["folder:mine"] = str(link_or_copy(tiny, mine / "deep" / "mine.gguf"))
    (mine / "deep" / "again").symlink_to("..")
    (mine / "a.gguf").symlink_to("b.gguf")
    (mine / "b.gguf").symlink_to("a.gguf")
    (mine / "notes.gguf").write_text("not a model")
    return expected
