"""GGUF models from the Hugging Face Hub, with the real huggingface_hub client.

Files land in the shared HF cache (the one the library scans, and llama.cpp's
-hf, LM Studio and others reuse). The client's own token handling is used
(HF_TOKEN, `hf auth login`); the token is never read, stored or logged here.
Every failure becomes a HubError with one sentence; details go to the log.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.models.gguf_names import is_non_model_name, quant_from_name, split_name
from gemmacompare.models.locations import hf_hub_cache

log = logging.getLogger(__name__)

DEFAULT_QUANT = "Q4_K_M"
DISK_MARGIN = 256 << 20  # keep some room: a full disk breaks more than the download


class HubError(Exception):
    """One sentence for the user: what failed and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DownloadCancelled(HubError):
    def __init__(self) -> None:
        super().__init__("Download cancelled; nothing half-downloaded was kept.")


class ChoiceNeeded(HubError):
    """The repo has several quantisations and none was named (and no Q4_K_M)."""

    def __init__(self, repo_id: str, models: Sequence["RemoteModel"]) -> None:
        names = ", ".join(f"{m.quant} ({human_bytes(m.size)})" for m in models)
        super().__init__(f"{repo_id} has several quantisations: {names}; pick one with {repo_id}:QUANT.")
        self.models = list(models)


@dataclass(frozen=True)
class RemoteModel:
    """One loadable model in a repo: a GGUF file, or every shard of a split one."""

    repo_id: str
    files: tuple[str, ...]  # repo paths, shard 1 first
    size: int  # all files together
    quant: str

    @property
    def filename(self) -> str:
        return self.files[0]

    @property
    def ref(self) -> str:
        return f"{self.repo_id}:{self.quant}"


@dataclass(frozen=True)
class Progress:
    done: int  # bytes of this model on disk so far (earlier shards included)
    total: int
    speed: float  # bytes/s over the last few seconds
    file_index: int  # 1-based shard being fetched
    file_count: int

    @property
    def eta_seconds(self) -> float | None:
        return (self.total - self.done) / self.speed if self.speed > 0 else None

    def text(self) -> str:
        eta = self.eta_seconds
        eta_s = "" if eta is None else f", {_duration(eta)} left"
        shard = f" (file {self.file_index} of {self.file_count})" if self.file_count > 1 else ""
        return f"{human_bytes(self.done)} of {human_bytes(self.total)} at {human_bytes(self.speed)}/s{eta_s}{shard}"


def _duration(s: float) -> str:
    s = int(s + 0.5)
    return f"{s // 3600}h {s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def parse_repo_spec(text: str) -> tuple[str, str | None]:
    """`ORG/REPO[:QUANT]` (llama.cpp -hf style), also with `hf:` or a huggingface.co URL in front."""
    t = text.strip()
    for prefix in ("hf:", "https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"):
        if t.lower().startswith(prefix):
            t = t[len(prefix):]
    repo, _, quant = t.partition(":")
    repo = repo.strip("/")
    parts = repo.split("/")
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in repo):
        raise HubError(f"'{text}' is not a Hub repository id; write it as ORG/REPO or ORG/REPO:QUANT "
                       "(for example unsloth/Qwen3.5-4B-GGUF:Q4_K_M).")
    return repo, (quant.strip().upper() or None)


def endpoint() -> str:
    # Read at call time, not at import as huggingface_hub does, so a changed HF_ENDPOINT counts.
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    return hf_hub_cache(os.environ, Path.home())[0]


# Without a network huggingface_hub retries for 15-24 s before it says so; a room waits
# that long in silence. A name lookup and a TCP connect answer within this many seconds.
REACH_TIMEOUT_S = 2.0


def check_reachable(timeout: float = REACH_TIMEOUT_S) -> None:
    """Raise HubError within `timeout` s when the Hub's host cannot be resolved or refuses."""
    parts = urlsplit(endpoint())
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except (OSError, UnicodeError) as exc:
            outcome.append(exc)

    # getaddrinfo has no timeout of its own: the probe runs apart and is waited for at most `timeout`.
    t = threading.Thread(target=probe, name="hub-reach", daemon=True)
    t.start()
    t.join(timeout)
    problem = outcome[0] if outcome else TimeoutError(f"no answer in {timeout:g} s")
    if problem is not None:
        log.info("hub: %s:%s not reachable: %r", host, port, problem)
        kind = "its name cannot be resolved" if isinstance(problem, socket.gaierror) else \
            "it refused the connection" if isinstance(problem, ConnectionRefusedError) else "it did not answer"
        raise HubError(f"The Hugging Face Hub ({endpoint()}) cannot be reached: {kind}. Check the network "
                       "(or HF_ENDPOINT) and try again; models already on disk are listed in the pickers.")


