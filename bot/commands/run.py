"""`bot run`: start everything configured and run until SIGINT or SIGTERM.

The running bot itself is built by the composition root (bot.app.running_bot); this
prints where it answers, waits for a signal, and turns a failed start into one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from bot.app import running_bot
from bot.config import Config, ConfigError
from bot.core import StartupError


def run_bot(config: Config) -> int:
    """`bot run`: start everything configured and run until SIGINT or SIGTERM."""
    try:
        asyncio.run(_serve(config))
    except (StartupError, ConfigError) as exc:
        print(f"bot: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with running_bot(config) as running:
        print(f"{config.center.name}: web chat at {running.web_url}/", flush=True)
        print(f"channels live: {', '.join(running.live_channels)}", flush=True)
        print(f"health: {running.web_url}/healthz  (Ctrl+C to stop)", flush=True)
        await stop.wait()
        print("stopping: finishing answers in flight…", flush=True)
