"""Run files (`.gcrun`): a compare or bench run that anyone can open, replay and rerun.

A run file is JSON (`resources/gcrun.schema.json` describes it). It is written
as plain JSON unless its name ends in `.gz`, then gzip-compressed: plain JSON
can be read, diffed and pasted where people post results; a long run's token
timeline compresses about tenfold, for those who want it small. Reading looks
at the first bytes, not the name, so a renamed file still opens.

What a file never holds: absolute paths (only file names), user and host
names, API keys or tokens, server URLs (only the model id and whether the
server was on the author's machine). `--redact-prompts` leaves the prompts,
the rendered prompt texts, out as well; the file lists what it leaves out.

Reading is bounded (see the MAX_* limits) and strict: a file that is
truncated, of another schema or a later version, too large, or hostile (a
megabyte prompt, a million tokens, control characters) raises RunFileError
with one sentence, and nothing of it is used.
"""

from __future__ import annotations

import getpass
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import socket
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

from gemmacompare.engine import protocol as p
from gemmacompare.engine.conversation import ConversationResult, TurnFigures
from gemmacompare.engine.machine import HASH_METHOD, file_hash_prefix, machine_facts
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import MODES, ThreadSplit
from gemmacompare.engine.placement import DeviceBuffer, Placement
from gemmacompare.engine.remote.server_ref import OLLAMA_PREFIX, ServerRefError, is_server_ref, parse_server_ref
from gemmacompare.engine.run_file_schema import MAX_TEXT_CHARS, SchemaProblem, check_run_doc
from gemmacompare.engine.run_settings import RunSettings
from gemmacompare.models.display_names import display_name
from gemmacompare.models.gguf_file import ModelFacts
from gemmacompare.state.safe_json import BadJSONError, load_json_bounded
from gemmacompare.state.settings_table import group_from_dict
from gemmacompare.state.untrusted import terminal_safe

log = logging.getLogger(__name__)

FORMAT = "gemmacompare-run"
SCHEMA_VERSION = 1
SUFFIX = ".gcrun"

# Limits on what is read. A real run of four models x 4,096 tokens is about 2 MiB of JSON;
# a bench run of 500 items with their answers about 3 MiB. Each field's own limits are the
# schema's (engine/run_file_schema.py).
MAX_FILE_BYTES = 32 * 1024 * 1024  # after decompression: a gzip bomb stops here

# C0/C1 controls but newline, tab and carriage return; an ESC in a file is an attack, not an answer.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

LEFT_OUT = ("absolute paths (file names only)", "user and host names", "API keys and tokens",
            "server addresses (model ids only)")
LEFT_OUT_PROMPTS = "prompts (--redact-prompts): the run can be watched but not rerun"


