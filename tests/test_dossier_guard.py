"""The guard against guessing the 4 digits (bot.dossiers.guard), through the dossier
service: failures counted per dossier whoever asks, per network address and overall, in
the bot's database (SQLite and PostgreSQL), with waits that grow, a warning in the log and
in the staff statistics. The attack through the web chat itself is in
test_dossier_guard_attack.py."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import DemoDossier, base_config, demo_dossier
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import staff_texts
from bot.config import Config
from bot.dialogue.staff_flow import statistics_reply
from bot.dossiers.guard import GuardLimits
from bot.dossiers.receipt_codes import ReceiptCode
from bot.dossiers.retention import forget_personal_data
from bot.dossiers.service import (
    DossierService,
    Found,
    LockedOut,
    LockReason,
    NotFoundOrMismatch,
    Unavailable,
    VerificationNeeded,
)
from bot.messages import Channel, ChatRef
from bot.stats.report import collect_statistics, format_statistics
from bot.storage.dossier_tables import failed_lookups, lookup_audit

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
MINUTE = dt.timedelta(minutes=1)


def web_chat(number: int) -> ChatRef:
    """A fresh web chat, as a guessing script opens one every three guesses."""
    return ChatRef(Channel.WEB, f"guesser-chat-{number:06d}")


def wrong(dossier: DemoDossier, number: int = 0) -> str:
    """Four digits that are not the dossier's."""
    return f"{(int(dossier.phone_last4) + 1 + number) % 10000:04d}"


@pytest.fixture
async def config(tmp_path: Path, project_root: Path) -> Config:
    return base_config(tmp_path, project_root)


@pytest.fixture
async def dossier(config: Config) -> DemoDossier:
    return await demo_dossier(config)


@pytest.fixture
async def service(config: Config, engine: AsyncEngine) -> AsyncIterator[DossierService]:
    service = DossierService.from_config(config.dossiers, config.center, engine)
    yield service
    await service.close()


def with_dossiers(config: Config, **changes: Any) -> Config:
    return dataclasses.replace(config, dossiers=dataclasses.replace(config.dossiers, **changes))


async def guess(
    service: DossierService,
    dossier: DemoDossier | ReceiptCode,
    digits: str,
    number: int,
    at: dt.datetime,
    address: str = "",
) -> object:
    code = dossier if isinstance(dossier, ReceiptCode) else ReceiptCode.parse(dossier.code)
    chat = web_chat(number)
    return await service.lookup(chat, chat.chat_id, code, digits, at, address=address)


def test_the_wait_doubles_from_the_first_and_stops_at_the_longest() -> None:
    limits = GuardLimits.from_config(Config().dossiers)
    waits = [limits.wait_after(failures, 3) for failures in range(1, 17)]
    minutes = [int(wait / MINUTE) for wait in waits]
    assert minutes == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1440, 1440, 1440]
    assert limits.wait_after(10**6, 3) == dt.timedelta(hours=24)


