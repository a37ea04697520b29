"""Run files shared through a Hugging Face dataset repo: a pull request per file, and the repo read back.

The dataset repo holds files only; there is no server of ours. `share_run_file`
opens a pull request that adds one run file (huggingface_hub's
`create_commit(..., create_pr=True)`), so the repo's owner decides what goes in.
`fetch_repo_runs` lists the repo's run files and downloads them into the
Hugging Face cache (a file already there is not fetched again).

The token is the client's own (HF_TOKEN, or `hf auth login`'s stored one): this
module never reads, stores or logs it, and the client sends it only in the
Authorization header. A file is shared only if the strict reader opens it and it
does not hold the author's home folder (a user or host name alone can be an
ordinary word in an answer, so only the path is looked for), so a hand-edited
file cannot carry it out.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gemmacompare.bench.gallery import MAX_FILES, NotOpened
from gemmacompare.engine.run_file import MAX_FILE_BYTES, RunFileError, parse_run_bytes, read_run_bytes
from gemmacompare.models.hub import HubError, cache_dir, check_reachable, endpoint, is_repo_id

log = logging.getLogger(__name__)

REPO_TYPE = "dataset"
RUNS_FOLDER = "runs"


def check_repo_id(repo_id: str) -> str:
    if not is_repo_id(repo_id or ""):  # the one repo-id check (models/hub.py)
        raise HubError("A dataset repo is named USER/NAME (letters, digits, '-', '_' and '.'); check the name.")
    return repo_id


def path_in_repo(path: Path, data: bytes) -> str:
    """runs/<name>-<content hash>.gcrun[.gz]: the same file shared twice lands on the same path."""
    gz = path.name.endswith(".gz")
    stem = path.name.removesuffix(".gz").removesuffix(".gcrun")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "run"
    return f"{RUNS_FOLDER}/{safe}-{hashlib.sha256(data).hexdigest()[:12]}.gcrun{'.gz' if gz else ''}"


def _share_error(exc: BaseException, repo_id: str) -> HubError:
    from huggingface_hub import errors as e  # heavy; only when talking to the Hub

    log.info("share to %s failed: %r", repo_id, exc)
    if isinstance(exc, e.RepositoryNotFoundError):
        return HubError(f"There is no dataset repo {repo_id} on the Hub (or it is private to others); check the "
                        "name, or create it on the Hub first.")
    if isinstance(exc, e.HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return HubError(f"The Hub refused the pull request to {repo_id}: log in with `hf auth login` (a token "
                            "that may write, or open pull requests) or set HF_TOKEN, and try again.")
        return HubError(f"The Hub answered with an error (HTTP {status}) to the pull request; try again later.")
    return HubError(f"The Hugging Face Hub ({endpoint()}) cannot be reached or answered unexpectedly; try again later.")


def share_run_file(path: Path, repo_id: str) -> str:
    """Opens a pull request adding the run file to the dataset repo; returns the pull request's URL.

    RunFileError if the file is not one we would open or carries private words; HubError for the Hub.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    check_repo_id(repo_id)
    # Read once: the bytes checked (strictly, and for the home folder in the JSON, gzipped or not)
    # are the bytes sent. A file we would not open is not sent anywhere.
    rb = read_run_bytes(path)
    parse_run_bytes(rb)
    data = rb.raw
    if str(Path.home()) in rb.json.decode("utf-8", errors="ignore"):
        raise RunFileError(f"{path.name} holds your home folder's path (edited by hand?), so it was not shared; "
                           "save the run again from gemmacompare, which leaves paths out.")
    check_reachable()
    target = path_in_repo(path, data)
    try:
        info = HfApi(endpoint=endpoint()).create_commit(
            repo_id, [CommitOperationAdd(path_in_repo=target, path_or_fileobj=data)],
            commit_message=f"Add run file {target.rsplit('/', 1)[-1]}",
            commit_description="Shared with `gemmacompare share`: a run anyone can replay or rerun.",
            repo_type=REPO_TYPE, create_pr=True)
    except Exception as exc:  # noqa: BLE001 - every failure is one sentence
        raise _share_error(exc, repo_id) from exc
    return str(info.pr_url or info.commit_url)


