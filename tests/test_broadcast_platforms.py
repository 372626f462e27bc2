"""End to end: the delivery engine with the real channel senders against the local fake
Bot API (and fake Zalo API), 1,000 recipients with scripted 429s, 403s, timeouts and 5xx:
every recipient ends with a recorded outcome, blocked chats are unsubscribed, and the
platform never sees more messages in any one second than the configured limit."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from broadcast_support import seed_subscribers
from fakes.telegram_api import FakeTelegramBotApi, Fault
from fakes.zalo_api import FakeZaloApi, ZaloFault
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService
from bot.broadcast.settings import DeliverySettings
from bot.broadcast.subscriptions import SubscriberState, SubscriptionStore
from bot.channels.senders import open_senders
from bot.config import BroadcastConfig, Config, TelegramConfig, ZaloConfig
from bot.messages import Channel, ChatRef
from bot.storage.broadcast_tables import OutboxState, outbox
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema

STAFF = Requester.operator("tester")
TELEGRAM_RATE = 150.0
ZALO_RATE = 60.0


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


@pytest.mark.slow
async def test_a_thousand_recipients_on_telegram_and_zalo_with_failures(
    engine: AsyncEngine,
) -> None:
    telegram_chats = [str(100_000 + i) for i in range(700)]
    zalo_users = [f"84{900_000 + i}" for i in range(300)]
    await seed_subscribers(engine, Channel.TELEGRAM, telegram_chats)
    await seed_subscribers(engine, Channel.ZALO, zalo_users)
    # Telegram: 429 with retry_after once; 403 for good; 400 chat not found; a first try
    # that times out (the message may still arrive); 502 twice; 500 every time.
    flooded, blocked, gone = (
        telegram_chats[10:14],
        telegram_chats[100:130],
        telegram_chats[200:205],
    )
    slow, flaky, broken = telegram_chats[300:315], telegram_chats[400:410], telegram_chats[500:505]
    # Zalo: blocked the OA; stopped following; a timeout; 502 twice; 500 every time.
    z_blocked, z_unfollowed, z_slow = zalo_users[5:15], zalo_users[20:25], zalo_users[30:35]
    z_flaky, z_broken = zalo_users[40:45], zalo_users[50:53]
    async with FakeTelegramBotApi() as api, FakeZaloApi() as zalo:
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
        for user in z_blocked:
            zalo.set_user_fault(user, ZaloFault.blocked())
        for user in z_unfollowed:
            zalo.set_user_fault(user, ZaloFault.not_following())
        for user in z_slow:
            zalo.script_faults(user, ZaloFault.slow(2.0))
        for user in z_flaky:
            zalo.script_faults(user, ZaloFault.server_error(502), ZaloFault.server_error(502))
        for user in z_broken:
            zalo.set_user_fault(user, ZaloFault.server_error(500))
        config = Config(
            telegram=TelegramConfig(
                token=api.token, base_url=api.base_url, rate_per_second=TELEGRAM_RATE
            ),
            zalo=ZaloConfig(
                app_id=zalo.app_id,
                oa_secret_key=zalo.oa_secret_key,
                app_secret_key=zalo.app_secret_key,
                access_token=zalo.initial_access_token,
                refresh_token=zalo.initial_refresh_token,
                api_base=zalo.base_url,
                oauth_base=zalo.base_url,
                rate_per_second=ZALO_RATE,
            ),
            broadcast=BroadcastConfig(
                max_attempts=4,
                retry_base_seconds=0.1,
                retry_max_seconds=0.5,
                send_timeout_seconds=1.0,
                lease_seconds=4.0,
            ),
        )
        service = BroadcastService.from_config(
            engine, config.broadcast, config.telegram, config.zalo
        )
        assert service.channels == (Channel.TELEGRAM, Channel.ZALO)
        job_id = await service.start(STAFF, BroadcastRequest("Thông báo nghỉ lễ 2/9"))
        async with open_senders(config, engine, service.channels) as senders:
            worker = DeliveryWorker(
                engine,
                senders,
                DeliverySettings.from_config(config.broadcast, config.telegram, config.zalo),
            )
            await asyncio.wait_for(worker.run(until_job_finished=job_id), 120)
        # Slow answers still being written by the fakes finish before they are inspected.
        await asyncio.sleep(2.5)

        async with connect(engine) as connection:
            rows = await connection.execute(
                select(outbox.c.channel, outbox.c.chat_id, outbox.c.state).where(
                    outbox.c.job_id == job_id
                )
            )
            states = {(channel, chat): state for channel, chat, state in rows}
        assert len(states) == 1000
        final = {state.value for state in OutboxState} - {"pending", "sending"}
        assert set(states.values()) <= final, "every recipient has a recorded outcome"

        def having(channel: Channel, state: OutboxState) -> set[str]:
            return {c for (ch, c), s in states.items() if ch == channel.value and s == state}

        expected_blocked = set(blocked) | set(gone)
        assert having(Channel.TELEGRAM, OutboxState.BLOCKED) == expected_blocked
        assert having(Channel.TELEGRAM, OutboxState.FAILED) == set(broken)
        telegram_sent = having(Channel.TELEGRAM, OutboxState.SENT)
        assert telegram_sent == set(telegram_chats) - expected_blocked - set(broken)
        z_expected_blocked = set(z_blocked) | set(z_unfollowed)
        assert having(Channel.ZALO, OutboxState.BLOCKED) == z_expected_blocked
        assert having(Channel.ZALO, OutboxState.FAILED) == set(z_broken)
        zalo_sent = having(Channel.ZALO, OutboxState.SENT)
        assert zalo_sent == set(zalo_users) - z_expected_blocked - set(z_broken)

        received = Counter(m.chat_id for m in api.sent if m.method == "sendMessage")
        assert set(received) == telegram_sent
        # Only a try that timed out after the platform took it can arrive twice.
        assert {chat for chat, n in received.items() if n > 1} <= set(slow)
        assert all("Thông báo nghỉ lễ 2/9" in m.plain_text for m in api.sent)
        zalo_received = Counter(m.user_id for m in zalo.sent)
        assert set(zalo_received) == zalo_sent
        assert {user for user, n in zalo_received.items() if n > 1} <= set(z_slow)
        # The limiters held: never more than the configured rate in any one second.
        assert api.max_rate(1.0) <= TELEGRAM_RATE
        assert zalo.max_rate(1.0) <= ZALO_RATE

        store = SubscriptionStore(engine, {})
        for channel, chats in (
            (Channel.TELEGRAM, expected_blocked),
            (Channel.ZALO, z_expected_blocked),
        ):
            for chat in chats:
                subscription = await store.get(ChatRef(channel, chat))
                assert subscription is not None
                assert subscription.state is SubscriberState.BLOCKED
        report = await service.report(STAFF, job_id)
        assert report.progress.state == "done"
        assert report.progress.sent == len(telegram_sent) + len(zalo_sent)
        assert report.progress.blocked == len(expected_blocked) + len(z_expected_blocked)
        assert report.progress.failed == len(broken) + len(z_broken)
        # The blocked chats are in no later audience.
        preview = await service.prepare(STAFF, BroadcastRequest("again"))
        assert preview.recipients == {
            Channel.TELEGRAM: 700 - len(expected_blocked),
            Channel.ZALO: 300 - len(z_expected_blocked),
        }


async def test_one_chat_banned_for_400_s_does_not_hold_up_the_others(
    engine: AsyncEngine,
) -> None:
    """Telegram answers one chat 429 with retry_after 400: that chat waits, the channel
    pauses at most `max_pause_seconds`, the 299 others are delivered at once. Two sends
    time out but reach the chat; delivered again on retry, they are possible duplicates."""
    chats = [str(200_000 + i) for i in range(300)]
    await seed_subscribers(engine, Channel.TELEGRAM, chats)
    banned, slow = chats[5], chats[50:52]
    async with FakeTelegramBotApi() as api:
        api.script_faults(banned, Fault.flood(400))
        for chat in slow:
            api.script_faults(chat, Fault.slow(1.5))
        config = Config(
            telegram=TelegramConfig(
                token=api.token, base_url=api.base_url, rate_per_second=TELEGRAM_RATE
            ),
            broadcast=BroadcastConfig(
                retry_base_seconds=0.1,
                retry_max_seconds=0.5,
                send_timeout_seconds=1.0,
                lease_seconds=4.0,
                max_pause_seconds=2.0,
            ),
        )
        service = BroadcastService.from_config(
            engine, config.broadcast, config.telegram, config.zalo
        )
        job_id = await service.start(STAFF, BroadcastRequest("Thông báo"))
        started = asyncio.get_running_loop().time()
        async with open_senders(config, engine, service.channels) as senders:
            worker = DeliveryWorker(
                engine,
                senders,
                DeliverySettings.from_config(config.broadcast, config.telegram, config.zalo),
            )
            running = asyncio.create_task(worker.run(until_job_finished=job_id))
            others = set(chats) - {banned}
            api.wait_limit = 30.0
            await api.wait_until(lambda: others <= {m.chat_id for m in api.sent})
            elapsed = asyncio.get_running_loop().time() - started
            async with connect(engine) as connection:
                row = (
                    await connection.execute(
                        select(outbox.c.state, outbox.c.next_attempt_at).where(
                            outbox.c.job_id == job_id, outbox.c.chat_id == banned
                        )
                    )
                ).one()
            # The banned chat alone waits out its retry_after.
            assert row.state == OutboxState.PENDING
            wait = row.next_attempt_at.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
            assert dt.timedelta(seconds=380) < wait <= dt.timedelta(seconds=400)
            # ... then (its time moved forward here) it is sent and the job ends.
            async with connect(engine, begin=True) as connection:
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.job_id == job_id, outbox.c.chat_id == banned)
                    .values(next_attempt_at=dt.datetime.now(dt.UTC))
                )
            worker.wake()
            await asyncio.wait_for(running, 30)
        report = await service.report(STAFF, job_id)

    assert elapsed < 2.0 + 8.0, f"the others took {elapsed:.1f} s"
    assert report.progress.sent == 300
    assert api.messages_to(banned), "delivered after its wait"
    assert all(len(api.messages_to(chat)) == 2 for chat in slow)
    assert report.possible_duplicates == len(slow)
