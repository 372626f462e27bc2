"""Helpers for the broadcast and statistics tests: a scripted in-process Sender, subscriber
seeding, and settings small enough for tests to run in seconds.

The end-to-end tests use the fake Bot API and fake Zalo API in tests/fakes instead; the
in-process sender is for checks of the engine's own decisions (retry, pause, give up).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.settings import ChannelLimits, DeliverySettings
from bot.messages import Channel, Reply
from bot.storage.broadcast_tables import Preference, subscriber_topics, subscribers
from bot.storage.database import connect


@dataclass
class Delivered:
    chat_id: str
    text: str
    at: float


@dataclass
class RecordingSender:
    """A Sender that records what it sends and raises scripted errors per chat."""

    channel: Channel = Channel.TELEGRAM
    delay: float = 0.0
    sent: list[Delivered] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    attempt_times: list[float] = field(default_factory=list)
    faults: dict[str, deque[BaseException]] = field(default_factory=dict)
    always: dict[str, BaseException] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, chat_id: str, *errors: BaseException) -> None:
        self.faults.setdefault(chat_id, deque()).extend(errors)

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.attempts.append(chat_id)
        self.attempt_times.append(time.monotonic())
        if self.delay:
            await asyncio.sleep(self.delay)
        queue = self.faults.get(chat_id)
        if queue:
            raise queue.popleft()
        if chat_id in self.always:
            raise self.always[chat_id]
        self.sent.append(Delivered(chat_id, reply.plain_text(), time.monotonic()))
        self.changed.set()

    async def wait_for_sent(self, count: int) -> None:
        async with asyncio.timeout(20):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()

    def count_to(self, chat_id: str) -> int:
        return sum(1 for d in self.sent if d.chat_id == chat_id)


def fast_settings(
    rate: float = 1000.0,
    *,
    channels: Sequence[Channel] = (Channel.TELEGRAM, Channel.ZALO),
    per_chat_interval: float = 0.0,
    concurrency: int = 8,
    max_attempts: int = 3,
    lease_seconds: float = 3.0,
    send_timeout_seconds: float = 1.0,
) -> DeliverySettings:
    return DeliverySettings(
        limits={channel: ChannelLimits(rate, per_chat_interval) for channel in channels},
        concurrency=concurrency,
        max_attempts=max_attempts,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        send_timeout_seconds=send_timeout_seconds,
        lease_seconds=lease_seconds,
        idle_poll_seconds=0.05,
    )


async def seed_subscribers(
    engine: AsyncEngine,
    channel: Channel,
    chat_ids: Iterable[str],
    *,
    topics: Sequence[str] = (),
) -> list[str]:
    """Opted-in, reachable subscribers (to all topics, or to `topics`), inserted in bulk."""
    now = dt.datetime.now(dt.UTC)
    chats = list(chat_ids)
    async with connect(engine, begin=True) as connection:
        await connection.execute(
            subscribers.insert(),
            [
                {
                    "channel": channel.value,
                    "chat_id": chat,
                    "preference": Preference.SUBSCRIBED.value,
                    "all_topics": not topics,
                    "reachable": True,
                    "subscribed_at": now,
                    "updated_at": now,
                }
                for chat in chats
            ],
        )
        if topics:
            await connection.execute(
                subscriber_topics.insert(),
                [
                    {"channel": channel.value, "chat_id": chat, "topic": topic}
                    for chat in chats
                    for topic in topics
                ],
            )
    return chats


def write_config(
    path: Path,
    *,
    database_url: str,
    telegram: Mapping[str, Any] | None = None,
    zalo: Mapping[str, Any] | None = None,
    broadcast: Mapping[str, Any] | None = None,
) -> Path:
    """A config file for a `bot` subprocess: the test's database and fake platforms."""
    data: dict[str, Any] = {"storage": {"url": database_url}, "logging": {"level": "WARNING"}}
    if telegram:
        data["telegram"] = dict(telegram)
    if zalo:
        data["zalo"] = dict(zalo)
    data["broadcast"] = {
        "concurrency": 8,
        "max_attempts": 3,
        "retry_base_seconds": 0.1,
        "retry_max_seconds": 0.5,
        "send_timeout_seconds": 1.0,
        "lease_seconds": 3.0,
        **(broadcast or {}),
    }
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


async def run_bot(config: Path, *args: str, cwd: Path, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run `python -m bot --config CONFIG ARGS...` to the end; (exit code, stdout, stderr)."""
    process = await start_bot(config, *args, cwd=cwd)
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def start_bot(config: Path, *args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