@dataclass(frozen=True)
class Fetched:
    paths: list[Path]
    not_fetched: list[NotOpened]
    offline_note: str = ""  # one sentence when the Hub was out of reach and these are the cached files


def cached_repo_runs(repo_id: str) -> list[Path]:
    """The repo's run files already in the Hugging Face cache (every revision fetched before), by name."""
    snapshots = cache_dir() / f"{REPO_TYPE}s--{repo_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return []
    found = {f for pat in ("*.gcrun", "*.gcrun.gz") for f in snapshots.rglob(pat) if f.is_file()}
    return sorted(found)[:MAX_FILES]


def _from_cache(repo_id: str, exc: HubError) -> Fetched:
    """The cached run files when the Hub cannot be reached; the Hub's own sentence when none are cached."""
    cached = cached_repo_runs(repo_id)
    if not cached:
        raise exc
    n = len(cached)
    return Fetched(cached, [], f"The Hugging Face Hub ({endpoint()}) cannot be reached or is not answering, so "
                               f"these are the {n} run file{'s' if n != 1 else ''} of {repo_id} already in the "
                               "cache from an earlier download (newer ones may be missing).")


def fetch_repo_runs(repo_id: str, progress: Callable[[int, int, str], None] | None = None,
                    revision: str | None = None) -> Fetched:
    """The dataset repo's run files, downloaded into the Hugging Face cache (reused when already there)."""
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub import errors as e

    check_repo_id(repo_id)
    try:
        check_reachable()
    except HubError as exc:  # offline: what an earlier download left in the cache, said so
        return _from_cache(repo_id, exc)
    try:
        entries = [f for f in HfApi(endpoint=endpoint()).list_repo_tree(repo_id, recursive=True, revision=revision,
                                                                        repo_type=REPO_TYPE) if hasattr(f, "size")]
    except Exception as exc:  # noqa: BLE001 - every failure is one sentence
        error = _share_error(exc, repo_id)
        status = exc.response.status_code if isinstance(exc, e.HfHubHTTPError) and exc.response is not None else 0
        # The Hub answered: no such repo, or a refusal to act on (not a reason to show old files).
        if 0 < status < 500 or isinstance(exc, e.RepositoryNotFoundError):
            raise error from exc
        return _from_cache(repo_id, error)  # the connection failed after the probe, or the Hub is down
    runs = sorted((f for f in entries if f.path.endswith((".gcrun", ".gcrun.gz"))), key=lambda f: f.path)
    skipped = [NotOpened(f.path, f"larger than {MAX_FILE_BYTES // 2**20} MiB, more than any run file, so it was "
                                 "not downloaded.") for f in runs if int(f.size or 0) > MAX_FILE_BYTES]
    wanted = [f for f in runs if int(f.size or 0) <= MAX_FILE_BYTES][:MAX_FILES]
    paths = []
    for i, f in enumerate(wanted, start=1):
        if progress:
            progress(i, len(wanted), f.path)
        try:
            paths.append(Path(hf_hub_download(repo_id, f.path, repo_type=REPO_TYPE, revision=revision,
                                              cache_dir=str(cache_dir()), endpoint=endpoint())))
        except Exception as exc:  # noqa: BLE001 - one file's failure is one line, the others still come
            log.info("download of %s from %s failed: %r", f.path, repo_id, exc)
            skipped.append(NotOpened(f.path, "it could not be downloaded from the Hub; try again later."))
    return Fetched(paths, skipped)


__all__ = ["Fetched", "cached_repo_runs", "check_repo_id", "fetch_repo_runs", "path_in_repo", "share_run_file"]
