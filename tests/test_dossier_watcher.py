"""Change notifications: once per change and subscriber, in order, across restarts and
processes, with retries; and the signed push endpoint (unsigned, stale, replayed...)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.dossier_push import add_dossier_push_route
from bot.config import Config, DossierConfig, DossierSqlConfig
from bot.dossiers import bundled
from bot.dossiers.model import DossierStatus
from bot.dossiers.push import PushReceiver, sign_push
from bot.dossiers.receipt_codes import ReceiptCode
from bot.dossiers.service import DossierService, Found, SubscribeResult, open_dossier_source
from bot.dossiers.source import GuardedSource
from bot.dossiers.watcher import CLAIM_LEASE, DossierUpdate, DossierWatcher, Notify
from bot.messages import Channel, ChatRef, RecipientBlocked, TransientSendError
from bot.storage.database import create_engine
from bot.storage.dossier_tables import deliveries, push_nonces
from bot.storage.schema import ensure_schema

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2025, 11, 20, 10, 0, tzinfo=VN)
ALICE = ChatRef(Channel.TELEGRAM, "100")
BOB = ChatRef(Channel.ZALO, "z-200")
CAROL = ChatRef(Channel.WEB, "w-300")
FIRST = ReceiptCode.parse("000.00.12.H58-251117-0001")
SECOND = ReceiptCode.parse("000.00.12.H58-251117-0002")
UNWATCHED = ReceiptCode.parse("000.00.12.H58-251117-0003")
SECRET = "push-secret-for-tests"


def local(minute: int, day: int = 20, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, 11, day, hour, minute)


class Recorder:
    """The app's notify callback: records (chat, change key, status); can fail on demand."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, DossierStatus | None]] = []
        self.updates: list[DossierUpdate] = []
        self.fail_next: dict[str, BaseException] = {}  # change_key -> error to raise once
        self.after_send: Any = None
        self.arrived = asyncio.Event()

    async def __call__(self, chat: ChatRef, update: DossierUpdate) -> None:
        error = self.fail_next.pop(f"{chat}|{update.change_key}", None)
        if error is not None:
            raise error
        self.sent.append((str(chat), update.change_key, update.view.status))
        self.updates.append(update)
        self.arrived.set()
        if self.after_send is not None:
            await self.after_send(len(self.sent))


@dataclasses.dataclass
class World:
    config: Config
    dossier_engine: AsyncEngine
    bot_engine: AsyncEngine
    service: DossierService
    sources: list[GuardedSource] = dataclasses.field(default_factory=list)

    def watcher(self, notify: Notify) -> DossierWatcher:
        """A watcher with its own source, as another bot process would have."""
        source = open_dossier_source(self.config.dossiers)
        self.sources.append(source)
        return DossierWatcher.from_config(
            self.config.dossiers, self.config.center, source, self.bot_engine, notify
        )

    async def change(
        self, code: ReceiptCode, status: DossierStatus, at: dt.datetime, step: str = ""
    ) -> None:
        async with self.dossier_engine.begin() as connection:
            await connection.execute(
                bundled.dossier_history.insert().values(
                    dossier_code=code.value,
                    at=at,
                    status=int(status),
                    step=step or f"Bước {status.portal_name}",
                    agency="Sở Tư pháp",
                    note="",
                )
            )
            await connection.execute(
                bundled.dossiers.update()
                .where(bundled.dossiers.c.code == code.value)
                .values(status=int(status), current_step=step)
            )

    async def subscribe(self, chat: ChatRef, code: ReceiptCode) -> None:
        found = await self.service.lookup(chat, chat.chat_id, code, "4567", NOW)
        assert isinstance(found, Found)
        assert await self.service.subscribe(chat, code, NOW) is SubscribeResult.SUBSCRIBED


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bot_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def world(tmp_path: Path, bot_url: str) -> AsyncIterator[World]:
    dossier_url = f"sqlite+aiosqlite:///{tmp_path / 'dossiers.sqlite3'}"
    dossier_engine = create_engine(dossier_url)
    async with dossier_engine.begin() as connection:
        await connection.run_sync(bundled.dossier_metadata.create_all)
        await connection.execute(
            bundled.dossiers.insert(),
            [
                {
                    "code": code.value,
                    "procedure_name": "Cấp Phiếu lý lịch tư pháp",
                    "applicant_name": "Phạm Minh Khánh",
                    "applicant_phone": "0988004567",
                    "status": 2,
                    "received_at": dt.datetime(2025, 11, 17, 8, 0),
                    "due_at": dt.datetime(2025, 11, 28, 16, 30),
                }
                for code in (FIRST, SECOND, UNWATCHED)
            ],
        )
        await connection.execute(
            bundled.dossier_history.insert(),
            [
                {"dossier_code": code.value, "at": dt.datetime(2025, 11, 17, 8, 0), "status": 2}
                for code in (FIRST, SECOND, UNWATCHED)
            ],
        )
    config = dataclasses.replace(
        Config(),
        dossiers=DossierConfig(
            push_secret=SECRET,
            watch_interval_seconds=3600,
            notify_max_attempts=3,
            sql=DossierSqlConfig(url=dossier_url),
        ),
    )
    bot_engine = create_engine(bot_url)
    await ensure_schema(bot_engine)
    service = DossierService.from_config(config.dossiers, config.center, bot_engine)
    world = World(config, dossier_engine, bot_engine, service)
    yield world
    for source in world.sources:
        await source.close()
    await service.close()
    await bot_engine.dispose()
    await dossier_engine.dispose()


