"""The broadcast service that the Telegram staff flow, the CLI and the HTTP API share:
staff-only, preview before sending, a job with one outbox row per recipient."""

from __future__ import annotations

import logging

import pytest
from broadcast_support import RecordingSender, fast_settings, seed_subscribers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import (
    BroadcastRequest,
    ChannelNotAvailable,
    EmptyAudience,
    InvalidNotice,
    JobFinished,
    JobNotFound,
    NotStaff,
    Requester,
    UnknownAudience,
)
from bot.broadcast.service import BroadcastService, StaffPolicy, configured_channels
from bot.broadcast.subscriptions import SubscriptionStore
from bot.config import Config, TelegramConfig
from bot.messages import Channel, ChatRef
from bot.storage.broadcast_tables import jobs, outbox
from bot.storage.database import connect

STAFF = Requester.chat_user(Channel.TELEGRAM, "777")
CITIZEN = Requester.chat_user(Channel.TELEGRAM, "555")
ZALO_USER_WITH_A_STAFF_NUMBER = Requester.chat_user(Channel.ZALO, "777")
WEB_VISITOR = Requester.chat_user(Channel.WEB, "777")
API = Requester.api_client("127.0.0.1")


def make_service(
    engine: AsyncEngine, *, api_enabled: bool = False, started: list[int] | None = None
) -> BroadcastService:
    return BroadcastService(
        engine,
        SubscriptionStore(engine, {"dat-dai": "Đất đai"}),
        StaffPolicy(frozenset({777}), api_enabled=api_enabled),
        on_job_started=started.append if started is not None else None,
    )


async def test_preview_then_start_snapshots_the_audience(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, ["1", "2", "3"])
    await seed_subscribers(engine, Channel.ZALO, ["z1", "z2"], topics=["dat-dai"])
    await seed_subscribers(engine, Channel.ZALO, ["z3"], topics=["xay-dung"])
    started: list[int] = []
    service = make_service(engine, started=started)

    preview = await service.prepare(STAFF, BroadcastRequest("  Nghỉ lễ Quốc khánh  "))
    assert preview.recipients == {Channel.TELEGRAM: 3, Channel.ZALO: 3}
    assert preview.total == 6
    assert preview.notice.plain_text() == "Nghỉ lễ Quốc khánh"
    assert preview.topic_label is None
    land = await service.prepare(STAFF, BroadcastRequest("x", audience="dat-dai"))
    # Subscribers to everything get every topic; z3 follows another topic only.
    assert land.recipients == {Channel.TELEGRAM: 3, Channel.ZALO: 2}
    assert land.topic_label == "Đất đai"
    # A preview writes nothing.
    async with connect(engine) as connection:
        assert (await connection.execute(select(func.count()).select_from(jobs))).scalar() == 0

    job_id = await service.start(STAFF, preview.request)
    assert started == [job_id]
    progress = await service.progress(STAFF, job_id)
    assert (progress.total, progress.pending, progress.left) == (6, 6, 6)
    assert progress.state == "running"
    async with connect(engine) as connection:
        requested_by = (await connection.execute(select(jobs.c.requested_by))).scalar()
        chats = set((await connection.execute(select(outbox.c.chat_id))).scalars())
    assert requested_by == "telegram:777"
    assert chats == {"1", "2", "3", "z1", "z2", "z3"}

    only_zalo = await service.start(STAFF, BroadcastRequest("x", channels=(Channel.ZALO,)))
    assert (await service.progress(STAFF, only_zalo)).total == 3
    listed = await service.list_jobs(STAFF)
    assert [job.job_id for job in listed] == [only_zalo, job_id]


