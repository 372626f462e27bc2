"""Rendering: a neutral `Reply` as Telegram HTML text and an inline keyboard.

Pure functions, no I/O: every piece of text escaped, headings in <b>, split under
Telegram's 4,096-character limit at line boundaries (never inside an escape or a tag), and
the reply's buttons as callback data or URLs. Kept apart from sending so that the
translation can be read and tested without a bot (tests/test_telegram_rendering.py).
"""

from __future__ import annotations

import html
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.text_split import pack_lines, split_long_line, utf16_length
from bot.messages import Reply

log = logging.getLogger(__name__)

# Telegram's documented limits (Bot API, sendMessage / sendPhoto / InlineKeyboardButton).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
# An inline keyboard needs a message to hang on; used when a reply has buttons and no text.
BUTTONS_ONLY_TEXT = "⬇️"


def render_html(reply: Reply, limit: int = TEXT_LIMIT) -> list[str]:
    """The reply's text as Telegram HTML messages, each within `limit` (UTF-16 units).

    Lines are escaped one by one and split before escaping when too long, so no cut falls
    inside an escape (`&amp;`) or a tag; headings are bold.
    """
    units: list[str] = []
    for section in reply.sections:
        if units:
            units.append("")
        if section.heading:
            units.extend(_rendered_pieces(section.heading, limit, bold=True))
        for line in section.lines:
            units.extend(_rendered_pieces(line, limit, bold=False))
    return pack_lines(units, limit)


def _rendered_pieces(line: str, limit: int, *, bold: bool) -> list[str]:
    def render(text: str) -> str:
        escaped = html.escape(text, quote=False)
        return f"<b>{escaped}</b>" if bold and escaped.strip() else escaped

    def measure(text: str) -> int:
        return utf16_length(render(text))

    return [render(piece) for piece in split_long_line(line, limit, measure)]


def keyboard_markup(reply: Reply) -> dict[str, Any] | None:
    """The reply's buttons as a Bot API InlineKeyboardMarkup (plain JSON): actions as callback
    data, links as URLs."""
    rows: list[list[dict[str, str]]] = []
    for row in reply.buttons:
        rendered: list[dict[str, str]] = []
        for button in row:
            if button.url:
                rendered.append({"text": button.label, "url": button.url})
            elif button.action and len(button.action.encode()) <= CALLBACK_DATA_LIMIT:
                rendered.append({"text": button.label, "callback_data": button.action})
            else:
                # Telegram rejects the whole message for one bad button (BUTTON_DATA_INVALID);
                # dropping the button keeps the answer.
                log.error("button %r dropped: action empty or over 64 bytes", button.label)
        if rendered:
            rows.append(rendered)
    return {"inline_keyboard": rows} if rows else None


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as python-telegram-bot's InlineKeyboardMarkup (see keyboard_markup)."""
    markup = keyboard_markup(reply)
    if markup is None:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(**button) for button in row] for row in markup["inline_keyboard"]]
    )


def markup_object(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    """Bot API markup JSON as python-telegram-bot's object, for calls made through the library."""
    return None if markup is None else InlineKeyboardMarkup.de_json(markup, None)
