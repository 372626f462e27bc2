"""One turn of a conversation: the message, the chat's context, and the replies so far.

Flows receive a Turn, read the context, add replies and replace the context; the core
saves the final context once, after every flow has run.

A turn may also produce relays: messages for another chat than the one being answered (a
citizen's words for the staff group, a staff answer for the citizen). The dialogue only
returns them; the application sends them (bot.channels.relay), so the core stays free of
any channel.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.context import ChatContext
from bot.messages import ChatRef, Incoming, Reply


@dataclass(frozen=True, slots=True)
class Relay:
    """A reply for `chat`, which is not the chat of the turn that produced it."""

    chat: ChatRef
    reply: Reply
    # Said in the turn's own chat when the relay cannot be delivered.
    if_undelivered: Reply | None = None


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    replies: tuple[Reply, ...]
    relays: tuple[Relay, ...] = ()


@dataclass
class Turn:
    message: Incoming
    context: ChatContext
    now: dt.datetime
    replies: list[Reply] = field(default_factory=list)
    relays: list[Relay] = field(default_factory=list)
    # Set by a flow when the text must not be kept in the statistics (an answer to "the
    # last 4 digits?" that turned out to be something else).
    withhold_text: bool = False

    def say(self, reply: Reply) -> None:
        self.replies.append(reply)

    def say_text(self, text: str) -> None:
        self.replies.append(Reply.text(text))

    def relay(self, relay: Relay) -> None:
        self.relays.append(relay)

    def update(self, **changes: Any) -> None:
        self.context = dataclasses.replace(self.context, **changes)