async def test_non_staff_are_refused_everything_and_logged(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, ["1"])
    service = make_service(engine)
    job_id = await service.start(STAFF, BroadcastRequest("x"))
    request = BroadcastRequest("Thông báo giả mạo")
    for outsider in (CITIZEN, ZALO_USER_WITH_A_STAFF_NUMBER, WEB_VISITOR, API):
        assert not service.is_staff(outsider)
        with caplog.at_level(logging.WARNING, logger="bot.broadcast.service"):
            with pytest.raises(NotStaff):
                await service.prepare(outsider, request)
            with pytest.raises(NotStaff):
                await service.start(outsider, request)
            with pytest.raises(NotStaff):
                await service.cancel(outsider, job_id)
            with pytest.raises(NotStaff):
                await service.resume(outsider, job_id)
            with pytest.raises(NotStaff):
                await service.progress(outsider, job_id)
            with pytest.raises(NotStaff):
                await service.report(outsider, job_id)
            with pytest.raises(NotStaff):
                await service.list_jobs(outsider)
        assert f"refused broadcast start by {outsider}" in caplog.text
    # Nothing the outsiders did changed anything.
    assert (await service.progress(STAFF, job_id)).state == "running"
    async with connect(engine) as connection:
        assert (await connection.execute(select(func.count()).select_from(jobs))).scalar() == 1
    # The API client is staff only when a token is configured (the endpoint checks it).
    assert make_service(engine, api_enabled=True).is_staff(API)
    assert service.is_staff(Requester.operator("root"))


async def test_bad_requests_are_typed_errors(engine: AsyncEngine) -> None:
    service = make_service(engine)
    with pytest.raises(EmptyAudience):
        await service.start(STAFF, BroadcastRequest("nobody subscribed yet"))
    async with connect(engine) as connection:
        # The empty job was rolled back.
        assert (await connection.execute(select(func.count()).select_from(jobs))).scalar() == 0
    with pytest.raises(InvalidNotice):
        await service.prepare(STAFF, BroadcastRequest("   "))
    with pytest.raises(InvalidNotice):
        await service.prepare(STAFF, BroadcastRequest("x" * 2001))
    with pytest.raises(UnknownAudience):
        await service.prepare(STAFF, BroadcastRequest("x", audience="xay-dung"))
    with pytest.raises(JobNotFound):
        await service.progress(STAFF, 999)
    zalo_only = BroadcastService(
        engine,
        SubscriptionStore(engine, {}),
        StaffPolicy(frozenset({777}), api_enabled=False),
        channels=[Channel.ZALO],
    )
    with pytest.raises(ChannelNotAvailable):
        await zalo_only.prepare(STAFF, BroadcastRequest("x", channels=(Channel.TELEGRAM,)))


async def test_cancel_and_resume(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, [str(i) for i in range(5)])
    service = make_service(engine)
    job_id = await service.start(STAFF, BroadcastRequest("x"))
    cancelled = await service.cancel(STAFF, job_id)
    assert (cancelled.state, cancelled.cancelled, cancelled.left) == ("cancelled", 5, 0)
    report = await service.report(STAFF, job_id)
    assert report.cancelled_by == "telegram:777"
    resumed = await service.resume(STAFF, job_id)
    assert (resumed.state, resumed.pending, resumed.cancelled) == ("running", 5, 0)


async def test_a_finished_job_cannot_be_cancelled(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, ["1"])
    service = make_service(engine)
    job_id = await service.start(STAFF, BroadcastRequest("x"))
    worker = DeliveryWorker(engine, [RecordingSender()], fast_settings())
    await worker.run(until_job_finished=job_id)
    with pytest.raises(JobFinished):
        await service.cancel(STAFF, job_id)
    with pytest.raises(JobFinished):
        await service.resume(STAFF, job_id)


def test_configured_channels_follow_the_credentials() -> None:
    assert configured_channels(Config().telegram, Config().zalo) == ()
    with_telegram = Config(telegram=TelegramConfig(token="1:abc"))
    assert configured_channels(with_telegram.telegram, with_telegram.zalo) == (Channel.TELEGRAM,)


async def test_staff_subscription_does_not_matter_for_staff_rights(engine: AsyncEngine) -> None:
    # Staff rights come from config, never from anything a chat can change.
    store = SubscriptionStore(engine, {})
    await store.subscribe(ChatRef(Channel.TELEGRAM, "555"))
    assert not make_service(engine).is_staff(CITIZEN)
