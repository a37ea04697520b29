"""Streaming Markdown and the thinking section, on crafted token streams."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextCursor, QTextDocument, QTextFormat

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


MARKDOWN_STREAM = (
    "# Title\n\nSome *text* and `code`.\n\n- one\n- two\n  - nested\n\n1. first\n2. second\n\n"
    "```python\ndef f(x):\n\n    return x\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\n\nThe end **now**"
)


def test_split_committable_from_an_earlier_cut_matches_a_full_scan():
    # Streaming scans only from the last cut; at every prefix (every place a
    # batch can end) that must give the cut a scan from the top gives.
    cut = 0
    for end in range(len(MARKDOWN_STREAM) + 1):
        prefix = MARKDOWN_STREAM[:end]
        cut = split_committable(prefix, cut)
        assert cut == split_committable(prefix), prefix


def _blocks(doc: QTextDocument) -> list[tuple]:
    """What a reader sees per block: text, heading, list, code, quote (blank lines aside)."""
    out, block = [], doc.begin()
    while block.isValid():
        fmt = block.blockFormat()
        code = fmt.hasProperty(QTextFormat.Property.BlockCodeFence)
        if block.text() or code:
            out.append((block.text(), fmt.headingLevel(), block.textList() is not None, code,
                        fmt.property(QTextFormat.Property.BlockQuoteLevel)))
        block = block.next()
    return out


@pytest.mark.parametrize("step", [1, 3, 7, len(MARKDOWN_STREAM)])
def test_streamed_markdown_renders_as_the_whole_text_does(qtbot, step):
    # Pieces the size of tokens used to merge each block into the one before
    # ("# TitleSome text", a code block's first line outside the block).
    reference = QTextDocument()
    reference.setMarkdown(MARKDOWN_STREAM)
    view = StreamingMarkdown()
    qtbot.addWidget(view)
    for i in range(0, len(MARKDOWN_STREAM), step):
        view.append_text(MARKDOWN_STREAM[i:i + step])
    view.finish()
    assert _blocks(view.document()) == _blocks(reference)
    cur = QTextCursor(view.document().find("now"))
    assert cur.charFormat().fontWeight() > 400


def test_reply_height_follows_its_text_and_its_width(qtbot):
    view = StreamingMarkdown()
    qtbot.addWidget(view)
    view.resize(400, 8)
    view.show()
    view.append_text("A line of text that wraps when the view is narrow enough. " * 8)
    qtbot.waitUntil(lambda: view.height() > 20)
    wide = view.height()
    assert abs(wide - (view.document().size().height() + 6)) <= 1
    view.resize(150, view.height())  # narrower: more lines, taller
    qtbot.waitUntil(lambda: view.height() > wide)
    assert view.document().textWidth() == view.viewport().width()


REPLY = ("1. Red: the colour of blood.\n\n2. Blue: the sky.\n\nA paragraph with **bold** text.\n\n"
         "```python\nx = 17*3\n```\nSo 17*3 = 51 and 2*4 = 8.\n\n- a\n- b\n\n> a quote\n\n# Heading\n\nThe end.")


@pytest.mark.parametrize("size", [1, 3, 7, 40])
def test_streamed_reply_renders_as_the_whole_reply_would(qtbot, size):
    """Each finished block starts a block of its own: paragraphs were glued
    together ("blood.Blue"), a code block lost its format, and the paragraph
    after a list became one more list item."""
    from PySide6.QtGui import QTextDocument

    from gemmacompare.ui.chat_view import answer_markdown

    view = StreamingMarkdown()
    qtbot.addWidget(view)
    for i in range(0, len(REPLY), size):
        view.append_text(REPLY[i:i + size])
    view.finish()
    whole = QTextDocument()
    whole.setMarkdown(answer_markdown(REPLY))
    assert view.document().toMarkdown() == whole.toMarkdown()
    assert view.document().toPlainText() == whole.toPlainText()
    assert "Red: the colour of blood.\nBlue: the sky.\nA paragraph" in view.document().toPlainText()


POEM = ("A haiku:\n\nLight on the dark sea\nthe keeper climbs the stairs\nsleep waits for the dawn\n\n"
        "Address:\n1. Harbour Road\n   Port Ellen\n\n```\nkeep\nas is\n```\n\n| a |\n|---|\n| 1 |\n\n"
        "b | c\n--|--\n2 | 3\n\nThe end.")


@pytest.mark.parametrize("size", [1, 5, len(POEM)])
def test_single_newlines_stay_line_breaks_once_the_reply_is_rendered(qtbot, size):
    """While streaming each line shows on its own; the finished Markdown
    joined a poem's lines into one, as Markdown does with a soft break."""
    view = StreamingMarkdown()
    qtbot.addWidget(view)
    for i in range(0, len(POEM), size):
        view.append_text(POEM[i:i + size])
    view.finish()
    brk = "\u2028"  # a line break inside a paragraph; Markdown's soft break was a space
    texts = [b[0] for b in _blocks(view.document())]
    assert f"Light on the dark sea{brk}the keeper climbs the stairs{brk}sleep waits for the dawn" in texts
    assert f"Harbour Road{brk}Port Ellen" in texts  # a list item's second line
    assert ["keep", "as is"] == texts[texts.index("keep"):texts.index("keep") + 2]  # code untouched
    assert not any(brk in t for t in texts[texts.index("keep"):])  # nor the tables, nor the end
    assert {"b", "c", "2", "3"} <= set(texts)  # a table without a leading pipe is still one, cell by cell
    assert texts[-1] == "The end."


