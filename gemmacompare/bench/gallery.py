"""A gallery of run files from many machines: one table, one row per model, machine, build and settings.

Every file is read with the strict run-file reader; a file it refuses is one
line in `not_opened`, never a stop. Files whose content is the same (a copy
under another name, or the same run gzipped) are counted once, by the sha256
of their JSON. A row gathers the runs of one model on one machine with one
llama.cpp build and the same speed-relevant settings: two files of the same
model on the same machine are one row with both runs, while a run with
other threads or another cache type is another row, since averaging them
would mix two different measurements.

Everything a file says is a stranger's text; this module keeps it as data
and leaves escaping to whoever shows it (terminal_safe, html.escape, a plain
text widget).
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gemmacompare.engine.report.intervals import positive_interval
from gemmacompare.engine.run_file import RunFile, RunFileError, RunModel, parse_run_bytes, read_run_bytes
from gemmacompare.state.untrusted import terminal_safe

log = logging.getLogger(__name__)

RUN_FILE_PATTERNS = ("*.gcrun", "*.gcrun.gz")
MAX_FILES = 5000  # a folder of more run files than this is not a gallery but a mistake
UNKNOWN = "unknown"
SORT_KEYS = ("model", "machine", "backend", "ms", "prefill", "ttft", "memory", "date")
NAME_MAX = 120  # the longest name a cell shows


@dataclass(frozen=True)
class NotOpened:
    name: str
    reason: str  # one sentence


@dataclass(frozen=True)
class GalleryRun:
    """One model's figures from one file."""

    file_name: str
    content_hash: str
    created: str
    ms_per_token: tuple[float, ...]  # one value per repetition the file holds
    prefill_tps: tuple[float, ...]
    ttft_s: tuple[float, ...]
    peak_rss: int | None
    peak_vram: int | None
    busy: bool  # other programs kept the machine busy during the run (the author's app measured it)
    kind: str  # compare | bench | claim


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int

    def text(self, digits: int = 1) -> str:
        if self.low is None or self.high is None or f"{self.low:.{digits}f}" == f"{self.high:.{digits}f}":
            return f"{self.mean:.{digits}f}"  # no interval, or one that reads "200 [200, 200]"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def interval_of(values: Iterable[float]) -> Interval | None:
    """The (geometric) mean and its 95% interval on the log scale: the figures are positive, and a t-interval
    of two runs of 10 and 12 ms/token read "11.0 [-1.7, 23.7]"."""
    vals = [v for v in values if v is not None and v > 0]
    if not vals:
        return None
    mean, low, high = positive_interval(vals)
    return Interval(mean, low, high, len(vals))


@dataclass
class GalleryRow:
    machine: str  # CPU (cores/threads), GPU, RAM
    backend: str  # where llama.cpp put the model: CPU, Vulkan0, CUDA0 + CPU
    build: str  # llama.cpp build as far as the file tells
    model: str  # display name
    quantization: str
    file_hash: str
    settings: dict[str, str]  # threads, ctx, flash_attn, cache types, swa_full, gpu_layers
    runs: list[GalleryRun] = field(default_factory=list)

    @property
    def ms_per_token(self) -> Interval | None:
        return interval_of(v for r in self.runs for v in r.ms_per_token)

    @property
    def prefill_tps(self) -> Interval | None:
        return interval_of(v for r in self.runs for v in r.prefill_tps)

    @property
    def ttft_s(self) -> Interval | None:
        return interval_of(v for r in self.runs for v in r.ttft_s)

    @property
    def peak_rss(self) -> int | None:
        return max((r.peak_rss for r in self.runs if r.peak_rss), default=None)

    @property
    def peak_vram(self) -> int | None:
        return max((r.peak_vram for r in self.runs if r.peak_vram), default=None)

    @property
    def busy(self) -> bool:
        return any(r.busy for r in self.runs)

    @property
    def date(self) -> str:
        return max((r.created for r in self.runs), default="")[:10]

    @property
    def files(self) -> list[str]:
        return [r.file_name for r in self.runs]

    @property
    def settings_text(self) -> str:
        s = self.settings
        return (f"{s['threads']} threads, ctx {s['ctx']}, FA {s['flash_attn']}, KV {s['cache_types']}, "
                f"swa_full {s['swa_full']}, GPU layers {s['gpu_layers']}")

    @property
    def model_text(self) -> str:
        quant = "" if self.quantization.lower() in self.model.lower() else f" {self.quantization}"
        return f"{self.model}{quant} #{self.file_hash}"


