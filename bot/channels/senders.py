"""The channels' senders without their input, for a process that only sends.

    async with open_senders(config, engine, [Channel.TELEGRAM]) as senders: ...

`bot broadcast` delivers a job from the terminal: it needs to send on Telegram and Zalo
but not to receive, so it opens only their senders (their own HTTP connections), and
closes them all when done. `bot run` uses the senders of its running channels instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.model import ChannelNotAvailable
from bot.channels.telegram import open_telegram_sender
from bot.channels.zalo import open_zalo_sender
from bot.config import Config
from bot.messages import Channel, Sender


@asynccontextmanager
async def open_senders(
    config: Config, engine: AsyncEngine, channels: Collection[Channel]
) -> AsyncIterator[list[Sender]]:
    """Senders for `channels`; ChannelNotAvailable when one has no credentials."""
    senders: list[Sender] = []
    async with AsyncExitStack() as stack:
        for channel in channels:
            if channel is Channel.TELEGRAM:
                if not config.telegram.enabled:
                    raise ChannelNotAvailable(channel)
                senders.append(
                    await stack.enter_async_context(open_telegram_sender(config.telegram))
                )
            elif channel is Channel.ZALO:
                if not config.zalo.enabled:
                    raise ChannelNotAvailable(channel)
                senders.append(
                    await stack.enter_async_context(open_zalo_sender(config.zalo, engine))
                )
            else:
                raise ChannelNotAvailable(channel)
        yield senders