def test_arithmetic_stars_are_not_emphasis(qtbot):
    view = StreamingMarkdown()
    qtbot.addWidget(view)
    view.append_text("What is 17*3? Answer *really* briefly. What is 17*3?\n\nIt is 17*3 = 51.")
    view.finish()
    doc = view.document()
    assert doc.toPlainText().count("17*3") == 3 and "173" not in doc.toPlainText()
    assert "*really*" not in doc.toPlainText() and QTextCursor(doc.find("really")).charFormat().fontItalic()


def test_a_reply_shows_its_answer_and_stats_only_once_they_exist(qtbot):
    reply = ReplyWidget("model")
    qtbot.addWidget(reply)
    reply.show()
    assert not reply.answer.isVisible() and not reply.stats.isVisible()  # nothing to show yet
    reply.add("", "Hello", 0)
    assert reply.answer.isVisible() and not reply.stats.isVisible()
    reply.finish("12.0 t/s", "tip")
    assert reply.stats.isVisible() and reply.stats.text() == "12.0 t/s"
    failed = ReplyWidget("model")
    qtbot.addWidget(failed)
    failed.show()
    failed.finish("", "")  # an error: the notice below says why, no empty boxes
    assert not failed.answer.isVisible() and not failed.stats.isVisible()


def test_following_a_streaming_reply_scrolls_pixels_instead_of_repainting_the_chat(qtbot):
    """Each new line scrolls the chat. Where Qt could not move the pixels it
    had (a newly exposed strip of margin under the answer was still to be
    painted), it repainted every visible line of the answer, 10 times a second
    in both panes, and that CPU was taken from the models racing."""
    from PySide6.QtCore import QEvent, QObject

    from gemmacompare.ui.chat_view import ChatView

    view = ChatView()
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.show()
    qtbot.waitExposed(view)
    view.add_user("Write a long answer.")
    reply = view.add_reply("model")
    painted: list[int] = []

    class PaintedArea(QObject):
        def eventFilter(self, obj, ev) -> bool:  # noqa: N802
            if ev.type() == QEvent.Type.Paint:
                painted.append(sum(r.width() * r.height() for r in ev.region()))
            return False

    spy = PaintedArea()
    reply.answer.show()
    reply.answer.viewport().installEventFilter(spy)
    bar = view.verticalScrollBar()
    # Short paragraphs: each batch repaints its own paragraph (Qt lays out a
    # paragraph as one block) and, when the chat scrolls, the one new line.
    words = iter((("word " * 11 + "end.\n\n") * 200).split(" "))
    scrolls = 0
    while scrolls < 8:
        before = bar.value()
        for _ in range(4):
            reply.add("", next(words) + " ", 0)
        # Let the layout settle the way the event loop does between batches.
        for _ in range(4):
            qtbot.wait(1)
        if bar.value() > before and before > 0:
            scrolls += 1
            assert bar.value() == bar.maximum()  # still following the bottom
    visible = view.viewport().width() * view.viewport().height()
    assert painted and max(painted[-20:]) < visible / 3, (max(painted[-20:]), visible)


