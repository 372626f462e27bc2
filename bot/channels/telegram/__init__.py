"""Telegram channel: python-telegram-bot v22, long polling or a webhook on our aiohttp server.

The adapter only translates: a text message, a photo (downloaded with getFile: the largest
size within `MAX_PHOTO_BYTES`), a button press (callback query) or a change of the bot's
membership in a chat becomes an `Incoming`; each `Reply` becomes HTML messages
(every piece of text escaped, headings in <b>, split under Telegram's 4,096-character limit
at line boundaries) with an inline keyboard, or a photo.

Run with `bot run` and `[telegram] token` set (or BOT_TELEGRAM_TOKEN). `base_url` points the
bot at a local Bot API server; in webhook mode Telegram posts to `[telegram] webhook_path`
on the bot's own web server and must present `[telegram] secret_token`.

The package, one idea per module:

    channel.py    the lifecycle: Application, polling or webhook, handlers, health
    incoming.py   Telegram updates -> Incoming
    rendering.py  Reply -> HTML texts and an inline keyboard (pure)
    sender.py     sending one Reply (edits, photos), TelegramSender for broadcasts
    retry.py      how failed calls are retried (RetryAfter, backoff)
    transport.py  python-telegram-bot's HTTP requests over aiohttp
"""

from __future__ import annotations

import os

from bot.channels.telegram.channel import (
    ALLOWED_UPDATES,
    DEFAULT_CONCURRENT_UPDATES,
    MAX_UPDATE_BYTES,
    SECRET_TOKEN_HEADER,
    TelegramApplication,
    TelegramChannel,
)
from bot.channels.telegram.incoming import (
    download_photo,
    incoming_from_callback,
    incoming_from_membership,
    incoming_from_message,
    photo_file,
)
from bot.channels.telegram.rendering import (
    BUTTONS_ONLY_TEXT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    inline_keyboard,
    keyboard_markup,
    render_html,
)
from bot.channels.telegram.retry import RetryPolicy
from bot.channels.telegram.sender import (
    EditTargets,
    TelegramSender,
    deliver_reply,
    open_telegram_sender,
    send_error_for,
)

# python-telegram-bot 22 warns (PTBDeprecationWarning) whenever a time period such as
# RetryAfter.retry_after is read as an int, including inside RetryAfter's own constructor;
# opting in to the future datetime.timedelta values is the documented way to avoid that.
# PTB reads the variable when a period is read, so setting it here (when any module of the
# package is imported, this runs first) is enough.
os.environ.setdefault("PTB_TIMEDELTA", "true")

__all__ = [
    "ALLOWED_UPDATES",
    "BUTTONS_ONLY_TEXT",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "DEFAULT_CONCURRENT_UPDATES",
    "MAX_UPDATE_BYTES",
    "SECRET_TOKEN_HEADER",
    "TEXT_LIMIT",
    "EditTargets",
    "RetryPolicy",
    "TelegramApplication",
    "TelegramChannel",
    "TelegramSender",
    "deliver_reply",
    "download_photo",
    "incoming_from_callback",
    "incoming_from_membership",
    "incoming_from_message",
    "inline_keyboard",
    "keyboard_markup",
    "open_telegram_sender",
    "photo_file",
    "render_html",
    "send_error_for",
]