@dataclass
class Gallery:
    rows: list[GalleryRow] = field(default_factory=list)
    not_opened: list[NotOpened] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, the file it repeats)
    paths: dict[str, Path] = field(default_factory=dict)  # content hash -> the file read
    groups: dict[tuple[str, ...], GalleryRow] = field(default_factory=dict, repr=False)  # grouping key -> its row

    @property
    def n_files(self) -> int:
        return len(self.paths)

    def models(self) -> list[str]:
        return sorted({r.model for r in self.rows})


# --- finding the files ------------------------------------------------------------

def expand_paths(args: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[NotOpened]]:
    """Files, folders (their run files, recursively) and glob patterns, in order, each once."""
    found: list[Path] = []
    missing: list[NotOpened] = []
    for arg in args:
        text = os.fspath(arg)
        p = Path(text)
        if p.is_dir():
            hits = sorted({h for pat in RUN_FILE_PATTERNS for h in p.rglob(pat) if h.is_file()})
        elif p.is_file():
            hits = [p]
        elif p.exists():  # a pipe or a device would block the reader, or never end
            missing.append(NotOpened(text, "not a regular file, so it was not read."))
            hits = []
        elif glob.has_magic(text):
            hits = sorted(Path(h) for h in glob.glob(text, recursive=True) if Path(h).is_file())
            if not hits:
                missing.append(NotOpened(text, "no file matches this pattern."))
        else:
            missing.append(NotOpened(text, "no such file or folder."))
            hits = []
        found.extend(hits)
        if len(found) > MAX_FILES:
            missing.append(NotOpened(text, f"more than {MAX_FILES:,} files: the rest were not read."))
            found = found[:MAX_FILES]
            break
    seen: set[Path] = set()
    unique = []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing


# --- reading one file -------------------------------------------------------------

def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def machine_text(m: dict[str, Any]) -> str:
    cpu = str(m.get("cpu_model") or UNKNOWN)
    cores, threads = _int(m.get("cpu_cores")), _int(m.get("cpu_threads"))
    counts = f"{cores or '?'} cores/{threads or '?'} threads"
    ram = _int(m.get("ram_bytes"))
    ram_s = f", {ram / 2**30:.0f} GiB RAM" if ram else ""
    gpu = str(m.get("gpu") or UNKNOWN)
    return f"{cpu} ({counts}{ram_s}), GPU {gpu}"


def build_text(m: dict[str, Any]) -> str:
    """llama.cpp's build: what newer files record (`llama_cpp`), the llama-cpp-python version otherwise."""
    lcp = str(m.get("llama_cpp_python") or UNKNOWN)
    b = m.get("llama_cpp")
    if not isinstance(b, dict):
        return f"llama-cpp-python {lcp}, build unknown"

    def known(key: str) -> str:
        v = b.get(key)
        return v if isinstance(v, str) and v and v != UNKNOWN else ""

    parts = [f"llama-cpp-python {known('llama_cpp_python') or lcp}", f"llama.cpp {known('commit') or UNKNOWN}"]
    if known("ggml_version"):
        parts.append(f"ggml {known('ggml_version')}")
    backends = b.get("backends")
    if isinstance(backends, list) and backends:
        parts.append("backends " + "+".join(str(x) for x in backends[:8]))
    if known("cpu_variant"):
        parts.append(f"CPU variant {known('cpu_variant')}")
    return ", ".join(parts)


