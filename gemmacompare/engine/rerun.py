"""A saved run redone on this machine: its models found here, run with the recorded
settings, and the figures set beside the recorded ones.

The one implementation behind `gemmacompare rerun` and the window's *Rerun on
this machine*: each model is found by its file hash, then by name in the model
library (never downloaded: `ModelMissing` says when the file records a Hub repo,
and the door asks the user), run with the recorded settings but this machine's
threads (and `RerunPlan.notes` says so), after one short warm-up, repeated N
times for intervals.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from gemmacompare.engine.conversation import Conversation, ConversationResult, TurnFigures, play_conversation
from gemmacompare.engine.machine import file_hash_prefix
from gemmacompare.engine.metrics import RunStats
from gemmacompare.engine.modes import default_threads
from gemmacompare.engine.report.intervals import positive_interval
from gemmacompare.engine.report.speed_summary import busy_sentence
from gemmacompare.engine.run_file import (
    SUFFIX,
    RunFile,
    RunModel,
    compare_run_dict,
    conversation_run_dict,
    write_run_file,
)
from gemmacompare.engine.run_settings import RunSettings, command_for
from gemmacompare.engine.session import CompareSession, SessionJob
from gemmacompare.engine.settings_check import SettingRefused, check_settings, refusal
from gemmacompare.models.hub import is_repo_id
from gemmacompare.state.settings_table import SettingError
from gemmacompare.state.untrusted import terminal_safe

log = logging.getLogger(__name__)


class RerunRefused(Exception):
    """A run that cannot be rerun here; `message` is one sentence and nothing was run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelMissing(RerunRefused):
    """A model of the run is not on this machine; `hub_repo` when the file says where it came from."""

    def __init__(self, message: str, label: str, hub_repo: str = "", hub_file: str = "") -> None:
        super().__init__(message)
        self.label = label
        self.hub_repo = hub_repo
        self.hub_file = hub_file


class RerunFailed(Exception):
    """A model failed to load or to answer during the rerun; `message` is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _safe(text: object, max_len: int = 200) -> str:
    return terminal_safe(text, max_len)


# --- finding the models -------------------------------------------------------------

def find_model(m: RunModel, candidates: list[Path], entries: list[Any]) -> tuple[Path | None, str]:
    """The model's file here (by hash, then by name) and how it was found, or None and why not."""
    ident = m.identity
    want_hash, size = ident.get("file_hash"), ident.get("file_size")
    if want_hash:
        for path in candidates:
            try:
                if (size is None or path.stat().st_size == size) and file_hash_prefix(path) == want_hash:
                    return path, "by its file hash"
            except OSError:
                continue
    from gemmacompare.models.library import find_entries

    for key in (ident.get("file_name"), ident.get("display_name")):
        if not key:
            continue
        found = find_entries(str(Path(str(key)).stem) if key == ident.get("file_name") else str(key), entries)
        if len(found) == 1:
            return Path(found[0].path), "by name (its hash differs: another file of that name)"
    return None, (f"{m.label} ({m.display_name}, {ident.get('file_name') or 'no file'}) is not on this machine, "
                  f"by hash or by name")


def local_candidates(extra: Sequence[Path] = ()) -> tuple[list[Path], list[Any]]:
    """Every model file this machine knows (the demo models, the library, `extra`), and the library's entries."""
    from gemmacompare.models.demo import gemma3_path, smollm2_path
    from gemmacompare.models.library import scan_library

    entries = list(scan_library().entries)
    paths = [Path(x) for x in extra] + [x for x in (smollm2_path(), gemma3_path()) if x is not None]
    paths += [Path(e.path) for e in entries]
    seen: set[str] = set()
    unique = []
    for x in paths:
        if str(x) not in seen:
            seen.add(str(x))
            unique.append(x)
    return unique, entries


@dataclass
class RerunPlan:
    """What a rerun will run: a file per model, the settings, this machine's threads, and what was adapted."""

    paths: list[Path]
    found: list[str]  # per model: "[A] found NAME by its file hash"
    settings: list[RunSettings]
    threads_total: int
    notes: list[str]  # the threads adapted to this machine, said in full


