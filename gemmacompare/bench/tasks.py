"""Task suites: the built-in ones under `resources/suites/`, and users' JSONL files.

Two line formats are read, and may be mixed in one file:

- ours: {"prompt": "...", "answer": "18", "match": "number"}, with optional
  "id", "category", "choices" (shown to the model as A) B) ...); "expected" is
  accepted for "answer"; "answer" may be a list of accepted answers; "match" is
  number | exact | regex | choice and defaults to number when the answer is
  a number, else exact.
- GSM8K: {"question": "...", "answer": "...reasoning...\\n#### 18"}.

The resources folder is found by state.paths.resources_dir().
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemmacompare.bench.scoring import (
    CHOICE_LETTERS,
    MATCH_CHOICE,
    MATCH_EXACT,
    MATCH_KINDS,
    MATCH_NUMBER,
    MATCH_REGEX,
    normalize_text,
    parse_number,
    regex_problem,
)
from gemmacompare.state.paths import resources_dir

log = logging.getLogger(__name__)

SUITE_SUFFIX = ".jsonl"
# GSM8K's whole training set is 4 MB; a bigger file is not a suite (or is /dev/zero).
MAX_TASK_FILE_BYTES = 64 << 20
DEFAULT_SUITE = "reasoning"


class TaskFileError(Exception):
    """A task file we cannot use; the message is one sentence naming file and line."""


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    expected: tuple[str, ...]  # accepted answers; the first is the one shown
    match: str
    category: str = ""
    choices: tuple[str, ...] = ()

    @property
    def answer(self) -> str:
        return self.expected[0]

    def question_text(self) -> str:
        if not self.choices:
            return self.prompt
        opts = "\n".join(f"{CHOICE_LETTERS[i]}) {c}" for i, c in enumerate(self.choices))
        return f"{self.prompt}\n{opts}"


@dataclass(frozen=True)
class TaskSuite:
    name: str
    source: str  # file path, for the record
    tasks: tuple[Task, ...]

    def __len__(self) -> int:
        return len(self.tasks)

    def subset(self, limit: int | None = None, sample: int | None = None, seed: int = 0) -> "TaskSuite":
        """The first `limit` tasks, or `sample` tasks drawn at random with `seed`.

        A random sample keeps the suite's order, so the same seed always gives
        the same run and the table reads like the file.
        """
        tasks = self.tasks
        if sample is not None and sample < len(tasks):
            picked = sorted(random.Random(seed).sample(range(len(tasks)), sample))
            tasks = tuple(tasks[i] for i in picked)
        if limit is not None:
            tasks = tasks[: max(0, limit)]
        return TaskSuite(self.name, self.source, tasks)


# --- where the built-in suites are ---------------------------------------------

def suites_dir() -> Path:
    return resources_dir() / "suites"


def builtin_suites() -> list[str]:
    folder = suites_dir()
    # Conversation suites (*.chat.jsonl) sit beside the task suites; bench/conversations.py reads them.
    return sorted(p.stem for p in folder.glob(f"*{SUITE_SUFFIX}") if not p.name.endswith(".chat.jsonl")) \
        if folder.is_dir() else []


def load_suite(name_or_path: str | os.PathLike[str]) -> TaskSuite:
    """A built-in suite by name, or a JSONL file by path."""
    arg = str(name_or_path)
    path = Path(arg)
    if not path.suffix and not path.exists():
        builtin = suites_dir() / f"{arg}{SUITE_SUFFIX}"
        if not builtin.is_file():
            names = ", ".join(builtin_suites()) or "none found"
            raise TaskFileError(f"No suite named {arg!r}; built-in suites: {names}; or pass a JSONL file path.")
        path = builtin
    return load_task_file(path)


# --- reading files --------------------------------------------------------------

def load_task_file(path: str | os.PathLike[str]) -> TaskSuite:
    path = Path(path)
    name = path.name
    if not path.exists():
        raise TaskFileError(f"{name}: no such task file ({path}).")
    if path.is_dir():
        raise TaskFileError(f"{name}: is a folder, not a JSONL task file.")
    try:
        # Read, never stat, with a limit: /dev/zero or a pipe has no size to check first.
        with path.open("rb") as f:
            data = f.read(MAX_TASK_FILE_BYTES + 1)
        if len(data) > MAX_TASK_FILE_BYTES:
            raise TaskFileError(f"{name}: larger than {MAX_TASK_FILE_BYTES >> 20} MiB, so it was not read; "
                                "split it into smaller suites.")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{name}: not UTF-8 text (byte {exc.start}); save it as UTF-8 JSONL.") from None
    except OSError as exc:
        raise TaskFileError(f"{name}: cannot be read ({exc.strerror}).") from None
    tasks: list[Task] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}).") from None
        except (RecursionError, ValueError):  # brackets nested thousands deep; a number of 5,000 digits
            raise TaskFileError(f"{where}: not a task line (nested too deep or a number too long).") from None
        if not isinstance(obj, dict):
            raise TaskFileError(f"{where}: expected a JSON object like {{\"prompt\": ..., \"answer\": ...}}.")
        task = _task_from_obj(obj, where, default_id=f"{path.stem}-{len(tasks) + 1}")
        if task.id in seen:
            raise TaskFileError(f"{where}: duplicate id {task.id!r}.")
        seen.add(task.id)
        tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{name}: no tasks (the file is empty); write one JSON object per line.")
    return TaskSuite(path.stem, str(path), tuple(tasks))


def gsm8k_final_answer(solution: str) -> str | None:
    """The number after the last '####' of a GSM8K reference solution."""
    if "####" not in solution:
        return None
    tail = solution.rsplit("####", 1)[1].strip()
    value = parse_number(tail)
    return tail.replace(",", "") if value is not None else None


def _text_field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise TaskFileError(f"{where}: field {key!r} must be non-empty text.")
    return value


def _task_from_obj(obj: dict[str, Any], where: str, default_id: str) -> Task:
    task_id = str(obj.get("id", default_id))
    if "question" in obj and "prompt" not in obj:
        if "answer" not in obj:
            raise TaskFileError(f"{where}: missing field 'answer' (GSM8K lines need 'question' and 'answer').")
        question = _text_field(obj, "question", where)
        final = gsm8k_final_answer(_text_field(obj, "answer", where))
        if final is None:
            raise TaskFileError(f"{where}: GSM8K 'answer' must end with '#### <number>'.")
        return Task(task_id, question, (final,), MATCH_NUMBER, str(obj.get("category", "gsm8k")))
    if "prompt" not in obj:
        raise TaskFileError(f"{where}: missing field 'prompt' (or 'question' for GSM8K lines).")
    key = "answer" if "answer" in obj else "expected" if "expected" in obj else None
    if key is None:
        raise TaskFileError(f"{where}: missing field 'answer'.")
    prompt = _text_field(obj, "prompt", where)
    raw = obj[key]
    expected = tuple(_text_field({key: v}, key, where) for v in raw) if isinstance(raw, list) else (
        _text_field(obj, key, where),
    )
    if not expected:
        raise TaskFileError(f"{where}: field {key!r} is an empty list.")
    default_match = MATCH_NUMBER if all(parse_number(e) is not None for e in expected) else MATCH_EXACT
    match = obj.get("match", default_match)
    if match not in MATCH_KINDS:
        raise TaskFileError(f"{where}: 'match' must be one of {', '.join(MATCH_KINDS)}, not {match!r}.")
    choices = obj.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise TaskFileError(f"{where}: 'choices' must be a list of texts.")
    if len(choices) > len(CHOICE_LETTERS):
        raise TaskFileError(
            f"{where}: at most {len(CHOICE_LETTERS)} 'choices' (A-{CHOICE_LETTERS[-1]}) are supported, "
            f"not {len(choices)}."
        )
    expected = _checked_answers(expected, match, choices, where)
    return Task(task_id, prompt, expected, match, str(obj.get("category", "")), tuple(choices))


def _checked_answers(expected: tuple[str, ...], match: str, choices: list[str], where: str) -> tuple[str, ...]:
    """The accepted answers, checked now so that scoring can never fail mid-benchmark.

    A 'choice' answer may be written as the letter or as the option's text; it
    is stored as the letter, which is what the scorer reads out of an answer.
    """
    if match == MATCH_NUMBER:
        for e in expected:
            if parse_number(e) is None:
                raise TaskFileError(f"{where}: 'match' is number but the answer {e!r} is not a number.")
    elif match == MATCH_REGEX:
        for e in expected:
            problem = regex_problem(e)
            if problem is not None:
                raise TaskFileError(f"{where}: the regex answer {e!r} does not compile ({problem}).")
    elif match == MATCH_EXACT:
        for e in expected:
            if not normalize_text(e):
                raise TaskFileError(f"{where}: the answer {e!r} has no letters or digits, so nothing can match it.")
    elif match == MATCH_CHOICE:
        letters = CHOICE_LETTERS[: len(choices)] if choices else CHOICE_LETTERS
        by_text = {c.strip().casefold(): letters[i] for i, c in enumerate(choices)}
        out = []
        for e in expected:
            key = e.strip()
            if len(key) == 1 and key.upper() in letters:
                out.append(key.upper())
            elif key.casefold() in by_text:
                out.append(by_text[key.casefold()])
            else:
                allowed = f"A-{letters[-1]}" if len(letters) > 1 else "A"
                opts = " or one of the choices' texts" if choices else ""
                raise TaskFileError(f"{where}: the 'choice' answer {e!r} is not a letter {allowed}{opts}.")
        expected = tuple(dict.fromkeys(out))
    return expected