def _settings(m: RunModel, threads: int | None) -> dict[str, str]:
    ld = m.loaded
    load = m.settings.get("load") if isinstance(m.settings.get("load"), dict) else {}
    # From the file's settings only: the reader gives a Loaded without the field the default (off),
    # and files written before the setting existed ran with llama-cpp-python's full-size cache.
    swa = load.get("swa_full") if isinstance(load, dict) else None
    return {
        "threads": str(threads or (ld.n_threads if ld else None) or UNKNOWN),
        "ctx": str(ld.n_ctx) if ld else UNKNOWN,
        "flash_attn": str(ld.flash_attn) if ld else UNKNOWN,
        "cache_types": f"{ld.type_k}/{ld.type_v}" if ld else UNKNOWN,
        "swa_full": UNKNOWN if swa is None else ("on" if swa else "off"),
        "gpu_layers": str(ld.n_gpu_layers) if ld else UNKNOWN,
    }


def _backend(m: RunModel) -> str:
    ld = m.loaded
    if ld is not None and ld.placement is not None and ld.placement.backend:
        return str(ld.placement.backend)
    return UNKNOWN


def _figures(run: RunFile, k: int, m: RunModel) -> tuple[list[float], list[float], list[float], int | None,
                                                          int | None, bool, int | None]:
    """ms/token, prefill t/s, TTFT per repetition; peak RSS and VRAM; busy; threads."""
    author = m.stats
    busy = bool(author.get("machine_busy"))
    if run.kind == "bench":
        items = [it for it in (run.bench or {}).get("items") or []
                 if isinstance(it, dict) and it.get("model_index") == k and isinstance(it.get("stats"), dict)]
        stats = [it["stats"] for it in items]
        ms = [v for s in stats if (v := _num(s.get("ms_per_token")))]
        pre = [v for s in stats if (v := _num(s.get("prefill_tps")))]
        ttft = [v for s in stats if (v := _num(s.get("ttft_s")))]
        rss = max((v for s in stats if (v := _int(s.get("peak_rss")))), default=None)
        vram = max((v for s in stats if (v := _int(s.get("peak_vram")))), default=None)
        busy = busy or any(bool(s.get("machine_busy")) for s in stats)
        threads = next((v for s in stats if (v := _int(s.get("n_threads")))), None)
        return ms, pre, ttft, rss, vram, busy, threads
    st = m.record.stats()
    ms = [st.ms_per_token] if st.ms_per_token else []
    claim = run.claim or {}
    per_run = claim.get("runs_ms_per_token")
    if isinstance(per_run, list) and per_run:  # a checked claim: every fair repetition's figure
        reps = [v for row in per_run if isinstance(row, list) and k < len(row) and (v := _num(row[k]))]
        if reps:
            ms = reps
    pre = [st.prefill_tps] if st.prefill_tps else []
    ttft = [st.ttft_s] if st.ttft_s else []
    return ms, pre, ttft, st.peak_rss, st.peak_vram, busy, st.n_threads or None


def rows_of(run: RunFile, file_name: str, digest: str) -> list[tuple[tuple[str, ...], GalleryRow]]:
    """(grouping key, a one-run row) for every model of the file."""
    out = []
    machine, build = machine_text(run.machine), build_text(run.machine)
    kind = "claim" if run.claim else run.kind
    for k, m in enumerate(run.models):
        ms, pre, ttft, rss, vram, busy, threads = _figures(run, k, m)
        ident = m.identity
        row = GalleryRow(machine=machine, backend=_backend(m), build=build, model=m.display_name,
                         quantization=str(ident.get("quantization") or UNKNOWN),
                         file_hash=str(ident.get("file_hash") or UNKNOWN), settings=_settings(m, threads))
        row.runs.append(GalleryRun(file_name, digest, run.created, tuple(ms), tuple(pre), tuple(ttft), rss, vram,
                                   busy, kind))
        model_key = row.file_hash if row.file_hash != UNKNOWN else f"{row.model}|{row.quantization}"
        key = (machine, row.backend, build, model_key, *(f"{a}={b}" for a, b in sorted(row.settings.items())))
        out.append((key, row))
    return out


