"""Server-sent events, parsed from raw bytes as they arrive.

Each event carries the monotonic time at which the bytes that completed it
were read from the socket, so a remote model's token timing is taken where the
text arrives, not after any buffering of ours. Comment lines (pings) are
reported too, as events with `comment=True`, so a caller can tell a live but
silent server from a dead one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

# A single event this large is not a chat chunk; something else is talking.
MAX_EVENT_BYTES = 4 << 20


class SSEError(Exception):
    """The byte stream is not server-sent events."""


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = ""
    t: float = 0.0
    comment: bool = False


class SSEParser:
    """Feed bytes, get complete events (the spec's line rules: LF, CRLF or CR)."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._data_size = 0  # characters of the event's data: lines: many short ones make one long event too
        self._event = ""

    def feed(self, chunk: bytes, t: float) -> list[SSEEvent]:
        self._buf += chunk
        if len(self._buf) > MAX_EVENT_BYTES:
            raise SSEError("a line longer than 4 MiB")
        out: list[SSEEvent] = []
        buf, pos = self._buf, 0
        if b"\r" not in buf:  # LF line ends, as every server we know sends: one split
            *lines, self._buf = buf.split(b"\n")
            for raw in lines:
                ev = self._line(raw.decode("utf-8", errors="replace"), t)
                if ev is not None:
                    out.append(ev)
            return out
        # Lines are read by position and the buffer cut once per feed: cutting it per line
        # copied the rest each time, quadratic in a read full of short lines.
        while True:
            cut = _line_end(buf, pos)
            if cut is None:
                break
            end, width = cut
            raw, pos = buf[pos:end], end + width
            ev = self._line(raw.decode("utf-8", errors="replace"), t)
            if ev is not None:
                out.append(ev)
        self._buf = buf[pos:]
        return out

    def finish(self, t: float) -> list[SSEEvent]:
        """End of stream: an event without its blank line is dropped, as the spec says."""
        self._buf = b""
        self._data, self._data_size, self._event = [], 0, ""
        return []

    def _line(self, line: str, t: float) -> SSEEvent | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            ev = SSEEvent("\n".join(self._data), self._event, t)
            self._data, self._data_size, self._event = [], 0, ""
            return ev
        if line.startswith(":"):
            return SSEEvent(line[1:].strip(), "", t, comment=True)
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_size += len(line) + 1  # the line as sent: prefix and all
            if self._data_size > MAX_EVENT_BYTES:
                raise SSEError("an event longer than 4 MiB")
            self._data.append(value)
        elif name == "event":
            self._event = value[:256]  # a name, not a payload
        # id: and retry: do not matter for one request
        return None


def _line_end(buf: bytes, start: int = 0) -> tuple[int, int] | None:
    lf, cr = buf.find(b"\n", start), buf.find(b"\r", start)
    if cr >= 0 and (lf < 0 or cr < lf):
        if cr + 1 == len(buf):
            return None  # CR last: wait for the next read to tell CR from CRLF
        return (cr, 2) if buf[cr + 1 : cr + 2] == b"\n" else (cr, 1)
    if lf >= 0:
        return lf, 1
    return None


def iter_events(chunks: Iterable[bytes], clock: Callable[[], float] = time.monotonic) -> Iterator[SSEEvent]:
    """Events from an iterable of byte chunks, each stamped when its chunk arrived."""
    parser = SSEParser()
    for chunk in chunks:
        t = clock()
        yield from parser.feed(chunk, t)
    parser.finish(clock())