async def test_each_change_is_announced_once_and_returned_ends_it(world: World) -> None:
    recorder = Recorder()
    watcher = world.watcher(recorder)
    first_round = await watcher.run_once(NOW)  # stores the current cursor: old news stays old
    assert (first_round.changes_seen, recorder.sent) == (0, [])
    await world.subscribe(ALICE, FIRST)
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(5))
    await world.change(UNWATCHED, DossierStatus.IN_PROGRESS, local(6))
    await world.change(FIRST, DossierStatus.SUPPLEMENT_REQUESTED, local(7))
    report = await watcher.run_once(NOW)
    assert (report.changes_seen, report.changes_recorded, report.delivered) == (3, 2, 2)
    assert [(s[0], s[2]) for s in recorder.sent] == [
        ("telegram:100", DossierStatus.IN_PROGRESS),
        ("telegram:100", DossierStatus.SUPPLEMENT_REQUESTED),
    ]
    assert recorder.updates[0].view.applicant_name_masked == "Phạm M** K**"
    assert not recorder.updates[0].subscription_ended
    assert (await watcher.run_once(NOW)).delivered == 0  # nothing new: nothing sent

    await world.change(FIRST, DossierStatus.RETURNED, local(9))
    await watcher.run_once(NOW)
    assert recorder.sent[-1][2] is DossierStatus.RETURNED
    assert recorder.updates[-1].subscription_ended
    assert await world.service.subscriptions(ALICE) == ()
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(11))  # staff reopened it
    await watcher.run_once(NOW)
    assert len(recorder.sent) == 3


async def test_no_repeats_and_no_gaps_across_a_restart(world: World) -> None:
    await world.watcher(Recorder()).run_once(NOW)
    for chat in (ALICE, BOB):
        await world.subscribe(chat, FIRST)
    await world.subscribe(CAROL, SECOND)
    statuses = [
        DossierStatus.IN_PROGRESS,
        DossierStatus.SUPPLEMENT_REQUESTED,
        DossierStatus.IN_PROGRESS,
    ]
    for minute, status in enumerate(statuses, start=1):
        await world.change(FIRST, status, local(minute))
        await world.change(SECOND, status, local(minute, hour=11))

    # First process: stops after the fourth notice (as on a deploy).
    before = Recorder()
    first_process = world.watcher(before)

    async def stop_after_four(count: int) -> None:
        if count == 4:
            await first_process.stop()

    before.after_send = stop_after_four
    await first_process.run_once(NOW)
    assert len(before.sent) == 4

    # Changes made while no watcher runs are not lost.
    await world.change(FIRST, DossierStatus.COMPLETED, local(30))
    await world.change(SECOND, DossierStatus.COMPLETED, local(30, hour=11))

    after = Recorder()
    second_process = world.watcher(after)  # a new source and watcher on the same databases
    await second_process.run_once(NOW)
    await second_process.run_once(NOW)

    every = before.sent + after.sent
    assert len(every) == len(set(every)) == 2 * 4 + 4  # no repeats...
    for chat_key, code_statuses in (
        ("telegram:100", [*statuses, DossierStatus.COMPLETED]),
        ("zalo:z-200", [*statuses, DossierStatus.COMPLETED]),
        ("web:w-300", [*statuses, DossierStatus.COMPLETED]),
    ):
        # ...no gaps, and each chat hears about its dossier in order.
        assert [s[2] for s in every if s[0] == chat_key] == code_statuses