def build_gallery(args: Iterable[str | os.PathLike[str]]) -> Gallery:
    gallery = Gallery()
    add_files(gallery, args)
    return gallery


def add_files(gallery: Gallery, args: Iterable[str | os.PathLike[str]]) -> list[GalleryRow]:
    """The run files of `args` added to the gallery (into the rows they belong to, or new rows);
    returns the rows they went into, in order."""
    paths, missing = expand_paths(args)
    gallery.not_opened.extend(missing)
    touched: list[GalleryRow] = []
    for path in paths:
        name = path.name
        try:
            rb = read_run_bytes(path)  # read once: what is parsed is what is hashed
            run = parse_run_bytes(rb)
            digest = rb.content_hash()
        except RunFileError as exc:
            gallery.not_opened.append(NotOpened(name, exc.message))
            continue
        except OSError as exc:  # unreadable (permissions, a file gone meanwhile)
            log.info("%s: %s", path, exc, exc_info=True)
            gallery.not_opened.append(NotOpened(name, "it could not be read (check that it is a file you may read)."))
            continue
        if digest in gallery.paths:
            gallery.duplicates.append((name, gallery.paths[digest].name))
            continue
        gallery.paths[digest] = path
        for key, row in rows_of(run, name, digest):
            if key in gallery.groups:
                gallery.groups[key].runs.extend(row.runs)
            else:
                gallery.groups[key] = row
                gallery.rows.append(row)
            if not any(t is gallery.groups[key] for t in touched):
                touched.append(gallery.groups[key])
    return touched


# --- sorting and filtering ----------------------------------------------------------

def _sort_value(row: GalleryRow, key: str) -> tuple[int, Any]:
    """(missing last, value)."""
    values: dict[str, Any] = {
        "model": row.model.lower(), "machine": row.machine.lower(), "backend": row.backend.lower(),
        "ms": row.ms_per_token.mean if row.ms_per_token else None,
        "prefill": -row.prefill_tps.mean if row.prefill_tps else None,  # fastest first
        "ttft": row.ttft_s.mean if row.ttft_s else None,
        "memory": row.peak_rss, "date": row.date or None,
    }
    v = values[key]
    return (1, 0) if v is None else (0, v)


def sorted_rows(rows: list[GalleryRow], key: str = "model") -> list[GalleryRow]:
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}")
    tie = ("model", "machine", "ms")
    return sorted(rows, key=lambda r: (_sort_value(r, key), *(_sort_value(r, t) for t in tie)))


def filtered_rows(rows: list[GalleryRow], model: str = "", machine: str = "", backend: str = "") -> list[GalleryRow]:
    """Rows whose model, machine and backend contain the given words (case-insensitive)."""
    def has(text: str, part: str) -> bool:
        return part.lower() in text.lower()

    return [r for r in rows if has(r.model_text, model) and has(r.machine, machine) and has(r.backend, backend)]


# --- a pair of models: their ratio per machine -----------------------------------------

@dataclass(frozen=True)
class RatioPoint:
    """ms/token of model B over model A on one machine (same build and settings): the seed's "2.4x" there."""

    label: str  # the machine, backend and threads
    ratio: Interval
    row_a: GalleryRow
    row_b: GalleryRow


def chart_label(row: GalleryRow) -> str:
    """A bar's or dot's label: the machine's CPU, the backend and the threads, short."""
    return f"{row.machine.split(' (', 1)[0]} · {row.backend} · {row.settings['threads']} thr"


