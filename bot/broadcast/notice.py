"""How a staff notice looks to citizens: the center's heading, the text, how to stop.

Every process that delivers (the `bot run` server and `bot broadcast` on the command
line) must render a job the same way, so both take this function; the sentences come
from bot/texts.py like everything else citizens read. The service and the delivery
engine take any `NoticeRenderer`; `plain_notice` is their default (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable

from bot import texts
from bot.config import CenterConfig
from bot.messages import Reply, Section

NoticeRenderer = Callable[[str], Reply]


def plain_notice(text: str) -> Reply:
    """The notice as plain text; the composition root passes one with heading and footer."""
    return Reply.text(text)


def notice_reply(center: CenterConfig, text: str) -> Reply:
    """The notice as sent: heading with the center's name, the text, the opt-out hint."""
    heading = texts.NOTICE_HEADING.format(center_name=center.name)
    return Reply(
        (
            Section(heading=heading, lines=tuple(text.split("\n"))),
            Section(lines=(texts.NOTICE_FOOTER,)),
        )
    )