class RunFileError(Exception):
    """A run file we will not use; `message` is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RunModel:
    """One model of a run: who it was, how it was set, what it did."""

    label: str
    identity: dict[str, Any]  # display_name, file_name, file_size, quantization, architecture, file_hash, source
    settings: dict[str, Any]  # RunSettings as a dict (load, sampling, prompt); no server keys
    loaded: p.Loaded | None
    record: RunRecord
    stats: dict[str, Any] = field(default_factory=dict)  # RunStats as the author's app computed them

    @property
    def display_name(self) -> str:
        return str(self.identity.get("display_name") or self.identity.get("file_name") or self.label)


@dataclass(frozen=True)
class RunConversation:
    """A conversation's turns as the run file keeps them; the models' records are its last turn."""

    id: str
    cache: str  # the policy it was played with (the first turn is always cold)
    system: str | None  # None: redacted
    turns: tuple[str, ...] | None  # the user's messages; None: redacted
    figures: tuple[tuple[TurnFigures, ...], ...]  # per model, per turn
    replies: tuple[tuple[str, ...], ...] | None  # per model, per turn; None: redacted

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cache": self.cache, "system": self.system,
                "turns": None if self.turns is None else list(self.turns),
                "figures": [[t.to_dict() for t in rows] for rows in self.figures],
                "replies": None if self.replies is None else [list(r) for r in self.replies]}


@dataclass
class RunFile:
    kind: str  # compare | bench
    created: str
    machine: dict[str, Any]
    mode: str
    threads_total: int
    thread_split: str
    prompt: str | None  # None: redacted
    system_prompt: str | None
    raw: bool
    models: list[RunModel]
    left_out: list[str]
    bench: dict[str, Any] | None = None
    schema: int = SCHEMA_VERSION
    claim: dict[str, Any] | None = None  # a checked claim: its figures, every run's and the verdict
    arena: dict[str, Any] | None = None  # a blind arena round: which model was which side, and the vote
    conversation: RunConversation | None = None  # a conversation: every turn's figures (models[].run: the last turn)

    @property
    def redacted(self) -> bool:
        return self.prompt is None

    @property
    def labels(self) -> list[str]:
        return [m.label for m in self.models]

    @property
    def records(self) -> list[RunRecord]:
        return [m.record for m in self.models]

    @property
    def loaded(self) -> list[p.Loaded | None]:
        return [m.loaded for m in self.models]

    def run_settings(self, index: int) -> RunSettings:
        return settings_from_dict(self.models[index].settings)

    def whose(self) -> str:
        """One line: the author's machine and software."""
        m = self.machine
        ram = m.get("ram_bytes")
        ram_s = f", {ram / 2**30:.0f} GiB RAM" if isinstance(ram, int) else ""
        return (f"{m.get('cpu_model', '?')} ({m.get('cpu_threads', '?')} threads{ram_s}), GPU {m.get('gpu', '?')}, "
                f"{m.get('os', '?')}; llama-cpp-python {m.get('llama_cpp_python', '?')}, "
                f"gemmacompare {m.get('gemmacompare', '?')}")


# --- writing -----------------------------------------------------------------

def model_source(path: str, ref: str = "") -> dict[str, Any]:
    """Where a model came from, without where it lies: Hub repo and file, Ollama name, server model id.

    `ref` is what the user named the model by (a library name such as ollama:gemma3:4b), when known.
    """
    if ref.lower().startswith("ollama:") and not is_server_ref(path):
        return {"kind": "ollama", "ollama": ref[len("ollama:"):]}
    if is_server_ref(path):
        if path.startswith(OLLAMA_PREFIX):
            return {"kind": "ollama-server", "ollama": path[len(OLLAMA_PREFIX):], "server": "an Ollama server"}
        try:
            server = parse_server_ref(path)
        except ServerRefError:
            return {"kind": "server", "server": "a remote server"}
        return {"kind": "server", "server_model_id": server.model,
                "server": "a server on this machine" if server.is_loopback else "a remote server"}
    parts = PurePath(path).parts
    for i, part in enumerate(parts):
        if part.startswith("models--") and part.count("--") >= 2:
            org, _, repo = part[len("models--"):].partition("--")
            return {"kind": "hub", "hub_repo": f"{org}/{repo}", "hub_file": "/".join(parts[i + 3:]) or parts[-1]}
        if part == "blobs" and i > 0 and parts[i - 1] == "models" and "ollama" in str(path).lower():
            return {"kind": "ollama"}
    return {"kind": "file"}


