"""Conversation suites: multi-turn chats to measure the second turn, not only the first.

One conversation per line of a JSONL file:

    {"id": "trip", "system": "Answer briefly.", "turns": ["Plan a day in Rome.", "And the evening?"]}

`id` names the conversation (unique in the file), `system` is optional, `turns`
are the user's messages in order. The model's own replies are not in the file:
each model answers greedily and its reply is kept in its history, so every turn
after the first sends the conversation so far (as a chat app does) and the
model's cache can be reused.

The reader is strict (an unknown field is refused: a misspelt "system" would
silently measure another conversation), bounded in size, and says what is wrong
in one sentence naming the file, the line and the field. Built-in conversation
suites live beside the task suites (`resources/suites/*.chat.jsonl`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemmacompare.engine.conversation import Conversation
from gemmacompare.state.paths import resources_dir

CONVERSATION_SUFFIX = ".chat.jsonl"
MAX_CONVERSATION_FILE_BYTES = 4 << 20
MAX_CONVERSATIONS = 1000
MAX_TURNS = 64
MAX_TURN_CHARS = 64_000  # about 16k tokens: more than one turn of any chat we measure
MAX_ID_CHARS = 100
FIELDS = ("id", "system", "turns")


class ConversationFileError(Exception):
    """A conversation file we cannot use; the message is one sentence naming file, line and field."""

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ConversationSuite:
    name: str
    source: str
    conversations: tuple[Conversation, ...]

    def __len__(self) -> int:
        return len(self.conversations)

    @property
    def n_turns(self) -> int:
        return sum(len(c.turns) for c in self.conversations)

    def subset(self, limit: int | None = None) -> "ConversationSuite":
        return ConversationSuite(self.name, self.source, self.conversations[: max(0, limit)] if limit else
                                 self.conversations)


def suites_folder() -> Path:
    return resources_dir() / "suites"


def builtin_conversation_suites() -> list[str]:
    folder = suites_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(CONVERSATION_SUFFIX)] for p in folder.glob(f"*{CONVERSATION_SUFFIX}"))


def builtin_conversation_path(name: str) -> Path | None:
    path = suites_folder() / f"{name}{CONVERSATION_SUFFIX}"
    return path if path.is_file() else None


def is_conversation_suite(name_or_path: str | os.PathLike[str]) -> bool:
    """A built-in conversation suite's name, or a file whose first line is a conversation
    (has "turns"); task suites and anything unreadable are not (their own reader says why)."""
    arg = str(name_or_path)
    if builtin_conversation_path(arg) is not None:
        return True
    if arg.endswith(CONVERSATION_SUFFIX):
        return True
    try:
        with open(arg, "rb") as f:
            head = f.read(MAX_TURN_CHARS * 4 + 4096)
    except (OSError, ValueError):
        return False
    for line in head.decode("utf-8-sig", errors="replace").splitlines():
        if line.strip():
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                return False
            return isinstance(obj, dict) and "turns" in obj
    return False


def load_conversations(name_or_path: str | os.PathLike[str]) -> ConversationSuite:
    """A built-in conversation suite by name, or a JSONL file by path. Raises ConversationFileError."""
    builtin = builtin_conversation_path(str(name_or_path))
    path = builtin or Path(name_or_path)
    name = _shown(path.name)
    try:
        # Read, never stat, with a limit: /dev/zero or a pipe has no size to check first.
        with open(path, "rb") as f:
            data = f.read(MAX_CONVERSATION_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConversationFileError(f"{name}: no such conversation file.") from None
    except IsADirectoryError:
        raise ConversationFileError(f"{name}: is a folder, not a JSONL conversation file.") from None
    except OSError as exc:
        raise ConversationFileError(f"{name}: cannot be read ({exc.strerror or 'error'}).") from None
    if len(data) > MAX_CONVERSATION_FILE_BYTES:
        raise ConversationFileError(f"{name}: larger than {MAX_CONVERSATION_FILE_BYTES >> 20} MiB, so it was not "
                                    "read; split it into smaller files.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConversationFileError(f"{name}: not UTF-8 text (byte {exc.start}); save it as UTF-8 JSONL.") from None
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {lineno}"
        if len(conversations) >= MAX_CONVERSATIONS:
            raise ConversationFileError(f"{where}: more than {MAX_CONVERSATIONS} conversations; split the file.")
        conv = parse_conversation_line(line, where)
        if conv.id in seen:
            raise ConversationFileError(f"{where}: field 'id' repeats {conv.id!r}; each conversation needs its own.")
        seen.add(conv.id)
        conversations.append(conv)
    if not conversations:
        raise ConversationFileError(f"{name}: no conversations (the file is empty); write one JSON object per "
                                    "line with 'id' and 'turns'.")
    suite_name = path.name[: -len(CONVERSATION_SUFFIX)] if path.name.endswith(CONVERSATION_SUFFIX) else path.stem
    return ConversationSuite(suite_name, str(path), tuple(conversations))


def parse_conversation_line(line: str, where: str) -> Conversation:
    """One line of a conversation file; `where` names file and line in the error."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConversationFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}).") from None
    except (RecursionError, ValueError):  # brackets nested thousands deep; a number of 5,000 digits
        raise ConversationFileError(f"{where}: not a conversation (nested too deep or a number too long).") from None
    return conversation_from_obj(obj, where)


