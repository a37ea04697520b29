"""The library: GGUF chat models already on disk, from every tool's folder.

scan_library() lists entries quickly (names, sizes, a peek at each header);
full facts are read lazily through FactsCache. resolve_model_ref() turns what
a user types (a path, a demo key, `ollama:gemma3:4b`, `hf:ORG/REPO:Q4_K_M`)
into a file, with the closest names when it matches none or several.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gemmacompare.models.demo import resolve_model_arg
from gemmacompare.models.facts_cache import FactsCache
from gemmacompare.models.gguf_header import NotGGUF
from gemmacompare.models.gguf_names import is_non_model_name, is_partial_name, quant_from_name, split_name
from gemmacompare.models.locations import HF, LMSTUDIO, OLLAMA, SOURCE_LABELS, SOURCE_ORDER, Location, default_locations
from gemmacompare.models.scanners import Candidate, Notes, scan_location

log = logging.getLogger(__name__)

_NOT_CHAT_TYPES = {"mmproj", "adapter", "imatrix"}
_NOT_CHAT_ARCHS = {"clip"}
DEFAULT_QUANT = "Q4_K_M"  # llama.cpp's -hf and Ollama's hf.co default


@dataclass(frozen=True)
class LibraryEntry:
    source: str
    name: str
    file: str
    path: str  # what to load: shard 1 where the others sit beside it
    size: int  # all shards together
    mtime: float
    quant: str
    architecture: str
    params_label: str  # general.size_label, when the file names one
    context_length: int | None
    shards: int = 1
    ref: str = ""

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def title(self) -> str:
        return f"{self.name} · {self.file}" if self.file and Path(self.file).stem != self.name else self.name

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "source": self.source, "name": self.name, "file": self.file,
                "quantization": self.quant, "architecture": self.architecture, "parameters": self.params_label,
                "context_length": self.context_length, "size": self.size, "shards": self.shards,
                "mtime": self.mtime, "path": self.path}


@dataclass
class LibraryScan:
    entries: list[LibraryEntry]
    locations: list[Location]
    notes: list[str] = field(default_factory=list)

    def looked_in(self) -> str:
        return "; ".join(str(loc.root) for loc in self.locations)


def _quant_label(peek: Mapping[str, object], c: Candidate, known: str | None) -> str:
    """The file's own file_type (from the header, or from full facts read earlier), else what names say."""
    if known:
        return known
    ft = peek.get("general.file_type")
    if isinstance(ft, int):
        try:
            from gguf import LlamaFileType

            return LlamaFileType(ft).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    return c.quant or quant_from_name(c.file or c.path.name) or quant_from_name(c.name.rpartition(":")[2]) or "?"


def _shards(c: Candidate, notes: Notes) -> tuple[list[Path], bool] | None:
    """The files that make up this candidate; None when it is a later shard or incomplete."""
    split = split_name(c.path.name)
    if split is None:
        return [c.path], False
    if split.number != 1:
        return None
    paths = [c.path.with_name(n) for n in split.all_names()]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        notes.add(f"skipped {c.path}: split model without {', '.join(missing)}")
        return None
    return paths, True


def _entry(c: Candidate, cache: FactsCache, notes: Notes, seen: set[str]) -> LibraryEntry | None:
    """The library entry for a candidate, or None when it is not a whole chat model."""
    fname = c.path.name
    if is_partial_name(fname) or is_non_model_name(fname) or is_non_model_name(c.file):
        return None
    try:
        st = os.stat(c.path)  # follows links: a broken or looping one fails here
    except (OSError, ValueError):
        notes.add(f"skipped {c.path}: broken or looping link")
        return None
    # One entry per file and source (by inode: two snapshots linking one blob are one
    # file), except that each Ollama name:tag is its own entry even when tags share a blob.
    key = f"{c.source}:{c.name}" if c.source == OLLAMA else f"{c.source}:{st.st_dev}:{st.st_ino}"
    if key in seen:
        return None
    shards = _shards(c, notes)
    if shards is None:
        return None
    files, _ = shards
    try:
        peek = cache.peek(str(c.path), st)
    except NotGGUF:
        notes.add(f"skipped {c.path}: not a GGUF file")
        return None
    except OSError as exc:
        notes.add(f"skipped {c.path}: {exc.strerror or exc}")
        return None
    arch = str(peek.get("general.architecture", "?"))
    split_no = peek.get("split.no", 0)
    # A header's values are a stranger's: split.no may be text or a float; only an int > 0 is a later shard.
    if arch in _NOT_CHAT_ARCHS or peek.get("general.type") in _NOT_CHAT_TYPES \
            or (isinstance(split_no, int) and split_no > 0):
        return None
    seen.add(key)
    known = cache.cached_facts(str(c.path), st)
    size = st.st_size if len(files) == 1 else sum(os.stat(p).st_size for p in files)
    ctx = peek.get(f"{arch}.context_length")
    return LibraryEntry(
        source=c.source, name=c.name, file=c.file, path=str(c.path), size=size, mtime=st.st_mtime,
        quant=_quant_label(peek, c, known.quantization if known else None), architecture=arch,
        params_label=str(peek.get("general.size_label", "")), context_length=ctx if isinstance(ctx, int) else None,
        shards=len(files),
    )


