"""End to end: the delivery engine with the real channel senders against the local fake
Bot API (and fake Zalo API), 1,000 recipients with scripted 429s, 403s, timeouts and 5xx:
every recipient ends with a recorded outcome, blocked chats are unsubscribed, and the
platform never sees more messages in any one second than the configured limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from broadcast_support import seed_subscribers
from fakes.telegram_api import FakeTelegramBotApi, Fault
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import ChannelLimits, DeliverySettings, DeliveryWorker
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy
from bot.broadcast.subscriptions import SubscriberState, SubscriptionStore
from bot.broadcast.tables import OutboxState, outbox
from bot.channels.telegram import open_telegram_sender
from bot.config import TelegramConfig
from bot.messages import Channel, ChatRef
from bot.storage.database import connect, create_engine, create_schema

STAFF = Requester.chat_user(Channel.TELEGRAM, "1")
TELEGRAM_RATE = 150.0


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.mark.slow
async def test_a_thousand_recipients_on_telegram_with_failures(engine: AsyncEngine) -> None:
    chats = [str(100_000 + i) for i in range(1000)]
    await seed_subscribers(engine, Channel.TELEGRAM, chats)
    flooded = chats[10:14]  # 429 with retry_after once, then fine
    blocked = chats[100:130]  # 403 "bot was blocked by the user", for good
    gone = chats[200:205]  # 400 "chat not found": treated as blocked
    slow = chats[300:315]  # the first try times out (the message may still arrive)
    flaky = chats[400:410]  # 502 twice, then fine
    broken = chats[500:505]  # 500 every time: failed after max_attempts
    settings = DeliverySettings(
        limits={Channel.TELEGRAM: ChannelLimits(TELEGRAM_RATE, per_chat_interval_seconds=1.0)},
        concurrency=8,
        max_attempts=4,
        retry_base_seconds=0.1,
        retry_max_seconds=0.5,
        send_timeout_seconds=1.0,
        lease_seconds=4.0,
        idle_poll_seconds=0.1,
    )
    async with FakeTelegramBotApi() as api:
        for chat in flooded:
            api.script_faults(chat, Fault.flood(1))
        for chat in blocked:
            api.set_chat_fault(chat, Fault.blocked())
        for chat in gone:
            api.set_chat_fault(chat, Fault.chat_not_found())
        for chat in slow:
            api.script_faults(chat, Fault.slow(2.0))
        for chat in flaky:
            api.script_faults(chat, Fault.server_error(502), Fault.server_error(502))
        for chat in broken:
            api.set_chat_fault(chat, Fault.server_error(500))
        config = TelegramConfig(token=api.token, base_url=api.base_url)
        async with open_telegram_sender(config) as sender:
            service = BroadcastService(
                engine,
                SubscriptionStore(engine, {}),
                StaffPolicy(frozenset({1}), api_enabled=False),
                channels=[Channel.TELEGRAM],
            )
            job_id = await service.start(STAFF, BroadcastRequest("Thông báo nghỉ lễ 2/9"))
            worker = DeliveryWorker(engine, [sender], settings)
            await asyncio.wait_for(worker.run(until_job_finished=job_id), 120)
        # Slow answers still being written by the fake finish before it is inspected.
        await asyncio.sleep(2.5)

        async with connect(engine) as connection:
            states = dict(
                (await connection.execute(
                    select(outbox.c.chat_id, outbox.c.state).where(outbox.c.job_id == job_id)
                )).all()
            )  # fmt: skip
        assert set(states) == set(chats)
        assert all(state in {s.value for s in OutboxState} for state in states.values())
        expected_blocked = set(blocked) | set(gone)
        assert {c for c, s in states.items() if s == OutboxState.BLOCKED} == expected_blocked
        assert {c for c, s in states.items() if s == OutboxState.FAILED} == set(broken)
        sent = {c for c, s in states.items() if s == OutboxState.SENT}
        assert sent == set(chats) - expected_blocked - set(broken)

        received = Counter(m.chat_id for m in api.sent if m.method == "sendMessage")
        assert set(received) == sent
        # Only a try that timed out after the platform took it can arrive twice.
        assert {chat for chat, n in received.items() if n > 1} <= set(slow)
        assert all("Thông báo nghỉ lễ 2/9" in m.plain_text for m in api.sent)
        # The limiter held: never more than the configured rate in any one second.
        assert api.max_rate(1.0) <= TELEGRAM_RATE

        store = SubscriptionStore(engine, {})
        for chat in expected_blocked:
            subscription = await store.get(ChatRef(Channel.TELEGRAM, chat))
            assert subscription is not None and subscription.state is SubscriberState.BLOCKED
        report = await service.report(STAFF, job_id)
        assert report.progress.state == "done"
        assert report.progress.sent == len(sent)
        assert report.progress.blocked == len(expected_blocked)
        assert report.progress.failed == len(broken)
        # The blocked chats are in no later audience.
        preview = await service.prepare(STAFF, BroadcastRequest("again"))
        assert preview.total == 1000 - len(expected_blocked)
