"""`bot chat`: talk to the bot in this terminal (buttons shown as numbers).

The core services (bot.core.open_core) answer; there are no channels, so a hand-off to
staff says it cannot reach them.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.channels.console import run_console
from bot.channels.relay import RelayingHandler
from bot.config import Config
from bot.core import StartupError, open_core


def run_console_chat(
    config: Config, input_stream: TextIO | None = None, output_stream: TextIO | None = None
) -> int:
    """`bot chat`: talk to the bot in this terminal."""

    async def chat() -> None:
        async with open_core(config) as core:
            # The terminal has no way to reach the staff group: a hand-off says so.
            await run_console(
                RelayingHandler(core.dialogue, lambda channel: None),
                input_stream=input_stream or sys.stdin,
                output_stream=output_stream or sys.stdout,
            )

    try:
        asyncio.run(chat())
    except StartupError as exc:
        print(f"bot: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