async def test_new_chats_share_the_dossiers_failures_and_wait_alike_for_unknown_codes(
    service: DossierService, dossier: DemoDossier, engine: AsyncEngine
) -> None:
    unknown = ReceiptCode.parse(dossier.code[:-4] + "9999")
    for first_chat, code in ((0, ReceiptCode.parse(dossier.code)), (100, unknown)):
        answers = [
            await guess(service, code, wrong(dossier, n), first_chat + n, NOW) for n in range(3)
        ]
        # Each new chat is a new person with all its attempts, but the dossier has fewer.
        assert answers[:2] == [NotFoundOrMismatch(2), NotFoundOrMismatch(1)]
        assert answers[2] == NotFoundOrMismatch(0, NOW + MINUTE, LockReason.DOSSIER_GUARDED)
        # A fourth chat, even with the right digits, waits; so does only asking (no digits).
        right = await guess(service, code, dossier.phone_last4, first_chat + 3, NOW + MINUTE / 2)
        assert right == LockedOut(NOW + MINUTE, LockReason.DOSSIER_GUARDED)
        chat = web_chat(first_chat + 4)
        asked = await service.lookup(chat, chat.chat_id, code, None, NOW)
        assert asked == LockedOut(NOW + MINUTE, LockReason.DOSSIER_GUARDED)

    # The owner, once the wait is over, gets in; a code without a dossier does not.
    later = NOW + MINUTE + dt.timedelta(seconds=1)
    owner = await guess(service, dossier, dossier.phone_last4, 10, later)
    assert isinstance(owner, Found)
    # The next failure waits twice as long (2 minutes), whoever makes it.
    fourth = await guess(service, unknown, "1234", 11, later)
    assert fourth == NotFoundOrMismatch(0, later + 2 * MINUTE, LockReason.DOSSIER_GUARDED)
    outcomes = await audit_outcomes(engine)
    assert outcomes.count("dossier_guarded") == 4
    # Refused attempts reached neither the source nor the count.
    assert await counted_failures(engine) == 3 + 3 + 1


async def test_a_chat_that_verified_before_keeps_its_access_during_the_wait(
    service: DossierService, dossier: DemoDossier
) -> None:
    owner = ChatRef(Channel.TELEGRAM, "777")
    code = ReceiptCode.parse(dossier.code)
    assert isinstance(await service.lookup(owner, "777", code, dossier.phone_last4, NOW), Found)
    for number in range(3):
        await guess(service, dossier, wrong(dossier, number), number, NOW)
    assert isinstance(await guess(service, dossier, dossier.phone_last4, 9, NOW), LockedOut)
    assert isinstance(await service.lookup(owner, "777", code, None, NOW), Found)