def model_identity(path: str | None, loaded: p.Loaded | None, label: str, hash_prefix: str | None,
              ref: str = "", shown_as: str = "") -> dict[str, Any]:
    facts = loaded.facts if loaded else None
    name = PurePath(path).name if path and not is_server_ref(path) else (PurePath(facts.path).name if facts else "")
    if not shown_as:  # the name people know it by (models/display_names.py), as the window shows it
        if path and not is_server_ref(path):
            shown_as = display_name(path, facts.name if facts else "", ref or None)
        else:
            shown_as = facts.name if facts else label
    ident: dict[str, Any] = {
        "display_name": shown_as,
        "file_name": "" if path and is_server_ref(path) else name,
        "file_size": facts.file_size if facts else None,
        "quantization": facts.quantization if facts else "",
        "architecture": facts.architecture if facts else "",
        "parameters": facts.parameters if facts else None,
        "context_length": facts.context_length if facts else None,
        "reasoning": facts.reasoning if facts else None,
        "thinking_switch": facts.thinking_switch if facts else False,
        "synthetic": facts.synthetic if facts else False,
        "file_hash": hash_prefix,
        "hash_method": HASH_METHOD if hash_prefix else None,
        "source": model_source(path, ref) if path else {"kind": "unknown"},
    }
    return ident


def hash_of(path: str | None, known: str | None = None) -> str | None:
    if known:
        return known
    if not path or is_server_ref(path):
        return None
    try:
        return file_hash_prefix(path)
    except OSError:
        log.info("no hash for %s", path, exc_info=True)
        return None


def settings_to_dict(s: RunSettings) -> dict[str, Any]:
    """Every setting but how a server is reached (its key's env name is nobody else's business)."""
    d = asdict(s)
    d.pop("server", None)
    d["sampling"]["stop"] = list(s.sampling.stop)
    return d


def settings_from_dict(d: dict[str, Any]) -> RunSettings:
    """A run file's settings, each value checked by the settings table (SettingError: one sentence)."""
    prompt = d.get("prompt")
    if isinstance(prompt, dict) and prompt.get("system_prompt", "") is None:
        # --redact-prompts writes the system prompt as null: not known, so none (such a file is never rerun).
        prompt = {**prompt, "system_prompt": ""}
    return RunSettings(load=group_from_dict("load", d.get("load")),
                       sampling=group_from_dict("sampling", d.get("sampling")),
                       prompt=group_from_dict("prompt", prompt))


def loaded_dict(ld: p.Loaded | None, n_threads: int) -> dict[str, Any] | None:
    if ld is None:
        return None
    return {"n_ctx": ld.n_ctx, "n_batch": ld.n_batch, "n_threads": n_threads, "n_threads_loaded": ld.n_threads,
            "n_gpu_layers": ld.n_gpu_layers, "flash_attn": ld.flash_attn, "type_k": ld.type_k, "type_v": ld.type_v,
            "swa_full": ld.swa_full, "load_seconds": ld.load_seconds, "system_info": ld.system_info,
            "placement": asdict(ld.placement) if ld.placement else None, "llama_build": ld.llama_build}


def _record_dict(rec: RunRecord, redact: bool) -> dict[str, Any]:
    t0 = rec.t_send

    def rel(t: float) -> float:
        return round(t - t0, 6)

    pr, pre, fin, err, mem = rec.prompt, rec.prefill, rec.finished, rec.error, rec.memory
    return {
        "prompt": None if pr is None else {"template_name": pr.template_name,
                                           "thinking_prefilled": pr.thinking_prefilled,
                                           "prompt_text": None if redact else pr.prompt_text},
        "prefill": None if pre is None else {"n_prompt": pre.n_prompt, "t_start": rel(pre.t_start),
                                             "t_end": rel(pre.t_end), "n_reused": pre.n_reused},
        # One row per token: index, token id, seconds since Send, phase, thinking text, answer text.
        "tokens": [[t.index, t.token_id, rel(t.t), t.phase, t.thinking, t.answer] for t in rec.tokens],
        "finished": None if fin is None else {
            "stop_reason": fin.stop_reason, "n_prompt": fin.n_prompt, "n_generated": fin.n_generated,
            "t_send": rel(fin.t_send), "t_end": rel(fin.t_end), "n_threads": fin.n_threads,
            "template_name": fin.template_name, "perf": asdict(fin.perf) if fin.perf else None,
            "server": asdict(fin.server) if fin.server else None,
            "cache": asdict(fin.cache) if fin.cache else None,
            "draft": asdict(fin.draft) if fin.draft else None},
        "error": None if err is None else {"message": err.message, "fatal": err.fatal},
        "memory": None if mem is None else {"gpu_available": mem.gpu_available, "gpu_source": mem.gpu_source,
                                            "samples": [[rel(s.t), s.rss, s.vram] for s in mem.samples]},
    }


