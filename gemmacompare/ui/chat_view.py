"""A pane's conversation: user turns and streaming replies with thinking apart.

Text is only ever appended. Finished Markdown blocks (up to the last blank line
outside a code fence) are inserted once with insertMarkdown; the unfinished
tail is plain text that is replaced on the next batch, so a long answer costs
the same per batch at its end as at its start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QRectF, QSizeF, Qt
from PySide6.QtGui import QResizeEvent, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import RunMeasured, RunRecord
from gemmacompare.engine.api import protocol as p


def _is_fence(line: str) -> bool:
    """A line that opens or closes a fenced code block."""
    return line.lstrip().startswith(("```", "~~~"))


def split_committable(text: str, start: int = 0) -> int:
    """Index up to which `text` is complete Markdown blocks (`start` if none).

    `start` must be an earlier result: a line start outside any code fence, so
    a streaming answer is scanned once, not again from the top per batch.
    """
    cut = start
    in_fence = False
    pos = start
    for line in text[start:].splitlines(keepends=True):
        pos += len(line)
        if _is_fence(line):
            in_fence = not in_fence
            if not in_fence and line.endswith("\n"):
                cut = pos  # a closed code block is complete
            continue
        if not in_fence and not line.strip() and line.endswith("\n"):
            cut = pos
    return cut


class AutoHeightText(QTextBrowser):
    """A read-only text view as tall as its content (the pane scrolls, not it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.setFixedHeight(8)
        # Growing by a line repaints only that line, not the whole reply.
        for w in (self, self.viewport()):
            w.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        # Qt repaints a whole paragraph when text is appended to it (a story's
        # paragraph: 5-10 lines, every batch); append_plain() limits the repaint to
        # the paragraph's last line and below, all that appending can change.
        # The layout's update signal is routed through _repaint for that; it
        # went straight to the view, and the document (and so its layout) is
        # never replaced.
        self._repaint_from: float | None = None
        layout = self.document().documentLayout()
        layout.update.disconnect()
        layout.update.connect(self._repaint)

    def append_plain(self, text: str) -> None:
        """Add plain text at the end, repainting only what it can change."""
        doc = self.document()
        block = doc.lastBlock()
        lines = block.layout().lineCount()
        if lines:
            top = doc.documentLayout().blockBoundingRect(block).top()
            # A little above the last line: glyphs may overhang its top.
            self._repaint_from = top + block.layout().lineAt(lines - 1).y() - 2
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        try:
            cursor.insertText(text)
        finally:
            self._repaint_from = None

    def _repaint(self, rect: QRectF) -> None:
        # What QTextEdit does with the layout's update (contents coordinates
        # to the viewport's), from the last line on while appending.
        viewport = self.viewport()
        if not rect.isValid():
            viewport.update()
            return
        if self._repaint_from is not None and rect.top() < self._repaint_from:
            rect = QRectF(rect)
            rect.setTop(self._repaint_from)
        dx, dy = self.horizontalScrollBar().value(), self.verticalScrollBar().value()
        visible = QRectF(dx, dy, viewport.width(), viewport.height())
        r = rect.intersected(visible).toAlignedRect()
        if not r.isEmpty():
            viewport.update(r.translated(-dx, -dy))

    def _fit(self, size: QSizeF | None = None) -> None:
        # The signal carries the new size; asking the document for it again
        # would make it finish laying out the whole text first.
        height = (size if size is not None else self.document().size()).height()
        h = int(height) + 6
        if h != self.height():
            self.setFixedHeight(max(8, h))

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(ev)
        # Every setTextWidth lays out the whole document again, even at the
        # same width; our own height changes (one per streamed batch) must not.
        width = self.viewport().width()
        if self.document().textWidth() != width:
            self.document().setTextWidth(width)
            self._fit()


# "17*3" in an answer is arithmetic; Markdown would take "*3 … 17*" for emphasis
# and show "173". A star between two digits is never meant as emphasis.
_STAR_BETWEEN_DIGITS = re.compile(r"(?<=\d)\*(?=\d)")


def escape_arithmetic(markdown: str) -> str:
    return _STAR_BETWEEN_DIGITS.sub(r"\\*", markdown)


# A line that starts a block of its own (list item, heading, quote, table row,
# fence, setext underline or rule): the newline before it is not inside a paragraph.
_STARTS_BLOCK = re.compile(r" {0,3}([-*+] |\d{1,9}[.)] |#{1,6}( |$)|>|\||```|~~~|[-=_*]+ *$)")


def keep_line_breaks(markdown: str) -> str:
    """A single newline inside a paragraph stays a line break.

    Markdown joins such lines into one, but a model that writes them means
    them (a poem, an address, steps without list markers), and the streaming
    view already showed them as lines. The newline becomes a line separator
    (U+2028), which Qt lays out as a break inside the paragraph; Markdown's own
    hard break became a new block in Qt, and in a list a new numbered item.
    Code and tables (a line with a pipe: GFM rows need no leading one) are
    left as they are.
    """
    lines = markdown.split("\n")
    out: list[str] = []
    in_fence = joined = False
    for i, line in enumerate(lines):
        if joined:
            out[-1] += line.lstrip()
        else:
            out.append(line)
        joined = False
        if _is_fence(line):
            in_fence = not in_fence
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (not in_fence and line.strip() and nxt.strip() and not line.startswith(("    ", "\t"))
                and "|" not in line and not line.endswith("\\") and not _STARTS_BLOCK.match(nxt)):
            out[-1] = out[-1].rstrip() + "\u2028"
            joined = True
    return "\n".join(out)


def answer_markdown(text: str) -> str:
    """The Markdown a reply's text is rendered from."""
    return keep_line_breaks(escape_arithmetic(text))


def _first_block_format(markdown: str) -> QTextBlockFormat | None:
    doc = QTextDocument()
    doc.setMarkdown(markdown)
    block = doc.begin()
    if block.textList() is not None:
        return None
    fmt = block.blockFormat()
    fmt.clearProperty(QTextFormat.Property.ObjectIndex)
    return fmt


class StreamingMarkdown(AutoHeightText):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self._committed = 0  # chars of self.text already rendered as Markdown
        self._tail_pos = 0  # document position where the plain tail starts

    def append_text(self, piece: str) -> None:
        if not piece:
            return
        self.text += piece
        cut = split_committable(self.text, self._committed)
        if cut == self._committed:
            # The plain tail only grows: appended, only its last block is laid
            # out again, not the whole tail (a long code block), and only its
            # last line repainted.
            self.append_plain(piece)
            return
        with self._tail_removed() as cursor:
            self._insert_blocks(cursor, self.text[self._committed:cut])
            self._committed = cut
            # The tail and the next blocks start in a block of their own with
            # plain formats: inserted into the last block, a paragraph became
            # part of the heading or list item before it.
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            self._tail_pos = cursor.position()
            cursor.insertText(self.text[self._committed:])

    @contextmanager
    def _tail_removed(self) -> Iterator[QTextCursor]:
        """A cursor where the plain tail was, with the tail removed.

        All edits made with it are one edit block: the document is laid out,
        and the view resized and repainted, once at the end, not once per edit.
        """
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        try:
            cursor.setPosition(self._tail_pos)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            yield cursor
        finally:
            cursor.endEditBlock()

    def _insert_blocks(self, cursor: QTextCursor, markdown: str) -> None:
        markdown = answer_markdown(markdown)
        start = cursor.position()
        cursor.insertMarkdown(markdown)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        # The first inserted block merged into the (empty) block at the cursor
        # and kept its plain format: a code block or quote would lose its look.
        first = QTextCursor(self.document())
        first.setPosition(start)
        if start > 0 and not first.block().text() and first.block() != cursor.block():
            # A list or table went into blocks of its own after the empty one:
            # fold the empty block into the one before, so no blank line shows.
            first.deletePreviousChar()
            return
        if first.block().textList() is None:
            fmt = _first_block_format(markdown)
            if fmt is not None:
                first.setBlockFormat(fmt)

    def reset(self) -> None:
        self.clear()
        self.text = ""
        self._committed = 0
        self._tail_pos = 0

    def finish(self) -> None:
        """Render the last block as Markdown too."""
        if self._committed < len(self.text):
            with self._tail_removed() as cursor:
                self._insert_blocks(cursor, self.text[self._committed:])
            self._committed = len(self.text)
        elif self._tail_pos:
            # All of it was committed: drop the empty block left for a tail.
            with self._tail_removed() as cursor:
                cursor.deletePreviousChar()


class WrappedLabel(QLabel):
    """A word-wrapped label that remembers its height for a width.

    Each line a streaming reply grows by lays the chat out again, and the
    chat's layout asks every earlier message for its height at the current
    width, four times per pass; QLabel wraps its whole text anew for each
    question. With 20 earlier turns that was most of the window's CPU.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._heights: dict[int, int] = {}

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        self._heights.clear()
        super().setText(text)

    def setTextFormat(self, fmt: Qt.TextFormat) -> None:  # noqa: N802 - Qt naming
        self._heights.clear()
        super().setTextFormat(fmt)

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt naming
        h = self._heights.get(width)
        if h is None:
            h = self._heights[width] = super().heightForWidth(width)
        return h

    def changeEvent(self, ev: QEvent) -> None:  # noqa: N802 - Qt naming
        # A font, style sheet or theme change wraps the text differently.
        self._heights.clear()
        super().changeEvent(ev)


def record_batch(rec: RunRecord, batch: Sequence[p.Event | RunMeasured]) -> list[p.Token]:
    """Add a batch's events to `rec` and return its tokens; the session's own figures
    (RunMeasured) are left to the caller."""
    tokens = []
    for ev in batch:
        if not isinstance(ev, RunMeasured):
            rec.add(ev)
            if isinstance(ev, p.Token):
                tokens.append(ev)
    return tokens


class ReplyWidget(QFrame):
    """One assistant reply: collapsible thinking, the answer, a stats line."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reply")
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents)  # it only grows at the bottom
        lay = QVBoxLayout(self)
        # Nothing below the answer while it streams (no bottom margin here or
        # in the chat, the stats line hidden): following the bottom, the line
        # it grows by is out of sight until the chat scrolls, so Qt moves the
        # pixels it has; a visible strip still to be painted made it repaint
        # every visible line instead.
        lay.setContentsMargins(6, 4, 6, 0)
        lay.setSpacing(2)
        self.title = QLabel(title)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # a model's name is its file's: text, not markup
        self.title.setObjectName("replyTitle")
        # A long name in large type in a narrow pane: wrapped at its spaces, and never wider than the pane
        # (its width made the chat's content wider than its view, every stats line cut at the right).
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.think_toggle = QToolButton()
        self.think_toggle.setObjectName("thinkToggle")
        self.think_toggle.setCheckable(True)
        self.think_toggle.setChecked(True)
        self.think_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.think_toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.think_toggle.toggled.connect(self._toggle_thinking)
        self.think_toggle.hide()
        self.thinking = AutoHeightText()
        self.thinking.setObjectName("thinking")
        self.thinking.hide()
        self.answer = StreamingMarkdown()
        self.answer.setObjectName("answer")
        # Shown with its first text: an empty answer under a streaming
        # thinking section moved down with each of its lines, and a moving
        # widget that does not paint all its pixels makes Qt repaint the whole
        # chat instead of scrolling the pixels it has.
        self.answer.hide()
        self.stats = WrappedLabel("")
        self.stats.setTextFormat(Qt.TextFormat.PlainText)  # a stop reason or error may be a server's or a file's
        self.stats.setObjectName("stats")
        self.stats.hide()  # shown with its text at the end
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.title, self.think_toggle, self.thinking, self.answer, self.stats):
            lay.addWidget(w)
        self.n_thinking = 0
        self.unit = "tokens"  # "chunks" for a model on a server: its deltas are not tokens
        self._answer_started = False

    def add_tokens(self, tokens: Sequence[p.Token], room: int | None = None) -> int:
        """Append the tokens' text at once (not per token), at most `room` characters of it;
        returns how many characters were added."""
        thinking = "".join(x.thinking for x in tokens)[:room]
        answer = "".join(x.answer for x in tokens)[:None if room is None else room - len(thinking)]
        self.add(thinking, answer, sum(x.phase == "thinking" for x in tokens))
        return len(thinking) + len(answer)

    def add(self, thinking: str, answer: str, n_thinking_tokens: int) -> None:
        if thinking:
            self.think_toggle.show()
            if self.think_toggle.isChecked():
                self.thinking.show()
            self.thinking.append_plain(thinking)
        self.n_thinking += n_thinking_tokens
        if self.n_thinking:
            self.think_toggle.setText(f"Thinking ({self.n_thinking} {self.unit})")
        if answer:
            if not self._answer_started and answer.strip() and self.n_thinking:
                self.think_toggle.setChecked(False)  # collapse once the answer starts
            self._answer_started = self._answer_started or bool(answer.strip())
            self.answer.show()
            self.answer.append_text(answer)

    def reset(self) -> None:
        """Empty the reply for a replay; its stats line comes back with its end."""
        self.thinking.clear()
        self.thinking.hide()
        self.think_toggle.hide()
        self.think_toggle.setChecked(True)
        self.n_thinking = 0
        self._answer_started = False
        self.answer.reset()
        self.answer.hide()
        self.stats.hide()

    def _toggle_thinking(self, on: bool) -> None:
        self.thinking.setVisible(on)
        self.think_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def finish(self, stats_text: str, tooltip: str) -> None:
        self.answer.finish()
        self.stats.setText(stats_text)
        self.stats.setToolTip(tooltip)
        self.stats.setVisible(bool(stats_text))


