"""A small Hub-compatible HTTP server for the tests (the real Hub is out of reach).

It answers what huggingface_hub 2.x asks for a GGUF download: the repo tree
(`/api/models/{repo}/tree/{rev}`), HEAD and GET on `/{repo}/resolve/{rev}/{path}`
with X-Repo-Commit, ETag and Range, and typed errors through X-Error-Code.
Knobs make it misbehave: a gated repo, a connection dropped mid-file.

Dataset repos (`datasets`) answer the same under /api/datasets/ and /datasets/,
and take commits as `create_commit(..., create_pr=True)` sends them: POST
preupload (every file "regular", inline), then POST commit (NDJSON: a header
line, one line per file, base64); with ?create_pr=1 the files go into a new
pull request, which `merge_pr` lands on main. A commit needs the accepted token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    source: Path
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            h = hashlib.sha256()
            with self.source.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
            self.sha256 = h.hexdigest()

    @property
    def size(self) -> int:
        return self.source.stat().st_size


@dataclass
class HubRepo:
    files: dict[str, HubFile]
    gated: bool = False  # answers 401 with X-Error-Code: GatedRepo unless a token is sent


@dataclass
class PullRequest:
    num: int
    repo_id: str
    summary: str
    files: dict[str, bytes]


@dataclass
class FakeHub:
    repos: dict[str, HubRepo] = field(default_factory=dict)
    datasets: dict[str, HubRepo] = field(default_factory=dict)
    pull_requests: list[PullRequest] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # every request body received
    drop_after: int | None = None  # drop the first GET body after this many bytes
    throttle: float = 0.0  # seconds to sleep per 1 MiB sent (to cancel mid-file)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    accepted_token: str | None = None
    _dropped: bool = False

    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def merge_pr(self, num: int, folder: Path) -> None:
        """The repo owner merges a pull request: its files land on main (kept under `folder`)."""
        pr = next(p for p in self.pull_requests if p.num == num)
        repo = self.datasets[pr.repo_id]
        for path, data in pr.files.items():
            target = folder / pr.repo_id / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            repo.files[path] = HubFile(target)


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(),
                   {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"})

    def _repo(self, repo_id: str, kind: str = "models") -> HubRepo | None:
        repo = (self.hub.datasets if kind == "datasets" else self.hub.repos).get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        auth = self.headers.get("authorization", "")
        if repo.gated and (self.hub.accepted_token is None or auth != f"Bearer {self.hub.accepted_token}"):
            self._error(401, "GatedRepo", "Access to model is restricted. You must have access to it.")
            return None
        return repo

    def do_GET(self) -> None:  # noqa: N802
        self._route()

    def do_HEAD(self) -> None:  # noqa: N802
        self._route()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.hub.requests.append((self.command, self.path, dict(self.headers)))
        self.hub.bodies.append(body)
        url = urlparse(self.path)
        path = unquote(url.path)
        if not (m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/(preupload|commit)/(.+)", path)):
            return self._error(404, "EntryNotFound", "not found")
        repo = self._repo(m[1], "datasets")
        if repo is None:
            return
        if self.hub.accepted_token is None or self.headers.get("authorization") != f"Bearer {self.hub.accepted_token}":
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        if m[2] == "preupload":
            files = json.loads(body)["files"]
            answer = {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            return self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(x["value"] for x in lines if x["key"] == "header")
        files = {x["value"]["path"]: base64.b64decode(x["value"]["content"]) for x in lines if x["key"] == "file"}
        url_base = f"{self.hub.url}/datasets/{m[1]}"
        if "create_pr=1" in (url.query or ""):
            num = len(self.hub.pull_requests) + 1
            self.hub.pull_requests.append(PullRequest(num, m[1], header.get("summary", ""), files))
            answer = {"commitUrl": f"{url_base}/commit/{COMMIT}", "commitOid": COMMIT,
                      "pullRequestUrl": f"{url_base}/discussions/{num}"}
        else:
            return self._error(403, "Forbidden", "this stand-in takes pull requests only")
        self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def _route(self) -> None:
        self.hub.requests.append((self.command, self.path, dict(self.headers)))
        path = unquote(urlparse(self.path).path)
        if m := re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
            return self._tree(m[2], m[1])
        if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(m[1], m[3], "datasets")
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(m[1], m[3])
        self._error(404, "EntryNotFound", "not found")

    def _tree(self, repo_id: str, kind: str = "models") -> None:
        repo = self._repo(repo_id, kind)
        if repo is None:
            return
        items = []
        folders = sorted({p.rsplit("/", 1)[0] for p in repo.files if "/" in p})
        for d in folders:
            items.append({"type": "directory", "path": d, "oid": hashlib.sha1(d.encode()).hexdigest()})
        for p, f in sorted(repo.files.items()):
            items.append({"type": "file", "path": p, "size": f.size, "oid": hashlib.sha1(p.encode()).hexdigest(),
                          "lfs": {"oid": f.sha256, "size": f.size, "pointerSize": 134}})
        self._send(200, json.dumps(items).encode(), {"Content-Type": "application/json"})

    def _resolve(self, repo_id: str, file_path: str, kind: str = "models") -> None:
        repo = self._repo(repo_id, kind)
        if repo is None:
            return
        f = repo.files.get(file_path)
        if f is None:
            self._error(404, "EntryNotFound", "Entry not found")
            return
        size = f.size
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{f.sha256}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        start = 0
        rng = self.headers.get("Range")
        if rng and (m := re.fullmatch(r"bytes=(\d+)-", rng)):
            start = int(m[1])
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if self.command == "HEAD":
            return
        drop = None
        if self.hub.drop_after is not None and not self.hub._dropped:
            self.hub._dropped = True
            drop = self.hub.drop_after
        sent = 0
        with f.source.open("rb") as src:
            src.seek(start)
            while chunk := src.read(1 << 20):
                if drop is not None and sent + len(chunk) > drop:
                    self.wfile.write(chunk[: drop - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # mid-file: the client sees a cut connection
                    return
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(chunk)
                if self.hub.throttle:
                    import time

                    time.sleep(self.hub.throttle)