def private_words() -> list[str]:
    words = {str(Path.home())}
    for get in (getpass.getuser, socket.gethostname):
        try:
            words.add(get())
        except Exception:  # noqa: BLE001 - no user or host name: nothing to scrub
            pass
    return sorted((w for w in words if len(w) >= 2), key=len, reverse=True)


# An absolute path (POSIX, or Windows with a drive letter) in machine-written text: kept as its last part.
_ABS_PATH = re.compile(r"(?:(?<![\w.~])/|\b[A-Za-z]:[\\/])(?:[^\s/\\'\"]+[/\\])+([^\s/\\'\"]*)")

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def scrub(text: str, words: list[str]) -> str:
    """A machine-written string (error message, system info) without paths, the author's home, user or host name."""
    text = _URL.sub("a server", text)
    text = _ABS_PATH.sub(r"\1", text)
    for w in words:
        text = re.sub(rf"(?<![\w.]){re.escape(w)}(?![\w])", "~" if w.startswith(("/", "\\")) else "…", text)
    return text


def compare_run_dict(result: Any, labels: list[str], paths: list[str], settings: list[RunSettings], prompt: str, *,
                     redact_prompts: bool = False, hashes: list[str | None] | None = None,
                     refs: list[str] | None = None, names: list[str] | None = None) -> dict[str, Any]:
    """The run file's JSON for a finished CompareResult (paths: what each slot loaded; refs: what the user
    named them by, for where they came from; hashes: file hash prefixes already computed)."""
    words = private_words()
    models = []
    for k, rec in enumerate(result.runs):
        ld = result.loaded[k] if k < len(result.loaded) else None
        path = paths[k] if k < len(paths) else None
        st = rec.stats()
        rd = _record_dict(rec, redact_prompts)
        if rd["error"]:
            rd["error"]["message"] = scrub(rd["error"]["message"], words)
        ldd = loaded_dict(ld, st.n_threads)
        if ldd:
            ldd["system_info"] = scrub(ldd["system_info"], words)
        sd = settings_to_dict(settings[k])
        sd["load"]["draft_model"] = scrub(sd["load"]["draft_model"], words)  # a path can name the user
        if redact_prompts:
            sd["prompt"]["system_prompt"] = None
        models.append({"label": labels[k],
                       "identity": model_identity(path, ld, labels[k], hash_of(path, (hashes or [None] * 8)[k]),
                                             (refs or [""] * 8)[k] or "", (names or [""] * 8)[k] or ""),
                       "settings": sd, "loaded": ldd, "run": rd, "stats": st.to_dict()})
    split = result.split
    s0 = settings[0].prompt if settings else None
    return run_envelope("compare", {
        "mode": result.mode, "threads_total": result.threads_total,
        "threads_per_model": [r.stats().n_threads for r in result.runs],
        "thread_split": split.describe() if split else "",
        "prompt": None if redact_prompts else prompt,
        "system_prompt": None if redact_prompts else (s0.system_prompt if s0 else ""),
        "raw": bool(s0 and s0.raw),
        "models": models,
    }, redact_prompts)