def _with_refs(entries: list[LibraryEntry]) -> list[LibraryEntry]:
    groups: dict[tuple[str, str], list[LibraryEntry]] = defaultdict(list)
    for e in entries:
        groups[(e.source, e.name)].append(e)
    out = []
    for e in entries:
        group = groups[(e.source, e.name)]
        quants = [g.quant for g in group]
        # Repo-named sources follow llama.cpp's -hf convention (NAME:QUANT); file- and
        # folder-named ones (and Ollama's name:tag) are already unique names.
        if e.source in (HF, LMSTUDIO) and e.quant != "?" and quants.count(e.quant) == 1:
            ref = f"{e.source}:{e.name}:{e.quant}"
        elif len(group) == 1:
            ref = f"{e.source}:{e.name}"
        else:
            ref = f"{e.source}:{e.name}/{e.file}"
        out.append(replace(e, ref=ref))
    return out


def scan_library(locations: Sequence[Location] | None = None, cache: FactsCache | None = None,
                 folders: Sequence[str] = ()) -> LibraryScan:
    """Every whole GGUF model in the known places, grouped by source order, then name."""
    locs = list(locations) if locations is not None else default_locations(folders=folders)
    cache = cache or FactsCache()
    notes = Notes()
    seen: set[str] = set()
    entries: list[LibraryEntry] = []
    for loc in locs:
        try:
            for cand in scan_location(loc, notes):
                entry = _entry(cand, cache, notes, seen)
                if entry:
                    entries.append(entry)
        except OSError as exc:  # a folder vanishing mid-scan; the rest still counts
            notes.add(f"stopped scanning {loc.root}: {exc.strerror or exc}")
    cache.save()
    order = {s: i for i, s in enumerate(SOURCE_ORDER)}
    entries.sort(key=lambda e: (order.get(e.source, 99), e.name.lower(), e.file.lower()))
    return LibraryScan(_with_refs(entries), locs, notes.lines)


# --- names typed by the user ---------------------------------------------------

class ModelRefError(LookupError):
    """One sentence: which name failed and the closest names there are."""


class AmbiguousModelRef(ModelRefError):
    """The name matches several models on disk."""


def _looks_like_path(text: str) -> bool:
    if text.partition(":")[0].lower() in SOURCE_LABELS:
        return False
    return text.startswith(("/", ".", "~", "\\")) or text.lower().endswith(".gguf") or Path(text).drive != ""


def find_entries(text: str, entries: Sequence[LibraryEntry]) -> list[LibraryEntry]:
    """Entries a name means: exact ref; else the ref or name without its source; an
    untagged Ollama name means :latest; several quantisations of one name mean Q4_K_M."""
    t = text.strip().lower()
    exact = [e for e in entries if e.ref.lower() == t]
    if exact:
        return exact
    source, _, rest = t.partition(":")
    if source in SOURCE_LABELS:
        pool, want = [e for e in entries if e.source == source], rest
    else:
        pool, want = list(entries), t
    if not want:
        return []
    found = [e for e in pool if e.ref.lower().partition(":")[2] == want or e.name.lower() == want
             or e.name.lower() == f"{want}:latest" or Path(e.file).name.lower() == want]
    if len(found) > 1:
        default = [e for e in found if e.quant.upper() == DEFAULT_QUANT]
        if len(default) == 1 and len({(e.source, e.name) for e in found}) == 1:
            return default
    return found


def closest_refs(text: str, entries: Sequence[LibraryEntry], n: int = 3) -> list[str]:
    refs = [e.ref for e in entries]
    lower = {r.lower(): r for r in refs}
    close = difflib.get_close_matches(text.lower(), list(lower), n=n, cutoff=0.4)
    if len(close) < n:  # a bare model name is close to "source:name:tag" only as a substring
        close += [r for r in lower if text.lower() in r and r not in close][: n - len(close)]
    return [lower[c] for c in close]


def resolve_model_ref(arg: str | None, index: int, scan: LibraryScan | None = None) -> Path:
    """A model argument: None (the index-th demo), a path, a demo key, or a library name.

    Raises ModelRefError (a LookupError) with one sentence when the name matches
    no model or several. Pass a scan to avoid scanning again for a second argument.
    """
    if arg is None or arg in ("smollm2", "gemma3"):
        return resolve_model_arg(arg, index)
    path = Path(arg).expanduser()
    if _looks_like_path(arg) or (path.exists() and arg.partition(":")[0].lower() not in SOURCE_LABELS):
        return path
    scan = scan or scan_library()
    found = find_entries(arg, scan.entries)
    if len(found) == 1:
        return Path(found[0].path)
    if found:
        names = ", ".join(e.ref for e in found[:5])
        raise AmbiguousModelRef(f"'{arg}' matches {len(found)} models ({names}); use one of these names.")
    close = closest_refs(arg, scan.entries)
    hint = f"; closest: {', '.join(close)}" if close else (
        "; the library is empty" if not scan.entries else "")
    raise ModelRefError(f"No file or library model named '{arg}'{hint} (`gemmacompare models` lists them all).")


def needs_scan(arg: str | None) -> bool:
    """Whether resolving this argument needs the library (not a demo key or a path)."""
    return arg is not None and arg not in ("smollm2", "gemma3") and not _looks_like_path(arg) \
        and not Path(arg).expanduser().exists()