def cached_path(model: "RemoteModel") -> Path | None:
    """Shard 1's path when every file of the model is already in the Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    first: Path | None = None
    for name in model.files:
        try:
            found = try_to_load_from_cache(model.repo_id, name, cache_dir=str(cache_dir()))
        except Exception:  # noqa: BLE001 - an unreadable cache entry just means "not on disk"
            return None
        if not isinstance(found, str):
            return None
        first = first or Path(found)
    return first


def _hf_error_message(exc: BaseException, repo_id: str) -> str:
    from huggingface_hub import errors as e  # heavy; only when talking to the Hub

    page = f"{endpoint()}/{repo_id}"
    gated = (f"{repo_id} is gated or private: accept its licence on {page} while logged in, then run "
             "`hf auth login` or set HF_TOKEN, and try again.")
    if isinstance(exc, e.GatedRepoError):
        return gated
    if isinstance(exc, e.RepositoryNotFoundError):
        return (f"There is no repository {repo_id} on the Hub (or it is private: log in with `hf auth login` "
                "or set HF_TOKEN); check the name.")
    if isinstance(exc, e.RevisionNotFoundError):
        return f"{repo_id} has no such revision; check the name."
    if isinstance(exc, e.EntryNotFoundError):
        return f"A file of {repo_id} is no longer on the Hub; list the repository again and pick another file."
    if isinstance(exc, (e.OfflineModeIsEnabled,)):
        return "The Hub is switched off here (HF_HUB_OFFLINE=1); unset it to download models."
    if isinstance(exc, e.HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return gated
        if status == 404:
            return f"There is no repository {repo_id} on the Hub; check the name."
        if status == 429:
            return "The Hub is rate-limiting this machine; wait a minute and try again."
        return f"The Hub answered with an error (HTTP {status}); try again later."
    if isinstance(exc, e.LocalEntryNotFoundError):
        return f"The Hugging Face Hub ({endpoint()}) cannot be reached; check your connection or proxy and try again."
    if isinstance(exc, OSError) and "Consistency check failed" in str(exc):
        return f"A file of {repo_id} arrived incomplete; try again."
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return f"The disk holding {cache_dir()} filled up during the download; free some space and try again."
    return f"The Hugging Face Hub ({endpoint()}) cannot be reached or answered unexpectedly; try again later."


def _as_hub_error(exc: BaseException, repo_id: str) -> HubError:
    log.info("hub: %s failed: %r", repo_id, exc)
    return exc if isinstance(exc, HubError) else HubError(_hf_error_message(exc, repo_id))


def list_models(repo_id: str, revision: str | None = None) -> list[RemoteModel]:
    """The repo's GGUF models (split files grouped, projectors and partial shard sets left out)."""
    from huggingface_hub import HfApi

    check_reachable()
    try:
        files = [f for f in HfApi(endpoint=endpoint()).list_repo_tree(repo_id, recursive=True, revision=revision)
                 if hasattr(f, "size")]
    except Exception as exc:  # noqa: BLE001 - every failure is one sentence
        raise _as_hub_error(exc, repo_id) from exc
    sizes = {f.path: int(f.size or 0) for f in files if f.path.lower().endswith(".gguf")}
    models = []
    for path, size in sorted(sizes.items()):
        name = path.rsplit("/", 1)[-1]
        if is_non_model_name(name):
            continue
        split = split_name(name)
        if split:
            if split.number != 1:
                continue
            folder = path[: -len(name)]
            shards = tuple(folder + n for n in split.all_names())
            if not all(s in sizes for s in shards):
                continue
            size = sum(sizes[s] for s in shards)
        else:
            shards = (path,)
        models.append(RemoteModel(repo_id, shards, size, quant_from_name(name) or name.removesuffix(".gguf")))
    if not models:
        raise HubError(f"{repo_id} has no GGUF model files; pick a repository that publishes GGUF "
                       "(their names usually end in -GGUF).")
    return models