def conversation_run_dict(result: ConversationResult, labels: list[str], paths: list[str],
                          settings: list[RunSettings], *, redact_prompts: bool = False,
                          refs: list[str] | None = None, names: list[str] | None = None) -> dict[str, Any]:
    """The run file of a conversation: each model's last turn as its record (what replay and the
    viewer show), and every turn's figures, the turns and the replies under "conversation"."""
    from gemmacompare.engine.round_state import CompareResult

    conv = result.conversation
    last = result.rounds[-1] if result.rounds else None
    records = [side.records[-1] if side.records else RunRecord(side.label, 0.0) for side in result.models]
    rounds = CompareResult(result.mode, last.threads_total if last else 0, records, list(result.loaded),
                           list(range(len(records))), last.split if last else None)
    with_system = [replace(s, prompt=replace(s.prompt, system_prompt=conv.system, cache=result.cache))
                   for s in settings]
    n_played = max((len(side.figures) for side in result.models), default=0)
    doc = compare_run_dict(rounds, labels, paths, with_system, conv.turns[max(0, n_played - 1)],
                           redact_prompts=redact_prompts, refs=refs, names=names)
    words = private_words()
    doc["conversation"] = RunConversation(
        conv.id, result.cache, None if redact_prompts else conv.system,
        None if redact_prompts else conv.turns,
        tuple(tuple(replace(t, error=scrub(t.error, words)) for t in side.figures) for side in result.models),
        None if redact_prompts else tuple(tuple(side.replies) for side in result.models)).to_dict()
    return doc


def run_envelope(kind: str, body: dict[str, Any], redact: bool) -> dict[str, Any]:
    machine = machine_facts().to_dict()
    if machine.get("gpu") == "none":
        # NVML sees NVIDIA GPUs only; a model that ran on another (Vulkan, Metal) names its
        # device in its placement, and that device is this machine's GPU for the run.
        devices = {d for m in body.get("models") or [] for d in ((m.get("loaded") or {}).get("placement") or {})
                   .get("devices") or []}
        if devices:
            machine["gpu"] = ", ".join(sorted(devices))
    # The llama.cpp build the models ran on (worker-reported); a run of servers only has none to tell.
    builds = [ld["llama_build"] for m in body.get("models") or [] if (ld := m.get("loaded") or {}).get("llama_build")]
    machine["llama_cpp"] = builds[0] if builds else None
    left_out = [*LEFT_OUT, *([LEFT_OUT_PROMPTS] if redact else [])]
    return {"format": FORMAT, "schema": SCHEMA_VERSION, "kind": kind,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine, "left_out": left_out, **body}


def write_run_file(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Writes the JSON (gzip when the name ends in .gz) through a temporary file; returns the path."""
    path = Path(path)
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if path.name.endswith(".gz"):
        raw = gzip.compress(raw, mtime=0)  # mtime 0: no time stamp of the author's in the gzip header
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return path


# --- reading -----------------------------------------------------------------

@dataclass(frozen=True)
class RunBytes:
    """A run file's bytes, read once: `raw` as on disk (what is hashed for a repo path and sent when
    shared), `json` its JSON (decompressed when gzipped; what is checked, parsed and content-hashed)."""

    name: str
    raw: bytes
    json: bytes

    def content_hash(self) -> str:
        """sha256 of the run's JSON: a gzipped copy or a renamed one hashes the same."""
        return hashlib.sha256(self.json).hexdigest()


def _too_large(name: str) -> RunFileError:
    return RunFileError(f"{name} holds more than {MAX_FILE_BYTES // 2**20} MiB of run data, "
                        "more than any real run, so it was not opened.")


