"""Walk each tool's folder layout and list the GGUF files it holds (candidates).

Scanners only look at names and folders; library.py then checks each file
(magic, header, shards) and drops what is not a whole chat model. Unreadable
folders, malformed manifests and broken links are noted and skipped.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gemmacompare.models.locations import (
    FOLDER,
    HF_LAYOUT,
    OLLAMA_LAYOUT,
    PUBLISHER_LAYOUT,
    Location,
)
from gemmacompare.state.safe_json import BadJSONError, load_json_bounded

log = logging.getLogger(__name__)

MAX_DEPTH = 6  # user folders and caches: deep enough for ORG/REPO/sub/file, shallow enough to stay quick
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_DEFAULT_HOST, _OLLAMA_DEFAULT_NS = "registry.ollama.ai", "library"
# Ollama names blobs by content: anything else in a manifest ("../../x.gguf", "/etc/passwd") is not a blob.
_OLLAMA_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 1 << 20  # real manifests and image configs are under 2 KB


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
               skip_dir: Callable[[str], bool] = lambda name: False, contain: bool = True) -> Iterator[Path]:
    """Files under root, following folder symlinks once each (a link loop ends there).

    With contain (other tools' caches), a folder link that leads out of root is
    not followed: one pointing at / would walk the whole file system. A folder
    the user added may link anywhere (contain=False): they put the link there.
    """
    seen: set[tuple[int, int]] = set()
    try:
        real_root = root.resolve()
    except (OSError, RuntimeError):
        return

    def outside(path: str) -> bool:
        try:
            return not Path(path).resolve().is_relative_to(real_root)
        except (OSError, RuntimeError):  # a loop or an unreadable link
            return True

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
                    if contain and e.is_symlink() and outside(e.path):
                        notes.add(f"skipped {e.path}: a folder link out of {root}")
                        continue
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
        yield Candidate(source, _tree_name(f, root), f, f.name)


def _tree_name(f: Path, root: Path) -> str:
    # Jan keeps <id>/model.gguf: the folder is the model's name.
    return f.parent.name if f.stem.lower() == "model" and f.parent != root else f.stem


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
            doc = load_json_bounded(m, MAX_MANIFEST_BYTES, what=f"its manifest {m}")
            layers = doc["layers"]
            digests = [la["digest"] for la in layers if la.get("mediaType") == OLLAMA_MODEL_LAYER]
        except BadJSONError as exc:
            notes.add(f"skipped Ollama model {name} (unreadable): {exc.message}")
            continue
        except (OSError, KeyError, TypeError, AttributeError) as exc:
            notes.add(f"skipped Ollama model {name}: its manifest {m} is unreadable "
                      f"({type(exc).__name__})")
            continue
        if not digests:
            notes.add(f"skipped Ollama model {name}: no single GGUF layer")
            continue
        blob = ollama_blob(root, digests[0])
        if blob is None:
            notes.add(f"skipped Ollama model {name}: its manifest names a model layer that is not "
                      "a sha256 digest of a blob")
            continue
        if not blob.is_file():
            notes.add(f"skipped Ollama model {name}: its blob {blob.name} is missing")
            continue
        yield Candidate(source, name, blob, "", _ollama_file_type(root, doc))


def ollama_blob(root: Path, digest: object) -> Path | None:
    """The blob file a manifest digest names, or None unless it is "sha256:" + 64 hex digits
    and the file (links followed) lies inside root/blobs."""
    if not isinstance(digest, str) or not _OLLAMA_DIGEST.fullmatch(digest):
        return None
    blobs = root / "blobs"
    blob = blobs / digest.replace(":", "-")
    try:
        if blob.exists() and not blob.resolve().is_relative_to(blobs.resolve()):
            return None  # a blob that links out of the store is not Ollama's
    except (OSError, RuntimeError):
        return None
    return blob


def _ollama_file_type(root: Path, manifest: dict[str, Any]) -> str:
    """Ollama records the quantisation in the image config ({"file_type": "Q4_K_M", ...})."""
    try:
        blob = ollama_blob(root, manifest["config"]["digest"])
        if blob is None:
            return ""
        config = load_json_bounded(blob, MAX_MANIFEST_BYTES, what=f"Ollama config {blob.name}")
        return str(config.get("file_type") or "")[:64]  # a label, not a story
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # ValueError: BadJSONError too
        return ""


SCANNERS = {HF_LAYOUT: scan_hf_cache, OLLAMA_LAYOUT: scan_ollama, PUBLISHER_LAYOUT: scan_publisher_tree}


def scan_location(loc: Location, notes: Notes) -> Iterator[Candidate]:
    if loc.source == FOLDER:  # the user's own folder: their links are followed wherever they lead
        return _ggufs_in_user_folder(loc.root, loc.source, notes)
    return SCANNERS.get(loc.layout, scan_tree)(loc.root, loc.source, notes)


def _ggufs_in_user_folder(root: Path, source: str, notes: Notes) -> Iterator[Candidate]:
    yield from scan_hf_cache(root, source, notes)
    for f in _ggufs(walk_files(root, notes, skip_dir=lambda n: n.startswith("models--"), contain=False)):
        yield Candidate(source, _tree_name(f, root), f, f.name)
