"""Walk each tool's folder layout and list the GGUF files it holds (candidates).

Scanners only look at names and folders; library.py then checks each file
(magic, header, shards) and drops what is not a whole chat model. Unreadable
folders, malformed manifests and broken links are noted and skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gemmacompare.models.locations import (
    HF_LAYOUT,
    OLLAMA_LAYOUT,
    PUBLISHER_LAYOUT,
    Location,
)

log = logging.getLogger(__name__)

MAX_DEPTH = 6  # user folders and caches: deep enough for ORG/REPO/sub/file, shallow enough to stay quick
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_DEFAULT_HOST, _OLLAMA_DEFAULT_NS = "registry.ollama.ai", "library"


@dataclass(frozen=True)
class Candidate:
    source: str
    name: str  # what the user knows it by: ORG/REPO, name:tag, publisher/model, file stem
    path: Path  # as found (may be a symlink)
    file: str  # file name shown beside the name ("" for Ollama blobs)
    quant: str = ""  # what the tool's own records say (Ollama's config), if anything


@dataclass
class Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        log.info("library: %s", text)
        self.lines.append(text)


def walk_files(root: Path, notes: Notes, max_depth: int = MAX_DEPTH,
               skip_dir: Callable[[str], bool] = lambda name: False) -> Iterator[Path]:
    """Files under root, following folder symlinks once each (a link loop ends there)."""
    seen: set[tuple[int, int]] = set()

    def walk(folder: Path, depth: int) -> Iterator[Path]:
        try:
            st = folder.stat()
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            notes.add(f"skipped {folder}: {exc.strerror or exc}")
            return
        for e in entries:
            try:
                is_dir = e.is_dir()  # follows symlinks; a broken link is neither
                is_file = not is_dir and e.is_file()
            except OSError:
                continue
            if is_dir:
                if depth < max_depth and not e.name.startswith(".") and not skip_dir(e.name):
                    yield from walk(Path(e.path), depth + 1)
            elif is_file:
                yield Path(e.path)
            elif e.is_symlink():
                notes.add(f"skipped {e.path}: broken or looping link")

    if root.is_dir():
        yield from walk(root, 0)


def _ggufs(paths: Iterator[Path]) -> Iterator[Path]:
    return (p for p in paths if p.name.lower().endswith(".gguf"))


def scan_hf_cache(root: Path, source: str, notes: Notes) -> Iterator[Candidate]:
    """models--ORG--NAME/snapshots/REV/…/*.gguf, symlinks into blobs/."""
    try:
        repos = sorted(p for p in root.iterdir() if p.name.startswith("models--") and p.is_dir())
    except OSError as exc:
        if root.exists():
            notes.add(f"skipped {root}: {exc.strerror or exc}")
        return
    for repo in repos:
        org_name = repo.name[len("models--"):].split("--", 1)
        name = "/".join([org_name[0], *org_name[1].split("--")]) if len(org_name) == 2 else org_name[0]
        snapshots = repo / "snapshots"
        for f in _ggufs(walk_files(snapshots, notes)):
            rel = f.relative_to(snapshots).parts[1:]  # drop the revision
            yield Candidate(source, name, f, "/".join(rel))


def scan_publisher_tree(root: Path, source: str, notes: Notes) -> Iterator[Candidate]:
    """LM Studio: PUBLISHER/MODEL/*.gguf."""
    for f in _ggufs(walk_files(root, notes, max_depth=3)):
        parts = f.relative_to(root).parts
        name = "/".join(parts[:2]) if len(parts) >= 3 else f.stem
        yield Candidate(source, name, f, f.name)


def scan_tree(root: Path, source: str, notes: Notes) -> Iterator[Candidate]:
    """Any folder of GGUFs (llama.cpp cache, GPT4All, Jan, the user's folders).

    A hub-layout root inside (current llama.cpp's LLAMA_CACHE) is read as such."""
    yield from scan_hf_cache(root, source, notes)
    for f in _ggufs(walk_files(root, notes, skip_dir=lambda n: n.startswith("models--"))):
        # Jan keeps <id>/model.gguf: the folder is the model's name.
        name = f.parent.name if f.stem.lower() == "model" and f.parent != root else f.stem
        yield Candidate(source, name, f, f.name)


def _ollama_name(host: str, namespace: str, model: str, tag: str) -> str:
    if host == _OLLAMA_DEFAULT_HOST:
        base = model if namespace == _OLLAMA_DEFAULT_NS else f"{namespace}/{model}"
    else:
        base = f"{host}/{namespace}/{model}"
    return f"{base}:{tag}"


def scan_ollama(root: Path, source: str, notes: Notes) -> Iterator[Candidate]:
    """manifests/HOST/NAMESPACE/MODEL/TAG (JSON); the model layer's blob is the GGUF."""
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for m in walk_files(manifests, notes, max_depth=3):
        parts = m.relative_to(manifests).parts
        if len(parts) != 4:
            continue
        name = _ollama_name(*parts)
        try:
            doc = json.loads(m.read_text(encoding="utf-8"))
            layers = doc["layers"]
            digests = [la["digest"] for la in layers if la.get("mediaType") == OLLAMA_MODEL_LAYER]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            notes.add(f"skipped Ollama model {name}: its manifest {m} is unreadable ({type(exc).__name__})")
            continue
        if not digests:
            notes.add(f"skipped Ollama model {name}: no single GGUF layer")
            continue
        digest = str(digests[0])
        blob = root / "blobs" / digest.replace(":", "-")
        if not blob.is_file():
            notes.add(f"skipped Ollama model {name}: its blob {blob.name} is missing")
            continue
        yield Candidate(source, name, blob, "", _ollama_file_type(root, doc))


def _ollama_file_type(root: Path, manifest: dict) -> str:
    """Ollama records the quantisation in the image config ({"file_type": "Q4_K_M", ...})."""
    try:
        digest = manifest["config"]["digest"]
        config = json.loads((root / "blobs" / digest.replace(":", "-")).read_text(encoding="utf-8"))
        return str(config.get("file_type") or "")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""


SCANNERS = {HF_LAYOUT: scan_hf_cache, OLLAMA_LAYOUT: scan_ollama, PUBLISHER_LAYOUT: scan_publisher_tree}


def scan_location(loc: Location, notes: Notes) -> Iterator[Candidate]:
    return SCANNERS.get(loc.layout, scan_tree)(loc.root, loc.source, notes)