def read_run_bytes(path: str | os.PathLike[str]) -> RunBytes:
    """The file's bytes and its JSON, bounded (a gzip bomb stops at MAX_FILE_BYTES); RunFileError or OSError."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:  # gzip never shrinks JSON to more than the JSON: too large either way
        raise _too_large(path.name)
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                data = gz.read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            log.info("%s: bad gzip: %s", path, exc)
            raise RunFileError(f"{path.name} is a damaged or cut-off gzip file, so it was not opened.") from None
    else:
        data = raw
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(path.name)
    return RunBytes(path.name, raw, data)


def read_run_file(path: str | os.PathLike[str]) -> RunFile:
    """The run in a file, checked; RunFileError (one sentence) for anything we will not use, OSError as open()."""
    return parse_run_bytes(read_run_bytes(path))


def parse_run_bytes(rb: RunBytes) -> RunFile:
    """The run in bytes read by read_run_bytes, checked; RunFileError (one sentence) for anything we will not use."""
    data, name = rb.json, rb.name
    try:
        doc = load_json_bounded(data, MAX_FILE_BYTES, what=name, max_depth=16)
    except BadJSONError as exc:
        hint = " (it may be cut off)" if data.rstrip()[-1:] not in (b"}", b"") else ""
        raise RunFileError(exc.message.rstrip(".") + hint + ".") from None
    try:
        return _parse(doc, name)
    except RunFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        log.info("%s: %s", name, exc, exc_info=True)
        raise RunFileError(f"{name} does not hold a run as gemmacompare writes one (a field is missing or "
                           "of the wrong type), so it was not opened.") from None


def _check_strings(value: Any, name: str) -> None:
    """Every string bounded and free of terminal controls, every number finite and of a sane size, also in
    fields the reader does not use; the sentence names the field. Iterative (depth is already bounded)."""
    stack: list[tuple[Any, Any]] = [(value, None)]  # (value, where): where is (parent's where, key), built lazily
    while stack:
        v, where = stack.pop()
        if isinstance(v, float) and not math.isfinite(v) or isinstance(v, int) and abs(v) > 2**64:
            raise RunFileError(f"{name} was not opened: its field {_field(where)} holds a number that is infinite, "
                               "not a number, or too large for any figure of a run.")
        if isinstance(v, str):
            if len(v) > MAX_TEXT_CHARS:
                raise RunFileError(f"{name} was not opened: its field {_field(where)} has a text of {len(v):,} "
                                   "characters, more than a run holds.")
            if _CONTROL.search(v):
                raise RunFileError(f"{name} was not opened: its field {_field(where)} has control characters in its "
                                   "text (a terminal would act on them).")
        elif isinstance(v, dict):
            stack.extend((k, (where, "(a key)")) for k in v)
            stack.extend((x, (where, k)) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, (where, i)) for i, x in enumerate(v))


def _field(where: Any) -> str:
    """"models[0].run.tokens[3][5]" from the (parent, key) chain _check_strings keeps."""
    keys = []
    while where is not None:
        where, key = where
        keys.append(key)
    out = ""
    for key in reversed(keys):
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return terminal_safe(out or "(the whole file)", 120)


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise RunFileError(message)


def _parse(doc: Any, name: str) -> RunFile:
    _need(isinstance(doc, dict) and doc.get("format") == FORMAT,
          f"{name} is not a gemmacompare run file, so it was not opened.")
    schema = doc.get("schema")
    _need(isinstance(schema, int) and not isinstance(schema, bool),
          f"{name} has no schema version, so it was not opened.")
    _need(schema <= SCHEMA_VERSION, f"{name} is a run file of schema {schema}, written by a later gemmacompare "
                                    f"(this one reads up to {SCHEMA_VERSION}); update gemmacompare to open it.")
    _need(schema >= 1, f"{name} has an unknown schema version {schema}, so it was not opened.")
    kind = doc.get("kind")
    _need(kind != "sweep", f"{name} holds a context sweep, which has no replies to replay or rerun; its figures "
                           "are in the file's sweep section (run `gemmacompare sweep` again to measure them here).")
    _need(kind in ("compare", "bench"), f"{name} holds a run of an unknown kind, so it was not opened.")
    _need(doc.get("mode") in MODES, f"{name} holds a run of an unknown mode, so it was not opened.")
    try:  # the schema first: its sentence says what the field must be
        check_run_doc(doc)
    except SchemaProblem as exc:
        raise RunFileError(f"{name} was not opened: its field {terminal_safe(exc.where, 120)} {exc.what}.") from None
    _check_strings(doc, name)
    # Past the schema, every field is of its type and range: what follows only builds the run.
    models = [_model(m, k) for k, m in enumerate(doc["models"])]
    return RunFile(kind=kind, created=str(doc.get("created", "")), machine=doc.get("machine") or {},
                   mode=str(doc["mode"]), threads_total=int(doc.get("threads_total") or 0),
                   thread_split=str(doc.get("thread_split") or ""), prompt=doc.get("prompt"),
                   system_prompt=doc.get("system_prompt"), raw=bool(doc.get("raw")), models=models,
                   left_out=list(doc.get("left_out") or []), bench=doc.get("bench"), schema=schema,
                   claim=doc.get("claim"), arena=doc.get("arena"), conversation=_conversation(doc.get("conversation")))


def _conversation(conv: dict[str, Any] | None) -> RunConversation | None:
    if conv is None:
        return None
    turns, replies = conv.get("turns"), conv.get("replies")
    return RunConversation(
        str(conv["id"]), str(conv["cache"]), conv.get("system"), None if turns is None else tuple(turns),
        tuple(tuple(TurnFigures(**_known(TurnFigures, row)) for row in rows) for rows in conv["figures"]),
        None if replies is None else tuple(tuple(r) for r in replies))


def _model(m: dict[str, Any], k: int) -> RunModel:
    label = m["label"] or chr(ord("A") + k)
    ident = dict(m.get("identity") or {})
    for key in ("display_name", "file_name", "quantization", "architecture"):
        ident[key] = ident.get(key) or ""
    run = m.get("run") or {}
    record = _record(run, label)
    ld = m.get("loaded")
    loaded = _loaded(ld, ident) if ld else None
    return RunModel(label=label, identity=ident, settings=m.get("settings") or {}, loaded=loaded, record=record,
                    stats=m.get("stats") or {})


def _record(run: dict[str, Any], label: str) -> RunRecord:
    rec = RunRecord(label, 0.0)
    rid = 1
    pr = run.get("prompt")
    if pr:
        rec.add(p.PromptReady(rid, str(pr.get("template_name", "")), str(pr.get("prompt_text") or ""),
                              bool(pr.get("thinking_prefilled"))))
    pre = run.get("prefill")
    if pre:
        rec.add(p.PrefillDone(rid, int(pre["n_prompt"]), float(pre["t_start"]), float(pre["t_end"]),
                              int(pre.get("n_reused") or 0)))
    for row in run.get("tokens") or []:
        index, token_id, t, phase, thinking, answer = row
        rec.add(p.Token(rid, int(index), int(token_id), float(t), str(phase), str(thinking), str(answer)))
    fin = run.get("finished")
    if fin:
        perf = p.LlamaPerf(**_known(p.LlamaPerf, fin["perf"])) if fin.get("perf") else None
        server = p.ServerFigures(**_known(p.ServerFigures, fin["server"])) if fin.get("server") else None
        # An older file has no cache: unknown, not cold.
        cache = p.CacheUse(**_known(p.CacheUse, fin["cache"])) if fin.get("cache") else None
        rec.add(p.Finished(rid, str(fin["stop_reason"]), int(fin["n_prompt"]), int(fin["n_generated"]),
                           float(fin["t_send"]), float(fin["t_end"]), perf, int(fin.get("n_threads") or 0),
                           str(fin.get("template_name") or ""), server, cache,
                           draft=_draft(fin.get("draft"))))
    err = run.get("error")
    if err:
        rec.add(p.WorkerError(rid, str(err["message"]), "", bool(err.get("fatal"))))
    mem = run.get("memory")
    if mem:
        rec.memory = p.MemoryTrace([p.MemorySample(float(t), int(rss), None if vram is None else int(vram))
                                    for t, rss, vram in mem.get("samples") or []], bool(mem.get("gpu_available")),
                                   _gpu_source(mem.get("gpu_source")))
    return rec


def _draft(d: dict[str, Any] | None) -> p.DraftStats | None:
    """A run file's draft statistics (the schema checked each field's type and range)."""
    if not d:
        return None
    v = _known(p.DraftStats, d)
    for name in ("drafted_at", "accepted_at", "accepted_tokens"):
        v[name] = tuple(v.get(name) or ())
    if len(v["drafted_at"]) != len(v["accepted_at"]):
        raise RunFileError("The run file's draft statistics count drafted and accepted tokens for different "
                           "numbers of draft positions, so it was not opened.")
    if v["n_accepted"] > v["n_drafted"] or any(a > d for d, a in zip(v["drafted_at"], v["accepted_at"])):
        raise RunFileError("The run file's draft statistics accept more draft tokens than were drafted, "
                           "so it was not opened.")
    return p.DraftStats(**v)


def _known(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of `values` that cls has (a later writer's extra ones are left out)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _loaded(ld: dict[str, Any], ident: dict[str, Any]) -> p.Loaded:
    facts = ModelFacts(path=ident.get("file_name") or ident.get("display_name") or "",
                       file_size=int(ident.get("file_size") or 0),
                       architecture=ident.get("architecture") or "", name=ident.get("display_name") or "",
                       parameters=int(ident.get("parameters") or 0), quantization=ident.get("quantization") or "",
                       context_length=ident.get("context_length"), chat_template=None,
                       reasoning=ident.get("reasoning"), thinking_switch=bool(ident.get("thinking_switch")),
                       gguf_version=0, synthetic=bool(ident.get("synthetic")))
    placement = None
    pl = ld.get("placement")
    if pl:
        placement = Placement(str(pl["backend"]), int(pl["layers_offloaded"]), pl.get("layers_total"),
                              tuple(DeviceBuffer(str(b["kind"]), str(b["buffer"]), int(b["bytes"]))
                                    for b in pl.get("buffers") or []),
                              tuple(str(d)[:200] for d in (pl.get("devices") or [])[:8]))
    return p.Loaded(pid=0, load_seconds=float(ld.get("load_seconds") or 0.0), facts=facts, n_ctx=int(ld["n_ctx"]),
                    n_threads=int(ld.get("n_threads_loaded") or ld.get("n_threads") or 0),
                    n_gpu_layers=int(ld.get("n_gpu_layers", -1)), system_info=str(ld.get("system_info") or ""),
                    placement=placement, flash_attn=str(ld.get("flash_attn", "auto")),
                    type_k=str(ld.get("type_k", "f16")), type_v=str(ld.get("type_v", "f16")),
                    n_batch=int(ld.get("n_batch") or 0), swa_full=ld.get("swa_full") is True)


def _gpu_source(value: object) -> str:
    """A file's word for what its GPU figures measured; anything else is dropped, not shown."""
    return str(value) if value in (p.GPU_FROM_NVML, p.GPU_FROM_LLAMA) else ""


def split_of(run: RunFile) -> ThreadSplit:
    """The recorded thread split, as far as the file tells it."""
    threads = tuple(int(m.record.finished.n_threads) if m.record.finished else 0 for m in run.models)
    return ThreadSplit(run.mode, run.threads_total, threads, tuple(False for _ in threads))


__all__ = ["FORMAT", "MAX_FILE_BYTES", "SCHEMA_VERSION", "RunBytes", "RunConversation", "RunFile", "RunFileError",
           "RunModel", "compare_run_dict", "conversation_run_dict", "hash_of", "loaded_dict", "model_identity",
           "model_source", "parse_run_bytes",
           "private_words", "read_run_bytes", "read_run_file", "run_envelope", "scrub", "settings_from_dict",
           "settings_to_dict", "split_of", "write_run_file"]
