"""The neutral message model shared by every channel and the dialogue core.

A channel adapter turns its platform's update into an `Incoming`, gives it to the dialogue,
and renders each `Reply` back in its own way (HTML on Telegram, numbered choices on Zalo
and in the terminal, JSON on the web chat). Nothing here knows about any platform.

Outgoing messages that do not answer a citizen (dossier change notices, broadcasts) go
through a `Sender`, which each channel implements; its failures are typed so that the
delivery engine can decide between waiting, retrying and giving up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    TELEGRAM = "telegram"
    ZALO = "zalo"
    WEB = "web"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A conversation on one channel; `chat_id` is the platform's id as a string."""

    channel: Channel
    chat_id: str

    def __str__(self) -> str:
        return f"{self.channel.value}:{self.chat_id}"


# Photos larger than this are not downloaded or read (Telegram's own limit for photos).
MAX_PHOTO_BYTES = 10 * 1024 * 1024


class PhotoProblem(StrEnum):
    """Why a photo could not be read."""

    TOO_LARGE = "too_large"  # over MAX_PHOTO_BYTES, or too many pixels
    NOT_RECEIVED = "not_received"  # the channel could not download it
    UNREADABLE = "unreadable"  # not an image (or a broken, unsupported one)
    TOO_SLOW = "too_slow"  # no code found within the time allowed


@dataclass(frozen=True, slots=True)
class Photo:
    """A picture a citizen sent (a receipt slip, usually): its bytes, or why there are none."""

    data: bytes = b""
    problem: PhotoProblem | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a citizen (or staff member) sent.

    `text` is what they typed; `action` is the payload of a pressed button (then `text` may
    be the button's label or empty). `user_id` identifies the person (equal to the chat id
    in private chats); staff rights are decided from it.
    """

    chat: ChatRef
    user_id: str
    text: str = ""
    action: str | None = None
    display_name: str = ""
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Set by channels that know the conversation has just started (Telegram /start, Zalo
    # "follow", a new web chat connection).
    is_first_contact: bool = False
    # The text of the message this one replies to, where the platform has replies
    # (staff broadcast the message they reply to).
    quoted_text: str = ""
    # The sender's network address, where the channel sees it (the web chat): dossier
    # lookups count failed attempts per address too.
    network_address: str = ""
    # A photo sent instead of (or with, as its caption) `text`.
    photo: Photo | None = None
    # Set by channels that keep the conversation on screen themselves (the web page, once
    # it has been greeted or resumed): the dialogue does not greet again, and a chat whose
    # context holds nothing but that greeting is not stored (anyone can open such chats by
    # the thousand).
    greeting_shown: bool = False


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the citizen: pressing it sends `action` back.

    `action` is at most 64 bytes (Telegram's callback_data limit). A button with a `url`
    opens a link instead of sending an action.
    """

    label: str
    action: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """A block of text: an optional heading (shown in bold where possible) and lines."""

    heading: str = ""
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Image:
    """A picture sent with a reply (staff statistics charts); PNG bytes."""

    data: bytes
    filename: str = "chart.png"


@dataclass(frozen=True, slots=True)
class Reply:
    """One message from the bot: sections of plain text, rows of buttons, maybe an image.

    Text is plain (never markup); each channel escapes and formats it for itself.
    """

    sections: tuple[Section, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    image: Image | None = None
    # A reply with an edit key supersedes the last one sent with the same key in the same
    # chat (a broadcast's progress): channels that can edit a sent message do so, the
    # others send it as a new message.
    edit_key: str = ""
    # Shows a citizen's dossier (its masked name, its status): channels that keep
    # transcripts (the web chat's history) keep the exchange from anyone else's eyes.
    private: bool = False

    @classmethod
    def text(cls, text: str, buttons: Sequence[Sequence[Button]] = ()) -> Reply:
        return cls((Section(lines=tuple(text.split("\n"))),), tuple(tuple(r) for r in buttons))

    @property
    def all_buttons(self) -> tuple[Button, ...]:
        return tuple(button for row in self.buttons for button in row)

    def plain_text(self) -> str:
        """The reply as plain text, headings on their own line, sections apart."""
        blocks: list[str] = []
        for section in self.sections:
            lines = ([section.heading] if section.heading else []) + list(section.lines)
            if lines:
                blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


# Actions that channels send for platform events rather than button presses.
EVENT_FOLLOW = "event:follow"  # Zalo "follow", a new chat with the bot
EVENT_UNFOLLOW = "event:unfollow"  # Zalo "unfollow", Telegram bot blocked/kicked


class ConversationHandler(Protocol):
    """The dialogue core as channels see it: one message in, the replies out.

    `handle` never raises: failures inside a conversation become an apology reply.
    """

    async def handle(self, message: Incoming) -> Sequence[Reply]: ...


# --- sending outside a conversation ---------------------------------------------------


class SendError(Exception):
    """A message could not be delivered."""


class RecipientBlocked(SendError):
    """The recipient blocked the bot, left, or no longer exists: do not try again."""


class RateLimited(SendError):
    """The platform asked us to slow down (Telegram RetryAfter, HTTP 429)."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__(message or f"rate limited, retry after {retry_after:g}s")
        self.retry_after = retry_after


class TransientSendError(SendError):
    """Network error, timeout or a 5xx answer: worth retrying later.

    `maybe_delivered`: the request may have reached the platform (it timed out waiting for
    the answer), so a later successful try may deliver the message a second time.
    """

    def __init__(self, message: str = "", *, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class PermanentSendError(SendError):
    """The platform refused the message for good (e.g. bad request): do not retry."""


class Sender(Protocol):
    """Sends a reply to a chat on one channel, raising one of the SendError subclasses."""

    @property
    def channel(self) -> Channel: ...

    async def send(self, chat_id: str, reply: Reply) -> None: ...
