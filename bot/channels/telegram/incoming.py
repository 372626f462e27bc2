"""Translating updates: a Telegram message, photo, button press or membership change as an
`Incoming` (the neutral message model the dialogue reads).

In groups Telegram appends the bot's name to commands ("/start@CenterBot"), which is cut;
a photo is downloaded with getFile (the largest size within `MAX_PHOTO_BYTES`), and a button
press carries the pressed button's label as its text. Nothing here answers: the channel
(channel.py) passes the result to the conversation.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, ChatMember, Message, Update
from telegram.error import TelegramError

from bot.inbound import storable_incoming
from bot.messages import (
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
    MAX_PHOTO_BYTES,
    Channel,
    ChatRef,
    Incoming,
    Photo,
    PhotoProblem,
)

log = logging.getLogger(__name__)


def _command_text(text: str) -> str:
    """ "/start@CenterBot x" -> "/start x": in groups Telegram appends the bot's name."""
    if not text.startswith("/"):
        return text
    command, space, rest = text.partition(" ")
    return command.split("@", 1)[0] + space + rest


def incoming_from_message(message: Message, photo: Photo | None = None) -> Incoming | None:
    """A text message, or with `photo` a photo (its caption as the text)."""
    if message.text is None and photo is None:
        return None
    user = message.from_user
    text = _command_text(message.text or message.caption or "")
    quoted = message.reply_to_message
    return storable_incoming(
        Incoming(
            chat=ChatRef(Channel.TELEGRAM, str(message.chat.id)),
            user_id=str(user.id) if user else str(message.chat.id),
            text=text,
            display_name=user.full_name if user else "",
            received_at=message.date,
            is_first_contact=text == "/start" or text.startswith("/start "),
            quoted_text=(quoted.text or quoted.caption or "") if quoted is not None else "",
            photo=photo,
        )
    )


def photo_file(message: Message) -> tuple[str, int | None] | None:
    """(file id, size in bytes if known) of the picture to read: the largest size of a
    photo that is within MAX_PHOTO_BYTES (the smallest if none is), or an image sent as a
    file; None when the message has no picture."""
    if message.photo:
        sizes = sorted(message.photo, key=lambda size: size.width * size.height)
        fitting = [s for s in sizes if s.file_size is None or s.file_size <= MAX_PHOTO_BYTES]
        chosen = fitting[-1] if fitting else sizes[0]
        return chosen.file_id, chosen.file_size
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        return document.file_id, document.file_size
    return None


async def download_photo(bot: Bot, message: Message) -> Photo | None:
    """The message's picture, downloaded (getFile, then the file), or why it was not."""
    found = photo_file(message)
    if found is None:
        return None
    file_id, size = found
    if size is not None and size > MAX_PHOTO_BYTES:
        return Photo(problem=PhotoProblem.TOO_LARGE)
    try:
        file = await bot.get_file(file_id)
        if file.file_size is not None and file.file_size > MAX_PHOTO_BYTES:
            return Photo(problem=PhotoProblem.TOO_LARGE)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("photo in chat telegram:%s not downloaded: %s", message.chat.id, exc)
        return Photo(problem=PhotoProblem.NOT_RECEIVED)
    if len(data) > MAX_PHOTO_BYTES:
        return Photo(problem=PhotoProblem.TOO_LARGE)
    return Photo(data)


def incoming_from_callback(query: CallbackQuery) -> Incoming | None:
    if not query.data:
        return None
    message = query.message
    chat_id = message.chat.id if message is not None else query.from_user.id
    label = ""
    if isinstance(message, Message) and message.reply_markup is not None:
        for row in message.reply_markup.inline_keyboard:
            for button in row:
                if button.callback_data == query.data:
                    label = button.text
    return storable_incoming(
        Incoming(
            chat=ChatRef(Channel.TELEGRAM, str(chat_id)),
            user_id=str(query.from_user.id),
            text=label,
            action=query.data,
            display_name=query.from_user.full_name,
        )
    )


def incoming_from_membership(update: Update) -> Incoming | None:
    """The bot blocked/removed (unfollow) or unblocked/added again (follow) in a chat."""
    change = update.my_chat_member
    if change is None:
        return None
    old, new = change.old_chat_member.status, change.new_chat_member.status
    gone = (ChatMember.BANNED, ChatMember.LEFT)
    if new in gone and old not in gone:
        action = EVENT_UNFOLLOW
    elif old in gone and new not in gone:
        action = EVENT_FOLLOW
    else:
        return None
    return storable_incoming(
        Incoming(
            chat=ChatRef(Channel.TELEGRAM, str(change.chat.id)),
            user_id=str(change.from_user.id),
            action=action,
            display_name=change.from_user.full_name,
            received_at=change.date,
        )
    )