def check_rerunnable(run: RunFile) -> None:
    """RerunRefused with one sentence when the file's run cannot be redone here."""
    if run.kind != "compare":
        raise RerunRefused("Only a compare run can be rerun; a benchmark is rerun with `gemmacompare bench`.")
    if run.redacted:
        raise RerunRefused("This run file leaves its prompts out, so it can be replayed but not rerun.")
    if any((m.identity.get("source") or {}).get("kind", "").endswith("server") for m in run.models):
        raise RerunRefused("A model of this run ran on a server; a rerun runs local model files only.")


def plan_rerun(run: RunFile, extra: Sequence[Path] = (), threads_here: int | None = None) -> RerunPlan:
    """Each model found here and the settings to run it with; RerunRefused (ModelMissing) otherwise."""
    check_rerunnable(run)
    here = threads_here or default_threads()
    settings = []
    notes = []
    for k, m in enumerate(run.models):
        # The file's settings pass the command line's checks (before any model is looked for); what had
        # to change to run here is said.
        try:
            s, changed = check_settings(run.run_settings(k), here, f"[{_safe(m.label, 40)}] ")
        except SettingError as exc:  # the settings table's own check of each value, as the file is read
            raise RerunRefused(refusal(f"[{_safe(m.label, 40)}] ", str(exc))) from None
        except SettingRefused as exc:
            raise RerunRefused(exc.message) from None
        notes.extend(changed)
        settings.append(s)
    candidates, entries = local_candidates(extra)
    paths: list[Path] = []
    found: list[str] = []
    for m in run.models:
        path, how = find_model(m, candidates, entries)
        if path is None:
            src = m.identity.get("source") or {}
            repo = str(src.get("hub_repo") or "")
            # A file's repo is offered for download only when it is a repo id (not a shell command, not a path).
            raise ModelMissing(how, m.label, repo if is_repo_id(repo) else "", str(src.get("hub_file") or ""))
        found.append(_safe(f"[{m.label}] found {path.name} {how}", 400))
        paths.append(path)
    for k, m in enumerate(run.models):
        settings[k] = _draft_here(settings[k], candidates, m.label, found)
    notes.append(f"threads: recorded {run.threads_total} in all ({_safe(run.thread_split, 200)}); here {here} "
                 f"(this machine's default), split by {run.mode} mode as recorded")
    return RerunPlan(paths, found, settings, here, notes)


def _draft_here(s: RunSettings, candidates: list[Path], label: str, found: list[str]) -> RunSettings:
    """A speculating model's draft file on this machine, by the file name the run file keeps
    (run files keep no paths); RerunRefused with one sentence when it is not here."""
    if s.load.speculation != "draft" or not s.load.draft_model:
        return s
    want = Path(s.load.draft_model).name
    path = next((c for c in candidates if c.name == want), None)
    if path is None:
        raise RerunRefused(f"[{_safe(label, 40)}] drafted with {_safe(want, 200)}, which is not on this machine; "
                           "add its folder to the library or rerun without speculation.")
    found.append(_safe(f"[{label}] found its draft model {path.name} by name", 400))
    return replace(s, load=replace(s.load, draft_model=str(path)))


# --- running ------------------------------------------------------------------------

@dataclass
class Measured:
    runs: list[list[RunStats]] = field(default_factory=list)  # [repetition][model]
    answers: list[list[str]] = field(default_factory=list)
    stopped: bool = False  # the user stopped it: the repetitions done so far
    # A conversation's turns, [repetition][model][turn] (runs and answers then hold its last turn).
    turns: list[list[list[TurnFigures]]] = field(default_factory=list)
    replies: list[list[list[str]]] = field(default_factory=list)
    # Each repetition's CompareResult (a conversation's: its ConversationResult), for run files of it.
    results: list[Any] = field(default_factory=list)


Progress = Callable[[str, int, int], None]  # message, repetitions done, repetitions in all


