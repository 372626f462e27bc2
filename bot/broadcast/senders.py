"""The channel senders a delivery process outside `bot run` needs (`bot broadcast`).

They are built from the channel adapters' own classes (bot/channels), with their own
HTTP connections; the Zalo token pair is the one kept in the bot's database, so renewing
it here and in the server never uses a refresh token twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.model import ChannelNotAvailable
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
                from bot.channels.telegram import open_telegram_sender

                senders.append(
                    await stack.enter_async_context(open_telegram_sender(config.telegram))
                )
            elif channel is Channel.ZALO:
                if not config.zalo.enabled:
                    raise ChannelNotAvailable(channel)
                from bot.channels.zalo import open_zalo_sender

                senders.append(
                    await stack.enter_async_context(open_zalo_sender(config.zalo, engine))
                )
            else:
                raise ChannelNotAvailable(channel)
        yield senders
