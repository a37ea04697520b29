"""Chat history: one JSON-lines file per chat, appended as things happen.

A line is written when the user sends and when a reply finishes, so a crash
loses at most the reply in progress.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemmacompare.state.paths import app_dirs, private_dir, private_file
from gemmacompare.state.safe_json import BadJSONError, load_json_bounded

MAX_LINE_BYTES = 64 << 20  # one message and its answer; a longer line is damaged

log = logging.getLogger(__name__)


def chats_dir() -> Path:
    return app_dirs().data / "chats"


@dataclass
class ChatLog:
    path: Path

    @classmethod
    def new(cls) -> "ChatLog":
        folder = private_dir(chats_dir())
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.jsonl"
        return cls(folder / name)

    def append(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **record}
        try:
            private_file(self.path)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
        except OSError as exc:  # a full disk must not take a running chat down
            log.error("could not save chat history to %s: %s", self.path, exc)

    def read(self) -> list[Any]:
        if not self.path.exists():
            return []
        out: list[Any] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(load_json_bounded(line.encode("utf-8"), MAX_LINE_BYTES, what="a chat history line"))
            except BadJSONError:
                continue  # a line cut by a crash (or damaged); the rest is still good
        return out