class RerunJob(SessionJob):
    """Runs a plan N times in a session of its own; `stop()` from any thread ends it at once."""

    def __init__(self, run: RunFile, plan: RerunPlan, runs: int = 1) -> None:
        super().__init__()
        if runs < 1:
            raise ValueError("a rerun needs at least one repetition")
        self.run_file = run
        self.plan = plan
        self.runs = runs

    def run(self, on_progress: Progress | None = None) -> Measured:
        """Blocking; RerunFailed with one sentence when a model fails to load or to answer."""
        def say(message: str, done: int) -> None:
            if on_progress is not None:
                on_progress(message, done, self.runs)

        measured = Measured()
        with self.own_session(self.run_file.labels) as session:
            self._rounds(session, measured, say)
        measured.stopped = self.stopped
        return measured

    def _rounds(self, session: CompareSession, measured: Measured, say: Callable[[str, int], None]) -> None:
        run, plan = self.run_file, self.plan
        labels = run.labels
        say(f"loading {len(plan.paths)} models", 0)
        errors = session.load([str(x) for x in plan.paths], [s.load for s in plan.settings])
        for i, err in enumerate(errors):
            if err is not None:
                raise RerunFailed(f"[{labels[i]}] {err.message}")
        if run.conversation is not None:
            self._conversation_rounds(session, measured, say)
            return
        prompt = run.prompt or ""
        commands = {i: command_for(s, (), prompt) for i, s in enumerate(plan.settings)}
        # One short warm-up first, as `claim` does: the first run after loading reads the weights
        # from disk, which would put one slow repetition into every interval.
        warm = {i: command_for(s, (), prompt, max_tokens=4) for i, s in enumerate(plan.settings)}
        result = session.start(warm, mode=run.mode, threads_total=plan.threads_total)
        assert result.split is not None  # the session splits the threads as it starts a round
        say(_safe(result.split.describe(), 300), 0)
        say("one short warm-up run (not measured)", 0)
        session.wait()
        for rep in range(self.runs):
            if self.stopped:
                return
            say(f"run {rep + 1}/{self.runs}...", rep)
            result = session.run(commands, mode=run.mode, threads_total=plan.threads_total)
            if self.stopped or result.user_stopped:
                return
            bad = [(labels[k], r.error.message) for k, r in enumerate(result.runs) if r.error]
            if bad:
                raise RerunFailed("; ".join(f"[{label}] {msg}" for label, msg in bad))
            measured.runs.append([r.stats() for r in result.runs])
            measured.answers.append([r.answer for r in result.runs])
            measured.results.append(result)
            say(f"run {rep + 1}/{self.runs} done", rep + 1)

    def _conversation_rounds(self, session: CompareSession, measured: Measured,
                             say: Callable[[str, int], None]) -> None:
        """The recorded conversation replayed turn by turn, as often as asked: each turn's history
        holds the recorded replies, so every turn's prompt is the one that was measured there."""
        run, plan = self.run_file, self.plan
        conv = run.conversation
        assert conv is not None and conv.turns is not None  # a redacted file is refused before
        labels = run.labels
        conversation = Conversation(conv.id, conv.turns[:max(len(rows) for rows in conv.figures)], conv.system or "")
        say("one short warm-up turn (not measured)", 0)
        play_conversation(session, plan.settings, Conversation(conv.id, conversation.turns[:1], conversation.system),
                          conv.cache, run.mode, plan.threads_total, stopped=lambda: self.stopped)
        for rep in range(self.runs):
            if self.stopped:
                return
            say(f"run {rep + 1}/{self.runs}: {len(conversation.turns)} turns, cache {conv.cache}...", rep)
            result = play_conversation(session, plan.settings, conversation, conv.cache, run.mode, plan.threads_total,
                                       stopped=lambda: self.stopped, replies=conv.replies)
            if self.stopped or result.stopped:
                return
            bad = [(labels[k], t.error) for k, side in enumerate(result.models) for t in side.figures if t.error]
            if bad:
                raise RerunFailed("; ".join(f"[{label}] {msg}" for label, msg in bad[:4]))
            measured.turns.append([list(side.figures) for side in result.models])
            measured.replies.append([[r.answer for r in side.records] for side in result.models])
            measured.runs.append([side.records[-1].stats() for side in result.models])
            measured.answers.append([side.records[-1].answer for side in result.models])
            measured.results.append(result)
            say(f"run {rep + 1}/{self.runs} done", rep + 1)


# --- this machine's runs as run files --------------------------------------------------