def pick_model(models: Sequence[RemoteModel], quant: str | None, pattern: str | None = None) -> RemoteModel:
    """llama.cpp's -hf rule: the named quantisation; without one, Q4_K_M if present, else ask."""
    pool = [m for m in models if not pattern or fnmatch.fnmatch(m.filename.rsplit("/", 1)[-1], pattern)] or list(models)
    if quant:
        found = [m for m in pool if m.quant.upper() == quant.upper()]
        if not found:
            have = ", ".join(sorted({m.quant for m in pool}))
            raise HubError(f"{pool[0].repo_id} has no {quant} file; it has {have}.")
        return found[0]
    if len(pool) == 1:
        return pool[0]
    default = [m for m in pool if m.quant.upper() == DEFAULT_QUANT]
    if default:
        return default[0]
    raise ChoiceNeeded(pool[0].repo_id, pool)


def free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_disk_space(model: RemoteModel, folder: Path | None = None) -> None:
    folder = folder or cache_dir()
    free = free_bytes(folder)
    if free < model.size + DISK_MARGIN:
        raise HubError(f"Not enough free disk space for {model.filename}: it needs {human_bytes(model.size)} and "
                       f"{folder} has {human_bytes(free)} free; "
                       "free some space or point HF_HUB_CACHE at a larger disk.")


def _progress_class(on_bytes: Callable[[int], None], cancel: threading.Event | None) -> type[Any]:
    """A tqdm stand-in for hf_hub_download's tqdm_class: counts bytes, stops on cancel."""
    from tqdm.auto import tqdm  # a huggingface_hub dependency

    class _Bar(tqdm):  # type: ignore[misc]  # tqdm ships no types, so it is Any here
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # we draw our own progress; no stderr bar
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled()
            on_bytes(int(n or 0))
            shown: bool | None = super().update(n)
            return shown

    return _Bar


class _SpeedMeter:
    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.points: list[tuple[float, int]] = []

    def add(self, done: int) -> float:
        now = time.monotonic()
        self.points.append((now, done))
        while len(self.points) > 2 and now - self.points[0][0] > self.window:
            self.points.pop(0)
        (t0, d0), (t1, d1) = self.points[0], self.points[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0


def download(model: RemoteModel, on_progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None, revision: str | None = None) -> Path:
    """Fetch every file of the model into the HF cache; returns shard 1's snapshot path.

    huggingface_hub resumes a dropped connection itself (HTTP Range, within the
    call); an interrupted or cancelled file leaves no partial file behind, and
    files already complete (earlier shards) are not fetched again.
    """
    from huggingface_hub import hf_hub_download

    folder = cache_dir()
    on_disk = cached_path(model)
    if on_disk is not None:
        return on_disk  # already complete in the cache: nothing to fetch, no network needed
    check_reachable()
    check_disk_space(model, folder)
    done_before = 0
    meter = _SpeedMeter()
    first: Path | None = None
    for i, repo_path in enumerate(model.files, start=1):
        current = 0

        def on_bytes(n: int, i: int = i) -> None:
            nonlocal current
            current = max(0, current + n)
            done = done_before + current
            if on_progress:
                on_progress(Progress(done, model.size, meter.add(done), i, len(model.files)))

        try:
            path = Path(hf_hub_download(
                model.repo_id, repo_path, revision=revision, cache_dir=str(folder), endpoint=endpoint(),
                tqdm_class=_progress_class(on_bytes, cancel),
            ))
        except DownloadCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is one sentence
            raise _as_hub_error(exc, model.repo_id) from exc
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled()
        done_before += path.stat().st_size
        if on_progress:
            on_progress(Progress(done_before, model.size, meter.add(done_before), i, len(model.files)))
        first = first or path
    assert first is not None
    return first


@dataclass(frozen=True)
class Suggestion:
    label: str
    repo: str
    quant: str
    file_pattern: str
    note: str


def load_suggestions(path: Path | None = None) -> list[Suggestion]:
    """resources/suggested_models.json; a broken file gives no suggestions (and a log line), never an error."""
    from gemmacompare.state.paths import resources_dir
    from gemmacompare.state.safe_json import load_json_bounded

    path = path or resources_dir() / "suggested_models.json"
    try:
        doc = load_json_bounded(path, 1 << 20, what=path.name)
        return [Suggestion(str(m["label"]), str(m["repo"]), str(m.get("quant") or DEFAULT_QUANT),
                           str(m.get("file_pattern") or ""), str(m.get("note") or "")) for m in doc["models"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("suggested models unreadable (%s): %s", path, exc)
        return []
