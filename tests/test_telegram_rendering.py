"""Rendering replies as Telegram HTML: escaping and splitting, for any text.

Checked with the fake Bot API's parser (the rules Telegram applies to parse_mode=HTML), so
a chunk that Telegram would refuse fails here.
"""

from __future__ import annotations

import html
import re

from fakes.telegram_api import check_html
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.telegram import TEXT_LIMIT, inline_keyboard, render_html
from bot.channels.text_split import split_text, utf16_length
from bot.messages import Button, Reply, Section

# Characters that need escaping, Vietnamese letters, an emoji (two UTF-16 units), spaces.
ALPHABET = st.sampled_from(list("ab  <>&\"'đĐơƯệ😀\n"))
LINES = st.lists(st.text(ALPHABET, max_size=400), min_size=1, max_size=12)


def _visible(chunks: list[str]) -> str:
    return re.sub(r"\s+", "", "".join(html.unescape(re.sub(r"</?b>", "", c)) for c in chunks))


@settings(max_examples=200, deadline=None)
@given(heading=st.text(ALPHABET, max_size=80), lines=LINES, limit=st.integers(40, 300))
def test_every_chunk_is_valid_html_within_the_limit(
    heading: str, lines: list[str], limit: int
) -> None:
    reply = Reply((Section(heading, tuple(lines)), Section("", ("& cuối <end>",))))

    chunks = render_html(reply, limit)

    for chunk in chunks:
        assert utf16_length(chunk) <= limit
        if chunk.strip():
            assert check_html(chunk, limit) is None, chunk
    # Nothing lost, nothing reordered (only whitespace may move at the cuts).
    expected = re.sub(r"\s+", "", heading + "".join(lines) + "& cuối <end>")
    assert _visible(chunks) == expected


def test_short_replies_stay_in_one_message_with_bold_headings() -> None:
    reply = Reply(
        (Section("Lệ phí", ("8.000 đồng", "Miễn: hộ nghèo")), Section("Nộp ở đâu", ("Quầy 3",)))
    )

    assert render_html(reply) == [
        "<b>Lệ phí</b>\n8.000 đồng\nMiễn: hộ nghèo\n\n<b>Nộp ở đâu</b>\nQuầy 3"
    ]


def test_a_cut_falls_between_lines_when_possible() -> None:
    lines = tuple(f"{n:04d} " + "x" * 95 for n in range(100))  # 100 lines of 100 characters

    chunks = render_html(Reply((Section("", lines),)))

    assert len(chunks) == 3
    assert all(len(chunk) <= TEXT_LIMIT for chunk in chunks)
    assert [line for chunk in chunks for line in chunk.split("\n")] == list(lines)


def test_buttons_with_oversized_actions_are_dropped_not_sent() -> None:
    reply = Reply.text(
        "x",
        [
            [Button("ok", "a" * 64), Button("too long", "b" * 65)],
            [Button("web", url="https://a.vn")],
        ],
    )

    keyboard = inline_keyboard(reply)

    assert keyboard is not None
    rows = [[button.text for button in row] for row in keyboard.inline_keyboard]
    assert rows == [["ok"], ["web"]]


@settings(max_examples=100, deadline=None)
@given(text=st.text(ALPHABET, max_size=3000), limit=st.integers(20, 500))
def test_plain_text_splitting_keeps_everything(text: str, limit: int) -> None:
    chunks = split_text(text, limit)

    assert all(utf16_length(chunk) <= limit for chunk in chunks)
    assert re.sub(r"\s+", "", "".join(chunks)) == re.sub(r"\s+", "", text)