def conversation_from_obj(obj: Any, where: str) -> Conversation:
    if not isinstance(obj, dict):
        raise ConversationFileError(f"{where}: expected a JSON object like "
                                    "{\"id\": \"trip\", \"turns\": [\"...\", \"...\"]}.")
    unknown = [k for k in obj if k not in FIELDS]
    if unknown:
        raise ConversationFileError(f"{where}: unknown field {_shown(unknown[0], 40)!r}; a conversation has "
                                    f"{', '.join(FIELDS)}.")
    if "id" not in obj:
        raise ConversationFileError(f"{where}: missing field 'id' (a short name for the conversation).")
    conv_id = obj["id"]
    if not isinstance(conv_id, str) or not conv_id.strip():
        raise ConversationFileError(f"{where}: field 'id' must be non-empty text.")
    if len(conv_id) > MAX_ID_CHARS or not conv_id.isprintable():
        raise ConversationFileError(f"{where}: field 'id' must be printable text of at most {MAX_ID_CHARS} "
                                    "characters.")
    system = obj.get("system", "")
    if not isinstance(system, str):
        raise ConversationFileError(f"{where}: field 'system' must be text.")
    _check_text(system, f"{where}: field 'system'")
    if "turns" not in obj:
        raise ConversationFileError(f"{where}: missing field 'turns' (the user's messages, in order).")
    turns = obj["turns"]
    if not isinstance(turns, list) or not turns:
        raise ConversationFileError(f"{where}: field 'turns' must be a non-empty list of texts.")
    if len(turns) > MAX_TURNS:
        raise ConversationFileError(f"{where}: field 'turns' has {len(turns)} turns; at most {MAX_TURNS}.")
    for k, turn in enumerate(turns, start=1):
        if not isinstance(turn, str) or not turn.strip():
            raise ConversationFileError(f"{where}: field 'turns' item {k} must be non-empty text.")
        _check_text(turn, f"{where}: field 'turns' item {k}")
    return Conversation(conv_id, tuple(turns), system)


def _check_text(text: str, what: str) -> None:
    if len(text) > MAX_TURN_CHARS:
        raise ConversationFileError(f"{what} is longer than {MAX_TURN_CHARS:,} characters.")
    try:
        text.encode("utf-8")  # a lone surrogate (\ud800 in JSON) cannot be tokenized
    except UnicodeEncodeError as exc:
        raise ConversationFileError(f"{what} has a lone surrogate at character {exc.start}, not text.") from None


def _shown(text: str, limit: int = 120) -> str:
    """A file name or key as shown in a message: printable, bounded."""
    safe = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return safe + ("…" if len(text) > limit else "")


__all__ = ["Conversation", "ConversationFileError", "ConversationSuite", "builtin_conversation_suites",
           "is_conversation_suite", "load_conversations", "parse_conversation_line"]
