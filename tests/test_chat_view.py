"""Streaming Markdown and the thinking section, on crafted token streams."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextCursor

from gemmacompare.ui.chat_view import ReplyWidget, StreamingMarkdown, split_committable

pytestmark = pytest.mark.gui


def test_split_committable_respects_code_fences():
    assert split_committable("para one\n\npara tw") == len("para one\n\n")
    text = "intro\n\n```python\nx = 1\n\ny = 2\n"
    assert split_committable(text) == len("intro\n\n")  # inside an open fence: wait
    closed = text + "```\n"
    assert split_committable(closed) == len(closed)


def test_markdown_renders_while_streaming_and_only_appends(qtbot):
    view = StreamingMarkdown()
    qtbot.addWidget(view)
    pieces = ["Steps:\n\n", "- one\n", "- two\n\n", "```\ncode here\n", "```\n", "Done **now**"]
    doc = view.document()
    for piece in pieces[:3]:
        view.append_text(piece)
    # The finished list is real Markdown already, before the reply ends.
    assert doc.findBlockByNumber(1).textList() is not None
    before = doc.toPlainText()
    view.append_text(pieces[3])
    assert doc.toPlainText().startswith(before.rstrip())  # nothing re-set, only appended
    for piece in pieces[4:]:
        view.append_text(piece)
    view.finish()
    assert "code here" in doc.toPlainText()
    assert "**" not in doc.toPlainText() and "Done now" in doc.toPlainText()
    cur = QTextCursor(doc.find("now"))
    assert cur.charFormat().fontWeight() > 400


def test_thinking_counted_apart_and_collapses_when_answer_starts(qtbot):
    reply = ReplyWidget("model")
    qtbot.addWidget(reply)
    reply.show()
    reply.add("Let me think", "", 3)
    assert reply.thinking.isVisible() and "3 tokens" in reply.think_toggle.text()
    reply.add(" more.", "", 2)
    reply.add("", "The answer is 4.", 0)
    assert reply.n_thinking == 5 and "5 tokens" in reply.think_toggle.text()
    assert not reply.thinking.isVisible()  # collapsed once the answer started
    reply.think_toggle.click()
    assert reply.thinking.isVisible() and reply.thinking.toPlainText() == "Let me think more."
    reply.finish("stats", "tip")
    assert reply.answer.toPlainText() == "The answer is 4."