def _pair_key(row: GalleryRow) -> tuple[str, ...]:
    return (row.machine, row.backend, row.build, *(f"{k}={v}" for k, v in sorted(row.settings.items())))


def ratio_points(rows: list[GalleryRow], model_a: str, model_b: str) -> list[RatioPoint]:
    """One point per machine that ran both models with the same build and settings.

    Where both came from the same files with one figure per repetition each (a claim's fair
    runs), the ratio is taken per repetition and given with its 95% interval, as `claim` does;
    otherwise it is the ratio of the two means, without an interval.
    """
    a_rows = {_pair_key(r): r for r in rows if r.model == model_a}
    points = []
    for b in rows:
        a = a_rows.get(_pair_key(b)) if b.model == model_b else None
        if a is None or not a.ms_per_token or not b.ms_per_token:
            continue
        a_ms = [v for r in a.runs for v in r.ms_per_token]
        b_ms = [v for r in b.runs for v in r.ms_per_token]
        paired = [r.file_name for r in a.runs] == [r.file_name for r in b.runs] and len(a_ms) == len(b_ms)
        if paired and len(a_ms) >= 2:
            ratio = interval_of(y / x for x, y in zip(a_ms, b_ms) if x > 0)
        else:
            ratio = Interval(b.ms_per_token.mean / a.ms_per_token.mean, None, None, 1)
        if ratio is not None:
            points.append(RatioPoint(chart_label(b), ratio, a, b))
    return points


# --- as text ---------------------------------------------------------------------

# The figures first, beside what they belong to; what makes rows comparable after them.
COLUMNS = ("model", "machine", "backend", "ms/token", "prefill t/s", "TTFT s", "peak RAM", "note", "settings",
           "llama.cpp build", "date", "files")


def _mib(n: int | None) -> str:
    return f"{n / 2**20:.0f} MiB" if n else "-"


def row_cells(row: GalleryRow) -> list[str]:
    """The row as short texts, in COLUMNS' order; a stranger's text not yet escaped for any medium."""
    ms, pre, ttft = row.ms_per_token, row.prefill_tps, row.ttft_s
    vram = f" + {_mib(row.peak_vram)} GPU" if row.peak_vram else ""
    n = len(row.runs)
    return [
        row.model_text, row.machine, row.backend,
        ms.text(1) if ms else "-", pre.text(0) if pre else "-", ttft.text(2) if ttft else "-",
        _mib(row.peak_rss) + vram, "machine busy" if row.busy else "", row.settings_text, row.build, row.date,
        ", ".join(row.files) if n <= 3 else f"{', '.join(row.files[:3])} and {n - 3} more",
    ]


def safe_cell(text: str) -> str:
    """A cell's text with control, format and bidi characters shown as escapes, and bounded."""
    return terminal_safe(text, NAME_MAX * 2)


def markdown_table(rows: list[GalleryRow]) -> str:
    def cell(text: str) -> str:
        s = safe_cell(text)
        for ch in "\\|`*_[]<>#":  # Markdown and HTML that a forum would render
            s = s.replace(ch, "\\" + ch)
        return s

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(c) for c in row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def not_opened_lines(gallery: Gallery) -> list[str]:
    """One line per file not opened; the reader's sentences name the file already."""
    return [safe_cell(n.reason) if n.reason.startswith(n.name) else f"{safe_cell(n.name)}: {safe_cell(n.reason)}"
            for n in gallery.not_opened]


__all__ = ["COLUMNS", "SORT_KEYS", "Gallery", "GalleryRow", "GalleryRun", "Interval", "NotOpened", "RatioPoint",
           "add_files", "build_gallery", "chart_label", "ratio_points",
           "build_text", "expand_paths", "filtered_rows", "interval_of", "machine_text",
           "markdown_table", "not_opened_lines", "row_cells", "safe_cell", "sorted_rows"]