async def test_an_address_waits_after_its_failures_on_any_dossiers(
    config: Config, dossier: DemoDossier, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    service = DossierService.from_config(
        with_dossiers(config, address_max_failures=4).dossiers, config.center, engine
    )
    base = dossier.code[:-4]
    caplog.set_level(logging.WARNING, "bot.dossiers.guard")
    for number in range(4):
        code = ReceiptCode.parse(f"{base}{9000 + number:04d}")
        await guess(service, code, "1234", number, NOW, address="198.51.100.7")
    # The dossier's owner from that address waits; from another address gets in.
    waiting = await guess(service, dossier, dossier.phone_last4, 5, NOW, "198.51.100.7")
    assert waiting == LockedOut(NOW + MINUTE, LockReason.ADDRESS_GUARDED)
    found = await guess(service, dossier, dossier.phone_last4, 6, NOW, "198.51.100.8")
    assert isinstance(found, Found)
    assert "address 198.51.100.7 failed 4 times in 24 hours" in caplog.text
    await service.close()


async def test_many_addresses_failing_at_once_pause_new_verifications(
    config: Config, dossier: DemoDossier, engine: AsyncEngine
) -> None:
    service = DossierService.from_config(
        with_dossiers(config, max_failures_per_hour=5).dossiers, config.center, engine
    )
    base = dossier.code[:-4]
    for number in range(5):
        code = ReceiptCode.parse(f"{base}{9000 + number:04d}")
        at = NOW + number * MINUTE
        await guess(service, code, "1234", number, at, address=f"203.0.113.{number}")
    paused = await guess(service, dossier, dossier.phone_last4, 8, NOW + 10 * MINUTE, "192.0.2.1")
    # Until the oldest of the five leaves the hour.
    assert paused == LockedOut(NOW + dt.timedelta(hours=1), LockReason.LOOKUPS_PAUSED)
    later = NOW + dt.timedelta(hours=1, seconds=1)
    assert isinstance(await guess(service, dossier, dossier.phone_last4, 9, later), Found)
    await service.close()


async def test_parallel_guesses_from_two_processes_are_counted_before_they_are_checked(
    config: Config, dossier: DemoDossier, engine: AsyncEngine
) -> None:
    """40 guesses at once, half through each of two bot processes: only 3 are compared."""
    first = DossierService.from_config(config.dossiers, config.center, engine)
    second = DossierService.from_config(config.dossiers, config.center, engine)
    answers = await asyncio.gather(
        *(
            guess(first if n % 2 else second, dossier, f"{n:04d}", n, NOW, f"203.0.113.{n}")
            for n in range(40)
        )
    )
    compared = [a for a in answers if isinstance(a, NotFoundOrMismatch | Found)]
    assert len(compared) == 3, answers
    assert all(isinstance(a, LockedOut) for a in answers if a not in compared)
    assert await counted_failures(engine) == 3
    await first.close()
    await second.close()


async def test_an_outage_of_the_source_costs_the_dossier_nothing(
    config: Config, dossier: DemoDossier, engine: AsyncEngine
) -> None:
    missing = dataclasses.replace(config.dossiers.sql, url="sqlite+aiosqlite:////nonexistent/x")
    broken = dataclasses.replace(
        config, dossiers=dataclasses.replace(config.dossiers, sql=missing)
    )
    service = DossierService.from_config(broken.dossiers, broken.center, engine)
    for number in range(5):
        assert await guess(service, dossier, "1234", number, NOW) == Unavailable()
    assert await counted_failures(engine) == 0
    await service.close()


async def test_the_log_and_the_staff_statistics_name_the_dossier_and_the_addresses(
    service: DossierService,
    dossier: DemoDossier,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "bot.dossiers.guard")
    for number in range(3):
        await guess(service, dossier, wrong(dossier, number), number, NOW, f"203.0.113.{number}")
    assert (
        f"dossier lookups: {dossier.code} failed 3 times from 3 chats (addresses: "
        "203.0.113.0, 203.0.113.1, 203.0.113.2)" in caplog.text
    )

    stats = await collect_statistics(engine, 7)
    [alert] = stats.guessing
    assert (alert.code, alert.failures, alert.chats) == (dossier.code, 3, 3)
    assert alert.addresses == ("203.0.113.0", "203.0.113.1", "203.0.113.2")
    assert alert.wait_until == NOW + MINUTE
    report = format_statistics(stats)
    assert staff_texts.STATS_GUESSING_HEADING in report
    assert (
        f"{dossier.code}  sai 3 lần từ 3 cuộc trò chuyện; địa chỉ 203.0.113.0, 203.0.113.1"
        in report
    )
    reply = statistics_reply(stats, None).plain_text()
    assert staff_texts.STATS_GUESSING_HEADING in reply
    assert dossier.code in reply and "203.0.113.2" in reply


async def test_retention_erases_old_failed_attempts(
    service: DossierService, dossier: DemoDossier, engine: AsyncEngine
) -> None:
    await guess(service, dossier, wrong(dossier), 1, NOW - dt.timedelta(days=400), "192.0.2.9")
    await guess(service, dossier, wrong(dossier), 2, NOW, "192.0.2.9")
    async with engine.begin() as connection:
        await forget_personal_data(connection, NOW - dt.timedelta(days=365))
    assert await counted_failures(engine) == 1


async def audit_outcomes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(lookup_audit.c.outcome).order_by(lookup_audit.c.id))
        return [str(outcome) for outcome in rows.scalars()]


async def counted_failures(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.execute(select(func.count()).select_from(failed_lookups))
        return int(count.scalar_one())


async def test_asking_without_digits_is_not_an_attempt(
    service: DossierService, dossier: DemoDossier, engine: AsyncEngine
) -> None:
    for number in range(10):
        chat = web_chat(number)
        code = ReceiptCode.parse(dossier.code)
        asked = await service.lookup(chat, chat.chat_id, code, None, NOW)
        assert asked == VerificationNeeded("phone_last4")
    assert await counted_failures(engine) == 0