class ChatView(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QWidget()
        # Opaque, in the viewport's own colour: scrolling to follow new text
        # then moves the pixels already painted instead of painting it all again.
        self._inner.setBackgroundRole(self.viewport().backgroundRole())
        self._inner.setAutoFillBackground(True)
        self._inner.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        self._lay = QVBoxLayout(self._inner)
        self._lay.setContentsMargins(4, 4, 4, 0)  # 0 below: see ReplyWidget
        self._lay.addStretch(1)
        self.setWidget(self._inner)
        self._follow = True
        self.verticalScrollBar().rangeChanged.connect(self._on_range)
        self.verticalScrollBar().valueChanged.connect(self._on_value)

    def _on_value(self, v: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = v >= bar.maximum() - 4

    def _on_range(self, _lo: int, hi: int) -> None:
        # At once, not from a zero timer: deferred, each new line was painted
        # where it landed and then again after the scroll, two paint passes
        # per streamed batch instead of one.
        if self._follow:
            self.verticalScrollBar().setValue(hi)

    def add_user(self, text: str) -> QLabel:
        lab = WrappedLabel(text)
        lab.setTextFormat(Qt.TextFormat.PlainText)  # a prompt with <b> in it is text, not markup
        lab.setObjectName("userMessage")
        lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._lay.insertWidget(self._lay.count() - 1, lab)
        self._follow = True
        return lab

    def add_reply(self, title: str) -> ReplyWidget:
        r = ReplyWidget(title)
        self._lay.insertWidget(self._lay.count() - 1, r)
        self._follow = True
        return r

    def add_notice(self, text: str, kind: str = "info") -> QLabel:
        lab = WrappedLabel(text)
        lab.setTextFormat(Qt.TextFormat.PlainText)
        lab.setObjectName("errorNotice" if kind == "error" else "notice")
        self._lay.insertWidget(self._lay.count() - 1, lab)
        return lab

    def clear(self) -> None:
        while self._lay.count() > 1:
            item = self._lay.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()

    def replies(self) -> list[ReplyWidget]:
        items = (self._lay.itemAt(i) for i in range(self._lay.count() - 1))
        widgets = (item.widget() for item in items if item is not None)
        return [w for w in widgets if isinstance(w, ReplyWidget)]
