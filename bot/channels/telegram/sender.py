"""Sending: one neutral `Reply` to one Telegram chat, as a photo and/or HTML messages.

`deliver_reply` is what both the conversation (channel.py) and broadcasts use; a reply with
an `edit_key` edits the message last sent with that key (`EditTargets`). Text messages go
straight to the Bot API through our aiohttp transport when the bot uses it (transport.py
says what that saves). `TelegramSender` is the `messages.Sender` for what is sent outside a
conversation (notices, relays, broadcasts): Telegram's errors become the typed SendErrors of
messages.py.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels.telegram.rendering import (
    BUTTONS_ONLY_TEXT,
    CAPTION_LIMIT,
    keyboard_markup,
    markup_object,
    render_html,
)
from bot.channels.telegram.retry import period_seconds
from bot.channels.telegram.transport import AiohttpTelegramRequest
from bot.channels.text_split import utf16_length
from bot.config import TelegramConfig
from bot.messages import (
    Channel,
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientSendError,
)


class EditTargets:
    """The last message sent per (chat, edit key), so that a reply with `edit_key` edits it.

    Kept in memory: after a restart the first update is sent as a new message, which then
    becomes the one edited. Bounded, oldest forgotten first.
    """

    def __init__(self, limit: int = 1000) -> None:
        self._limit = limit
        self._messages: OrderedDict[tuple[str, str], int] = OrderedDict()

    def get(self, chat_id: int | str, key: str) -> int | None:
        return self._messages.get((str(chat_id), key))

    def remember(self, chat_id: int | str, key: str, message_id: int) -> None:
        self._messages[(str(chat_id), key)] = message_id
        self._messages.move_to_end((str(chat_id), key))
        while len(self._messages) > self._limit:
            self._messages.popitem(last=False)


async def _send_text(
    bot: Bot, chat_id: int | str, text: str, markup: dict[str, Any] | None
) -> int:
    """sendMessage with HTML; the new message's id."""
    request = bot.request
    if isinstance(request, AiohttpTelegramRequest):
        # Straight to the Bot API (see transport.post_json for what this saves). The
        # bot's python-telegram-bot Defaults and rate limiter are bypassed: it has neither.
        parameters: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
        if markup is not None:
            parameters["reply_markup"] = markup
        result = await request.post_json(f"{bot.base_url}/sendMessage", parameters)
        return int(result["message_id"])
    # Another transport (e.g. python-telegram-bot's default, in benchmarks/broadcast.py).
    sent = await bot.send_message(
        chat_id, text, parse_mode="HTML", reply_markup=markup_object(markup)
    )
    return sent.message_id


async def _edit_text(
    bot: Bot, chat_id: int | str, message_id: int, text: str, markup: dict[str, Any] | None
) -> None:
    """editMessageText with HTML."""
    request = bot.request
    if isinstance(request, AiohttpTelegramRequest):
        parameters: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": "HTML",
        }
        if markup is not None:
            parameters["reply_markup"] = markup
        await request.post_json(f"{bot.base_url}/editMessageText", parameters)
        return
    await bot.edit_message_text(
        text,
        chat_id=chat_id,
        message_id=message_id,
        parse_mode="HTML",
        reply_markup=markup_object(markup),
    )


async def _edit_in_place(
    bot: Bot,
    chat_id: int | str,
    reply: Reply,
    chunks: list[str],
    markup: dict[str, Any] | None,
    edits: EditTargets,
) -> bool:
    """Edit the keyed message instead of sending; False when a new message is needed."""
    message_id = edits.get(chat_id, reply.edit_key)
    if message_id is None or reply.image is not None or len(chunks) != 1:
        return False
    try:
        await _edit_text(bot, chat_id, message_id, chunks[0], markup)
    except BadRequest as exc:
        # "message is not modified" (same text as before) is fine; too old or deleted:
        # send it as a new message.
        return "not modified" in str(exc).lower()
    return True


async def deliver_reply(
    bot: Bot, chat_id: int | str, reply: Reply, edits: EditTargets | None = None
) -> None:
    """Send one reply as photo and/or HTML messages; Telegram errors propagate.

    With `edits`, a reply carrying an `edit_key` edits the message last sent with that key.
    """
    markup = keyboard_markup(reply)
    chunks = render_html(reply)
    if (
        edits is not None
        and reply.edit_key
        and await _edit_in_place(bot, chat_id, reply, chunks, markup, edits)
    ):
        return
    if reply.image is not None:
        caption_fits = len(chunks) == 1 and utf16_length(chunks[0]) <= CAPTION_LIMIT
        await bot.send_photo(
            chat_id,
            photo=reply.image.data,
            filename=reply.image.filename,
            caption=chunks[0] if caption_fits else None,
            parse_mode="HTML" if caption_fits else None,
            reply_markup=markup_object(markup) if caption_fits or not chunks else None,
        )
        if caption_fits or not chunks:
            return
    if not chunks:
        if markup is None:
            return
        chunks = [BUTTONS_ONLY_TEXT]
    for index, chunk in enumerate(chunks):
        is_last = index == len(chunks) - 1
        message_id = await _send_text(bot, chat_id, chunk, markup if is_last else None)
        if is_last and edits is not None and reply.edit_key:
            edits.remember(chat_id, reply.edit_key, message_id)


def send_error_for(exc: TelegramError) -> Exception:
    """The messages.SendError for a Telegram error (see Sender's contract)."""
    if isinstance(exc, RetryAfter):
        return RateLimited(period_seconds(exc.retry_after), str(exc))
    if isinstance(exc, Forbidden):
        # "bot was blocked by the user", "user is deactivated", "bot was kicked".
        return RecipientBlocked(str(exc))
    if isinstance(exc, BadRequest):
        text = str(exc).lower()
        if "chat not found" in text or "user not found" in text or "deactivated" in text:
            return RecipientBlocked(str(exc))
        return PermanentSendError(str(exc))
    if isinstance(exc, ChatMigrated):
        return PermanentSendError(f"chat migrated to {exc.new_chat_id}")
    if isinstance(exc, InvalidToken):
        # Not the recipient's fault: with a valid token configured, sending works again.
        return TransientSendError(f"Telegram rejected the bot token: {exc}")
    if isinstance(exc, TimedOut):
        # The request may have reached Telegram: a retry may deliver it twice.
        return TransientSendError(str(exc), maybe_delivered=True)
    if isinstance(exc, NetworkError):  # 5xx answers, connection errors
        return TransientSendError(str(exc))
    return PermanentSendError(str(exc))


class TelegramSender:
    """messages.Sender for Telegram: one reply to one chat, failures as typed SendErrors."""

    def __init__(self, bot: Bot, edits: EditTargets | None = None) -> None:
        self._bot = bot
        self._edits = edits if edits is not None else EditTargets()

    @property
    def channel(self) -> Channel:
        return Channel.TELEGRAM

    @property
    def bot(self) -> Bot:
        return self._bot

    async def send(self, chat_id: str, reply: Reply) -> None:
        try:
            await deliver_reply(self._bot, chat_id, reply, self._edits)
        except TelegramError as exc:
            raise send_error_for(exc) from exc


@asynccontextmanager
async def open_telegram_sender(config: TelegramConfig) -> AsyncIterator[TelegramSender]:
    """A sender with its own HTTP connections, for use outside `bot run` (`bot broadcast`)."""
    bot = Bot(
        config.token,
        base_url=config.base_url,
        base_file_url=config.base_file_url,
        request=AiohttpTelegramRequest(),
    )
    async with bot:
        yield TelegramSender(bot)
