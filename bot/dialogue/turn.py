"""One turn of a conversation: the message, the chat's context, and the replies so far.

Flows receive a Turn, read the context, add replies and replace the context; the core
saves the final context once, after every flow has run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.context import ChatContext
from bot.messages import Incoming, Reply


@dataclass
class Turn:
    message: Incoming
    context: ChatContext
    now: dt.datetime
    replies: list[Reply] = field(default_factory=list)
    # Set by a flow when the text must not be kept in the statistics (an answer to "the
    # last 4 digits?" that turned out to be something else).
    withhold_text: bool = False

    def say(self, reply: Reply) -> None:
        self.replies.append(reply)

    def say_text(self, text: str) -> None:
        self.replies.append(Reply.text(text))

    def update(self, **changes: Any) -> None:
        self.context = dataclasses.replace(self.context, **changes)