async def test_a_failed_notice_is_retried_next_round_then_given_up(world: World) -> None:
    watcher = world.watcher(recorder := Recorder())
    await watcher.run_once(NOW)
    await world.subscribe(ALICE, FIRST)
    await world.subscribe(BOB, FIRST)
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(1))
    await world.change(FIRST, DossierStatus.COMPLETED, local(2))
    page = await world.watcher(Recorder()).run_once(NOW)  # records, and delivers elsewhere
    assert page.delivered == 4
    # Fresh changes for a failing recipient: the first fails once; the next waits for it.
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(3))
    await world.change(FIRST, DossierStatus.COMPLETED, local(4))
    async with world.dossier_engine.connect() as connection:
        ids = (
            (
                await connection.execute(
                    select(bundled.dossier_history.c.id).order_by(bundled.dossier_history.c.id)
                )
            )
            .scalars()
            .all()
        )
    third, fourth = str(ids[-2]), str(ids[-1])
    recorder.fail_next[f"telegram:100|{third}"] = TransientSendError("network")
    report = await watcher.run_once(NOW)
    assert (report.delivered, report.failed) == (2, 1)  # Bob got both, Alice neither
    assert [s for s in recorder.sent if s[0] == "telegram:100"] == []
    report = await watcher.run_once(NOW)
    assert [s[1] for s in recorder.sent if s[0] == "telegram:100"] == [third, fourth]

    # A notice that keeps failing is given up after notify_max_attempts (3).
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(5))
    fifth = str(ids[-1] + 1)
    for _ in range(3):
        recorder.fail_next[f"zalo:z-200|{fifth}"] = TransientSendError("still down")
        await watcher.run_once(NOW)
    await watcher.run_once(NOW)
    assert [s[1] for s in recorder.sent if s[0] == "zalo:z-200"][-1] != fifth
    async with world.bot_engine.connect() as connection:
        states = (
            await connection.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            )
        ).all()
    assert {str(state): int(count) for state, count in states}["abandoned"] == 1


async def test_a_blocked_recipient_loses_the_subscription(world: World) -> None:
    watcher = world.watcher(recorder := Recorder())
    await watcher.run_once(NOW)
    await world.subscribe(ALICE, FIRST)
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(1))
    async with world.dossier_engine.connect() as connection:
        last = (
            await connection.execute(select(func.max(bundled.dossier_history.c.id)))
        ).scalar_one()
    recorder.fail_next[f"telegram:100|{last}"] = RecipientBlocked("bot blocked")
    await watcher.run_once(NOW)
    assert await world.service.subscriptions(ALICE) == ()
    await world.change(FIRST, DossierStatus.COMPLETED, local(2))
    await watcher.run_once(NOW)
    assert recorder.sent == []


async def test_a_crash_in_the_middle_of_a_notice_is_resent_after_the_claim_expires(
    world: World,
) -> None:
    await world.watcher(Recorder()).run_once(NOW)
    await world.subscribe(ALICE, FIRST)
    await world.change(FIRST, DossierStatus.IN_PROGRESS, local(1))
    hanging = asyncio.Event()

    async def never_returns(chat: ChatRef, update: DossierUpdate) -> None:
        hanging.set()
        await asyncio.Event().wait()

    crashed = world.watcher(never_returns)
    task = asyncio.create_task(crashed.run_once(NOW))
    await hanging.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    recorder = Recorder()
    survivor = world.watcher(recorder)
    await survivor.run_once(NOW)
    assert recorder.sent == []  # still claimed by the crashed process
    await survivor.run_once(NOW + CLAIM_LEASE + dt.timedelta(seconds=1))
    assert [s[2] for s in recorder.sent] == [DossierStatus.IN_PROGRESS]


async def test_two_processes_at_once_send_each_notice_once(world: World) -> None:
    await world.watcher(Recorder()).run_once(NOW)
    for chat in (ALICE, BOB):
        await world.subscribe(chat, FIRST)
    for minute in range(1, 6):
        await world.change(FIRST, DossierStatus.IN_PROGRESS, local(minute), f"Bước {minute}")
    one, two = Recorder(), Recorder()
    await asyncio.gather(world.watcher(one).run_once(NOW), world.watcher(two).run_once(NOW))
    every = one.sent + two.sent
    assert len(every) == len(set(every)) == 10