def save_rerun_files(run: RunFile, plan: RerunPlan, measured: Measured, folder: Path, stem: str) -> list[Path]:
    """Each repetition measured here as a run file of its own in `folder` (a gallery groups them into this
    machine's row, with an interval); the models keep the names the file gave them. OSError as open()."""
    names = [m.display_name for m in run.models]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "run"
    paths = []
    for k, result in enumerate(measured.results, start=1):
        if isinstance(result, ConversationResult):  # a conversation's run file holds every turn
            doc = conversation_run_dict(result, run.labels, [str(x) for x in plan.paths], plan.settings, names=names)
        else:
            doc = compare_run_dict(result, run.labels, [str(x) for x in plan.paths], plan.settings,
                                   run.prompt or "", names=names)
        paths.append(write_run_file(folder / f"{safe_stem}-here-{stamp}-{k}{SUFFIX}", doc))
    return paths


# --- the report -----------------------------------------------------------------------

# (row name, RunStats field, scale, format)
FIGURES = (("ms/token", "ms_per_token", 1.0, "{:.1f}"), ("TTFT s", "ttft_s", 1.0, "{:.3f}"),
           ("time to answer s", "time_to_answer_s", 1.0, "{:.3f}"), ("peak RSS MiB", "peak_rss", 1 / 2**20, "{:.0f}"),
           ("tokens", "n_tokens", 1.0, "{:.0f}"))


def format_interval(values: list[float], form: str) -> str:
    """"41.2 [39.0, 43.4]": the (geometric) mean, and its 95% interval when there are repetitions; the
    figures are positive, so the interval is taken on the log scale and never reaches zero."""
    if not values:
        return "-"
    m, lo, hi = positive_interval(values)
    if lo is None or hi is None or form.format(lo) == form.format(hi):
        return form.format(m)
    return form.format(m) + f" [{form.format(lo)}, {form.format(hi)}]"


def rerun_report(run: RunFile, measured: Measured) -> dict[str, Any]:
    """Recorded vs measured per model, the ratios between models, and whether greedy answers agree.

    `table` is rows of strings (a header, then a row per figure: "there" and "here" per model);
    `notes` one sentence each; the rest is for --json.
    """
    labels = [_safe(x, 40) for x in run.labels]
    recorded = [m.record.stats() for m in run.models]
    header = ["figure"] + [f"{x} {side}" for x in labels for side in ("there", "here")]
    rows = [header]
    models_json: list[dict[str, Any]] = []
    for m in run.models:
        models_json.append({"label": m.label, "display_name": m.display_name, "recorded": {}, "measured": {}})
    for name, key, scale, form in FIGURES:
        row = [name]
        for k in range(len(run.models)):
            rv = getattr(recorded[k], key)
            hv = [getattr(rep[k], key) * scale for rep in measured.runs if getattr(rep[k], key) is not None]
            row += [form.format(rv * scale) if rv is not None else "-", format_interval(hv, form)]
            models_json[k]["recorded"][key] = rv
            models_json[k]["measured"][key] = hv
        rows.append(row)
    notes: list[str] = []
    ratios = []
    base = recorded[0].ms_per_token
    for k in range(1, len(run.models)):
        rec_k = recorded[k].ms_per_token
        there = rec_k / base if base and rec_k else None
        per_rep = [a / b for rep in measured.runs
                   if (a := rep[k].ms_per_token) and (b := rep[0].ms_per_token)]
        here = positive_interval(per_rep) if per_rep else None  # a ratio's interval, on the log scale
        there_s = f"{there:.2f}" if there else "-"
        if here is None:
            here_s = "-"
        elif here[1] is not None and here[2] is not None:
            here_s = f"{here[0]:.2f} (95% interval {here[1]:.2f}-{here[2]:.2f}, {len(per_rep)} runs)"
        else:
            here_s = f"{here[0]:.2f} (one run; more runs give an interval)"
        inside = ""
        if there and here and here[1] is not None and here[2] is not None:
            inside = "; the recorded ratio lies inside this interval" if here[1] <= there <= here[2] else \
                "; the recorded ratio lies outside this interval"
        notes.append(f"ms/token of {labels[k]} over {labels[0]}: there {there_s}, here {here_s}{inside}.")
        ratios.append({"model": run.labels[k], "over": run.labels[0], "there": there, "here": per_rep})
    busy = [said for rep in measured.runs if (said := busy_sentence(labels, rep))]
    if busy:  # a busy machine widens the intervals: say why rather than let the figures mislead
        notes.append(f"Here: {busy[0]} ({len(busy)} of {len(measured.runs)} repetitions).")
    answers_json = []
    for k, m in enumerate(run.models):
        greedy = float(m.settings.get("sampling", {}).get("temperature", 1.0) or 0.0) == 0.0
        here_answers = [rep[k] for rep in measured.answers]
        same = [a == m.record.answer for a in here_answers]
        answers_json.append({"label": m.label, "greedy": greedy, "identical": same})
        if not greedy or not here_answers:
            continue
        if all(same):
            notes.append(f"{labels[k]}: the greedy answer is identical to the recorded one.")
        else:
            other = here_answers[same.index(False)]
            first = next(i for i, (a, b) in enumerate(zip(other + "\0", m.record.answer + "\1")) if a != b)
            notes.append(f"{labels[k]}: the greedy answer differs from the recorded one from character {first} on "
                         f"(another llama.cpp build, CPU kernels or batch split gives other greedy tokens).")
    report = {"file": run.kind, "labels": run.labels, "runs": len(measured.runs), "models": models_json,
              "ratios": ratios, "answers": answers_json, "notes": notes, "table": rows}
    if run.conversation is not None:
        report.update(conversation_report(run, measured))
        notes.insert(0, "A conversation: the turn table sets every turn beside its recorded one; the other figures are "
                        "its last turn's.")
    return report


