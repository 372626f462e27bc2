"""How a staff notice looks to citizens: the center's heading, the text, how to stop.

Every process that delivers (the `bot run` server and `bot broadcast` on the command
line) must render a job the same way, so both take this function; the sentences come
from bot/texts.py like everything else citizens read.
"""

from __future__ import annotations

from bot import texts
from bot.config import Config
from bot.messages import Reply, Section


def notice_reply(config: Config, text: str) -> Reply:
    """The notice as sent: heading with the center's name, the text, the opt-out hint."""
    heading = texts.NOTICE_HEADING.format(center_name=config.center.name)
    return Reply(
        (
            Section(heading=heading, lines=tuple(text.split("\n"))),
            Section(lines=(texts.NOTICE_FOOTER,)),
        )
    )