# --- pushes -----------------------------------------------------------------------------


def push_body(*changes: dict[str, Any]) -> bytes:
    return json.dumps({"changes": list(changes)}, ensure_ascii=False).encode()


async def push_client(world: World, watcher: DossierWatcher, aiohttp_client: Any) -> Any:
    app = web.Application()
    receiver = PushReceiver(world.config.dossiers, world.bot_engine, watcher)
    assert add_dossier_push_route(app, receiver, world.config.dossiers.push_path)
    return await aiohttp_client(app)


async def test_push_endpoint_refuses_unsigned_stale_and_replayed(
    world: World, aiohttp_client: Any
) -> None:
    watcher = world.watcher(recorder := Recorder())
    await watcher.run_once(NOW)
    await world.subscribe(ALICE, FIRST)
    client = await push_client(world, watcher, aiohttp_client)
    path = world.config.dossiers.push_path
    body = push_body(
        {
            "change_id": "push-1",
            "code": FIRST.value,
            "status": "Đã xử lý xong",
            "changed_at": "2025-11-20T10:30:00+07:00",
            "current_step": "Chờ trả kết quả",
        }
    )

    unsigned = await client.post(path, data=body)
    assert unsigned.status == 401
    forged = await client.post(path, data=body, headers=sign_push("wrong secret", body))
    assert forged.status == 401
    stale_headers = sign_push(SECRET, body, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    assert (await client.post(path, data=body, headers=stale_headers)).status == 401
    tampered = sign_push(SECRET, body)
    assert (await client.post(path, data=body + b" ", headers=tampered)).status == 401
    assert recorder.sent == []

    headers = sign_push(SECRET, body)
    accepted = await client.post(path, data=body, headers=headers)
    assert accepted.status == 202
    assert await accepted.json() == {"result": "accepted", "changes": 1}
    replayed = await client.post(path, data=body, headers=headers)
    assert (replayed.status, (await replayed.json())["result"]) == (409, "replayed")

    # Another bot process (its own receiver, same database) also knows the signature.
    other = await push_client(world, world.watcher(Recorder()), aiohttp_client)
    assert (await other.post(path, data=body, headers=headers)).status == 409

    garbage = b"not json"
    assert (
        await client.post(path, data=garbage, headers=sign_push(SECRET, garbage))
    ).status == 400
    nameless = push_body({"code": FIRST.value, "status": 4})
    assert (
        await client.post(path, data=nameless, headers=sign_push(SECRET, nameless))
    ).status == 400

    await watcher.run_once(NOW)
    assert recorder.sent == [("telegram:100", "push-1", DossierStatus.COMPLETED)]
    assert recorder.updates[0].view.is_ready_for_pickup
    async with world.bot_engine.connect() as connection:
        assert (
            await connection.execute(select(func.count()).select_from(push_nonces))
        ).scalar_one() == 1


async def test_a_push_wakes_the_running_watcher(world: World, aiohttp_client: Any) -> None:
    watcher = world.watcher(recorder := Recorder())
    await watcher.run_once(NOW)
    await world.subscribe(ALICE, FIRST)
    client = await push_client(world, watcher, aiohttp_client)
    await watcher.start()  # polls once now, then sleeps an hour unless woken
    try:
        await asyncio.sleep(0.1)
        await world.change(FIRST, DossierStatus.IN_PROGRESS, local(1))
        empty = b"{}"  # "something changed, poll now"
        answer = await client.post(
            world.config.dossiers.push_path, data=empty, headers=sign_push(SECRET, empty)
        )
        assert answer.status == 202
        await asyncio.wait_for(recorder.arrived.wait(), timeout=10)
        assert [s[2] for s in recorder.sent] == [DossierStatus.IN_PROGRESS]
    finally:
        await watcher.stop()


async def test_no_secret_no_endpoint(world: World) -> None:
    config = dataclasses.replace(world.config.dossiers, push_secret="")
    receiver = PushReceiver(config, world.bot_engine, world.watcher(Recorder()))
    app = web.Application()
    assert not add_dossier_push_route(app, receiver, config.push_path)
    assert len(app.router.routes()) == 0