TURN_FIGURES = (("prompt", "n_prompt", "{:.0f}"), ("reused", "n_reused", "{:.0f}"), ("TTFT s", "ttft_s", "{:.3f}"),
                ("ms/token", "ms_per_token", "{:.1f}"))


def conversation_report(run: RunFile, measured: Measured) -> dict[str, Any]:
    """A recorded conversation beside its rerun, turn by turn: prompt and reused tokens (which
    should agree: the same prompts, the same cache policy), time to first token and ms/token."""
    conv = run.conversation
    assert conv is not None
    labels = [_safe(x, 40) for x in run.labels]
    header = ["turn", "model"] + [f"{name} {side}" for name, _, _ in TURN_FIGURES for side in ("there", "here")]
    rows = [header]
    turns_json: list[dict[str, Any]] = []
    notes: list[str] = []
    for k, recorded in enumerate(conv.figures):
        for t, there in enumerate(recorded):
            here = [rep[k][t] for rep in measured.turns if k < len(rep) and t < len(rep[k])]
            row = [str(there.turn), labels[k]]
            entry: dict[str, Any] = {"turn": there.turn, "label": run.labels[k], "recorded": there.to_dict(),
                                     "measured": [h.to_dict() for h in here]}
            for _, key, form in TURN_FIGURES:
                rv = getattr(there, key)
                hv = [float(v) for h in here if (v := getattr(h, key)) is not None]
                row += [form.format(rv) if rv is not None else "-",
                        format_interval(hv, form) if key in ("ttft_s", "ms_per_token") else
                        "/".join(dict.fromkeys(form.format(v) for v in hv)) or "-"]
            rows.append(row)
            turns_json.append(entry)
            if here and any(h.n_prompt != there.n_prompt for h in here):
                notes.append(f"{labels[k]} turn {there.turn}: the prompt here has {here[0].n_prompt} tokens, there "
                             f"{there.n_prompt} (another chat template or tokenizer renders the same turns).")
            elif here and any(h.n_reused != there.n_reused for h in here):
                notes.append(f"{labels[k]} turn {there.turn}: reused {here[0].n_reused} here, {there.n_reused} there "
                             "(the cache here held other reply tokens: greedy replies differ between builds).")
    if conv.replies is not None:
        for k, recorded_replies in enumerate(conv.replies):
            same = [rep[k][: len(recorded_replies)] == list(recorded_replies)
                    for rep in measured.replies if k < len(rep)]
            if same and all(same):
                notes.append(f"{labels[k]}: every turn's greedy reply is identical to the recorded one.")
            elif same:
                notes.append(f"{labels[k]}: some turns' greedy replies differ from the recorded ones (another "
                             "llama.cpp build, CPU kernels or batch split gives other greedy tokens); the recorded "
                             "replies were kept in the history, so every turn's prompt is the recorded one.")
    return {"turn_table": rows, "turn_notes": notes, "turns": turns_json}


__all__ = ["FIGURES", "Measured", "ModelMissing", "RerunFailed", "RerunJob", "RerunPlan", "RerunRefused",
           "check_rerunnable", "conversation_report", "find_model", "format_interval", "local_candidates",
           "plan_rerun", "rerun_report", "save_rerun_files"]