def test_a_chat_label_remembers_its_height_only_while_nothing_changed(qtbot):
    """The chat's layout asks each message for its height at a width many
    times per streamed line; the answer is kept, but never a stale one."""
    from PySide6.QtWidgets import QLabel

    from gemmacompare.ui.chat_view import WrappedLabel

    label, plain = WrappedLabel(), QLabel()
    plain.setWordWrap(True)
    for w in (label, plain):
        qtbot.addWidget(w)

    def same(width: int) -> bool:
        return label.heightForWidth(width) == plain.heightForWidth(width)

    text = "A question long enough to wrap onto several lines at a narrow width. " * 4
    for w in (label, plain):
        w.setText(text)
    assert same(200) and same(600) and label.heightForWidth(200) > label.heightForWidth(600)
    for w in (label, plain):
        w.setText(text * 2)  # longer text: taller at the same width
    assert same(200)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    for w in (label, plain):
        w.setFont(font)  # presentation mode: larger text, taller again
    assert same(200) and same(600)


def test_appending_to_a_long_paragraph_repaints_its_last_line_and_leaves_no_stale_pixels(qtbot):
    """Qt repaints the whole paragraph that text is appended to: a story's
    paragraph of 5-10 lines, every batch, in both panes. Only the last line
    and below can change; the pixels on screen must still be those of a full
    repaint."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QGuiApplication

    from gemmacompare.ui.chat_view import ChatView

    view = ChatView()
    qtbot.addWidget(view)
    view.resize(420, 360)
    view.show()
    qtbot.waitExposed(view)
    reply = view.add_reply("model")
    heights: list[int] = []

    class PaintedHeight(QObject):
        def eventFilter(self, obj, ev) -> bool:  # noqa: N802
            if ev.type() == QEvent.Type.Paint:
                heights.append(ev.region().boundingRect().height())
            return False

    spy = PaintedHeight()
    reply.add("thinking about it " * 30, "", 30)  # the thinking section too
    reply.answer.show()
    reply.answer.viewport().installEventFilter(spy)
    reply.thinking.viewport().installEventFilter(spy)
    paragraph = "The keeper climbed the stairs as the storm came in over the water. " * 12
    for i in range(0, len(paragraph), 9):
        reply.add("", paragraph[i:i + 9], 0)
        qtbot.wait(1)
    qtbot.wait(20)
    line = reply.answer.fontMetrics().lineSpacing()
    assert reply.answer.document().size().height() > 8 * line  # a long paragraph
    # Once the paragraph is several lines long, a batch repaints a line or two.
    assert heights and max(heights[-30:]) <= 3 * line, (max(heights[-30:]), line)
    on_screen = QGuiApplication.primaryScreen().grabWindow(view.winId()).toImage()
    fresh = view.grab().toImage().convertToFormat(on_screen.format())
    assert on_screen.size() == fresh.size()
    assert on_screen == fresh  # nothing stale where the repaint was cut short

    # The thinking section is appended the same way.
    heights.clear()
    reply.add("and more thinking " * 3, "", 3)
    qtbot.wait(20)
    assert heights == [] or max(heights) <= 3 * line
