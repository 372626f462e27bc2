"""The dossier service: verification, the same answer for unknown and mismatched, limits and
growing lockouts kept in the database, grants, audit rows, views, history, subscriptions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config, DossierConfig, DossierSqlConfig, Verification
from bot.dossiers import bundled
from bot.dossiers.access import verification_digits
from bot.dossiers.model import DossierStatus
from bot.dossiers.receipt_codes import MalformedReceiptCode, ReceiptCode
from bot.dossiers.service import (
    DossierService,
    Found,
    HistoryFound,
    LockedOut,
    LockReason,
    NotFoundOrMismatch,
    SubscribeResult,
    Unavailable,
    VerificationNeeded,
)
from bot.dossiers.source import GuardedSource
from bot.dossiers.sql_source import SqlDossierSource
from bot.dossiers.view import mask_name
from bot.dossiers.working_days import WorkingCalendar
from bot.messages import Channel, ChatRef
from bot.storage.database import create_engine
from bot.storage.dossier_tables import lookup_audit
from bot.storage.schema import ensure_schema

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2025, 11, 20, 10, 0, tzinfo=VN)  # a Thursday
CHAT = ChatRef(Channel.TELEGRAM, "1001")
OTHER_CHAT = ChatRef(Channel.ZALO, "z-2002")
USER = "1001"

IN_PROGRESS = ReceiptCode.parse("000.00.12.H58-251117-0001")
OVERDUE = ReceiptCode.parse("000.00.12.H58-251110-0003")
RETURNED = ReceiptCode.parse("000.00.12.H58-251103-0002")
UNKNOWN = ReceiptCode.parse("000.00.12.H58-251117-0099")
PHONE_LAST4 = "4567"
ID_LAST4 = "9012"


def unknown(number: int) -> ReceiptCode:
    """A code no dossier has; a different one for each number."""
    return ReceiptCode.parse(f"000.00.12.H58-251118-{number:04d}")


def local(day: int, hour: int = 16, minute: int = 30, month: int = 11) -> dt.datetime:
    """A naive local time in November 2025, as the one-stop database stores it."""
    return dt.datetime(2025, month, day, hour, minute)


def dossier_row(code: ReceiptCode, status: DossierStatus, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": code.value,
        "procedure_code": "1.001612",
        "procedure_name": "Đăng ký thành lập hộ kinh doanh",
        "applicant_name": "Nguyễn Văn An",
        "applicant_phone": "0901 23 4567",
        "applicant_id_number": "001201009012",
        "status": int(status),
        "received_at": local(17, 8, 0),
        "due_at": local(20),
        "current_step": "Thẩm định hồ sơ",
        "agency": "UBND phường Đông Hải",
        # Every row names every column: a multi-row insert takes its columns from the first.
        "new_due_at": None,
        "finished_at": None,
        "returned_at": None,
        "missing_documents": "",
    }
    row.update(values)
    return row


@pytest.fixture
async def dossier_db(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossiers.sqlite3'}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(bundled.dossier_metadata.create_all)
        await connection.execute(
            bundled.dossiers.insert(),
            [
                dossier_row(IN_PROGRESS, DossierStatus.IN_PROGRESS, due_at=local(21)),
                dossier_row(
                    OVERDUE,
                    DossierStatus.SUPPLEMENT_REQUESTED,
                    applicant_name="Trần Thị Bích Ngọc",
                    received_at=local(10, 9, 0),
                    due_at=local(14),  # Friday; Mon 17 is a configured holiday below
                    new_due_at=local(26),
                    missing_documents="Bản sao hợp đồng thuê nhà\nBiên bản họp gia đình",
                ),
                dossier_row(
                    RETURNED,
                    DossierStatus.RETURNED,
                    received_at=local(3, 8, 0),
                    due_at=local(6),
                    finished_at=local(6, 10, 0),
                    returned_at=local(7, 9, 0),
                ),
            ],
        )
        await connection.execute(
            bundled.dossier_history.insert(),
            [
                {
                    "dossier_code": IN_PROGRESS.value,
                    "at": local(17, 8, 0),
                    "status": 2,
                    "step": "Tiếp nhận",
                    "agency": "Trung tâm",
                },
                {
                    "dossier_code": IN_PROGRESS.value,
                    "at": local(18, 9, 0),
                    "status": 4,
                    "step": "Thẩm định hồ sơ",
                    "agency": "UBND phường Đông Hải",
                },
            ],
        )
    yield url, engine
    await engine.dispose()


@pytest.fixture
async def bot_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


def make_service(
    dossier_url: str,
    bot_engine: AsyncEngine,
    verification: Verification = "phone_last4",
    **overrides: Any,
) -> DossierService:
    dossiers = DossierConfig(
        verification=verification,
        holidays=(dt.date(2025, 11, 17),),
        sql=DossierSqlConfig(url=dossier_url),
        **overrides,
    )
    config = dataclasses.replace(Config(), dossiers=dossiers)
    return DossierService.from_config(config.dossiers, config.center, bot_engine)


@pytest.fixture
async def service(
    dossier_db: tuple[str, AsyncEngine], bot_engine: AsyncEngine
) -> AsyncIterator[DossierService]:
    service = make_service(dossier_db[0], bot_engine)
    yield service
    await service.close()


async def audit_outcomes(engine: AsyncEngine) -> list[tuple[str, str, str, str]]:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    lookup_audit.c.channel,
                    lookup_audit.c.user_id,
                    lookup_audit.c.code,
                    lookup_audit.c.outcome,
                ).order_by(lookup_audit.c.id)
            )
        ).all()
    return [tuple(row) for row in rows]


# --- verification -----------------------------------------------------------------------


async def test_verification_is_asked_before_anything_is_read(
    service: DossierService, bot_engine: AsyncEngine
) -> None:
    for code in (IN_PROGRESS, UNKNOWN):  # the same answer whether the dossier exists or not
        outcome = await service.lookup(CHAT, USER, code, None, NOW)
        assert outcome == VerificationNeeded("phone_last4")
    assert [row[3] for row in await audit_outcomes(bot_engine)] == [
        "verification_needed",
        "verification_needed",
    ]


async def test_found_view_is_masked_and_the_chat_keeps_access(
    service: DossierService, bot_engine: AsyncEngine
) -> None:
    outcome = await service.lookup(CHAT, USER, IN_PROGRESS, "0901234567", NOW)
    assert isinstance(outcome, Found)
    view = outcome.view
    assert view.applicant_name_masked == "Nguyễn V** A**"
    assert "Nguyễn Văn An" not in view.to_json()
    assert "4567" not in view.to_json()  # verification values never reach the view
    assert view.status is DossierStatus.IN_PROGRESS
    assert view.due_at == dt.datetime(2025, 11, 21, 16, 30, tzinfo=VN)
    assert (view.is_overdue, view.working_days_left) == (False, 1)
    assert view.pickup_place == Config().center.result_pickup
    # The same chat again: no verification needed. Another chat of the same person: needed.
    again = await service.lookup(CHAT, USER, IN_PROGRESS, None, NOW)
    assert isinstance(again, Found)
    assert await service.lookup(OTHER_CHAT, USER, IN_PROGRESS, None, NOW) == VerificationNeeded(
        "phone_last4"
    )
    assert [row[3] for row in await audit_outcomes(bot_engine)] == [
        "found",
        "found",
        "verification_needed",
    ]


async def test_unknown_and_mismatch_look_the_same_and_are_audited_apart(
    service: DossierService, bot_engine: AsyncEngine
) -> None:
    unknown = await service.lookup(CHAT, USER, UNKNOWN, PHONE_LAST4, NOW)
    mismatch = await service.lookup(OTHER_CHAT, "other-user", IN_PROGRESS, "1111", NOW)
    assert unknown == mismatch == NotFoundOrMismatch(attempts_left=2, locked_until=None)
    assert await audit_outcomes(bot_engine) == [
        ("telegram", USER, UNKNOWN.value, "not_found"),
        ("zalo", "other-user", IN_PROGRESS.value, "mismatch"),
    ]


async def test_id_number_factor(
    dossier_db: tuple[str, AsyncEngine], bot_engine: AsyncEngine
) -> None:
    service = make_service(dossier_db[0], bot_engine, "id_last4")
    assert await service.lookup(CHAT, USER, IN_PROGRESS, None, NOW) == VerificationNeeded(
        "id_last4"
    )
    assert isinstance(
        await service.lookup(CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW), NotFoundOrMismatch
    )
    assert isinstance(await service.lookup(CHAT, USER, IN_PROGRESS, ID_LAST4, NOW), Found)
    await service.close()


async def test_no_verification_factor(
    dossier_db: tuple[str, AsyncEngine], bot_engine: AsyncEngine
) -> None:
    service = make_service(dossier_db[0], bot_engine, "none")
    assert isinstance(await service.lookup(CHAT, USER, IN_PROGRESS, None, NOW), Found)
    assert isinstance(await service.lookup(CHAT, USER, UNKNOWN, None, NOW), NotFoundOrMismatch)
    await service.close()


def test_verification_digits() -> None:
    assert verification_digits("4567") == "4567"
    assert verification_digits("0901 234 567") == "4567"
    assert verification_digits("số cuối 45-67 ạ") == "4567"
    assert verification_digits("456") is None
    assert verification_digits("") is None


# --- limits and lockouts ----------------------------------------------------------------


async def test_failures_lock_out_with_a_growing_lockout_shared_by_processes(
    dossier_db: tuple[str, AsyncEngine], bot_engine: AsyncEngine
) -> None:
    service = make_service(dossier_db[0], bot_engine, lockout_base_seconds=60)
    moment = NOW
    results = []
    # Different codes each time: the dossier's own count (bot.dossiers.guard) stays out.
    for code in (unknown(1), IN_PROGRESS, unknown(2)):
        results.append(await service.lookup(CHAT, USER, code, "0000", moment))
    assert results[:2] == [NotFoundOrMismatch(2), NotFoundOrMismatch(1)]
    assert results[2] == NotFoundOrMismatch(0, locked_until=moment + dt.timedelta(seconds=60))

    # Even the right answer is refused while locked, and by another bot process too.
    second_process = make_service(dossier_db[0], bot_engine, lockout_base_seconds=60)
    locked = await second_process.lookup(
        CHAT, USER, IN_PROGRESS, PHONE_LAST4, moment + dt.timedelta(seconds=30)
    )
    assert locked == LockedOut(moment + dt.timedelta(seconds=60), LockReason.TOO_MANY_FAILURES)
    # Another person is not affected.
    assert isinstance(
        await service.lookup(OTHER_CHAT, "someone-else", IN_PROGRESS, PHONE_LAST4, moment), Found
    )

    # After the lockout: the next three failures lock for twice as long.
    moment += dt.timedelta(seconds=61)
    for number in (3, 4):
        await service.lookup(CHAT, USER, unknown(number), "0000", moment)
    third = await service.lookup(CHAT, USER, unknown(5), "0000", moment)
    assert third == NotFoundOrMismatch(0, locked_until=moment + dt.timedelta(seconds=120))

    # A day without failures forgets the level.
    moment += dt.timedelta(days=2)
    for number in (6, 7):
        await service.lookup(CHAT, USER, unknown(number), "0000", moment)
    third = await service.lookup(CHAT, USER, unknown(8), "0000", moment)
    assert third == NotFoundOrMismatch(0, locked_until=moment + dt.timedelta(seconds=60))
    outcomes = [row[3] for row in await audit_outcomes(bot_engine)]
    assert outcomes.count("locked_out") == 1
    await service.close()
    await second_process.close()


async def test_a_success_resets_the_failure_count(service: DossierService) -> None:
    await service.lookup(CHAT, USER, unknown(1), "0000", NOW)
    await service.lookup(CHAT, USER, unknown(2), "0000", NOW)
    assert isinstance(await service.lookup(CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW), Found)
    assert await service.lookup(CHAT, USER, unknown(3), "0000", NOW) == NotFoundOrMismatch(2)


async def test_hourly_lookup_limit(
    dossier_db: tuple[str, AsyncEngine], bot_engine: AsyncEngine
) -> None:
    service = make_service(dossier_db[0], bot_engine, max_lookups_per_hour=3)
    for minute in range(3):
        found = await service.lookup(
            CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW + dt.timedelta(minutes=minute)
        )
        assert isinstance(found, Found)
    limited = await service.lookup(CHAT, USER, IN_PROGRESS, None, NOW + dt.timedelta(minutes=5))
    assert limited == LockedOut(NOW + dt.timedelta(hours=1), LockReason.TOO_MANY_LOOKUPS)
    later = NOW + dt.timedelta(hours=1, seconds=1)
    assert isinstance(await service.lookup(CHAT, USER, IN_PROGRESS, None, later), Found)
    assert "rate_limited" in [row[3] for row in await audit_outcomes(bot_engine)]
    await service.close()


# --- the source down --------------------------------------------------------------------


async def test_source_down_is_unavailable_and_costs_no_attempt(bot_engine: AsyncEngine) -> None:
    config = DossierConfig(
        sql=DossierSqlConfig(url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    )
    source = GuardedSource(SqlDossierSource.from_config(config), 2.0)
    service = DossierService(config, source, bot_engine)
    for _ in range(5):
        assert await service.lookup(CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW) == Unavailable()
    assert [row[3] for row in await audit_outcomes(bot_engine)] == ["unavailable"] * 5
    await service.close()


async def test_switched_off_source(
    bot_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    config = dataclasses.replace(Config(), dossiers=DossierConfig(source="none"))
    service = DossierService.from_config(config.dossiers, config.center, bot_engine)
    assert not service.enabled and not service.can_notify
    with caplog.at_level(logging.INFO):
        assert await service.lookup(CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW) == Unavailable()
    assert "unavailable" not in caplog.text  # switched off on purpose is not an outage
    await service.close()


# --- views, history ---------------------------------------------------------------------


async def test_overdue_view_counts_working_days_and_lists_missing_documents(
    service: DossierService,
) -> None:
    outcome = await service.lookup(CHAT, USER, OVERDUE, PHONE_LAST4, NOW)
    assert isinstance(outcome, Found)
    view = outcome.view
    assert view.applicant_name_masked == "Trần T** B** N**"
    assert view.is_overdue
    # Due Friday 14th; Mon 17 is a holiday, so Tue 18, Wed 19, Thu 20 are late days.
    assert view.working_days_overdue == 3
    assert view.working_days_left is None
    assert view.new_due_at == dt.datetime(2025, 11, 26, 16, 30, tzinfo=VN)
    assert view.needs_supplement
    assert view.missing_documents == ("Bản sao hợp đồng thuê nhà", "Biên bản họp gia đình")


async def test_returned_on_time_is_not_overdue(service: DossierService) -> None:
    outcome = await service.lookup(CHAT, USER, RETURNED, PHONE_LAST4, NOW)
    assert isinstance(outcome, Found)
    assert outcome.view.status is DossierStatus.RETURNED
    assert not outcome.view.is_overdue and outcome.view.is_closed
    assert not outcome.view.is_ready_for_pickup


async def test_history_needs_the_same_access(service: DossierService) -> None:
    assert await service.history(CHAT, USER, IN_PROGRESS, None, NOW) == VerificationNeeded(
        "phone_last4"
    )
    outcome = await service.history(CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW)
    assert isinstance(outcome, HistoryFound)
    assert [e.step for e in outcome.history.entries] == ["Tiếp nhận", "Thẩm định hồ sơ"]
    assert outcome.history.dossier.code == IN_PROGRESS.value


def test_find_code_uses_the_centers_today(service: DossierService) -> None:
    found = service.find_code("hồ sơ 000.00.12.H58-251122-0001", now=NOW)
    assert isinstance(found, MalformedReceiptCode)  # dated two days ahead


# --- subscriptions ----------------------------------------------------------------------


async def test_subscriptions_need_a_verified_lookup(service: DossierService) -> None:
    assert await service.subscribe(CHAT, IN_PROGRESS, NOW) is SubscribeResult.NOT_VERIFIED
    await service.lookup(CHAT, USER, IN_PROGRESS, PHONE_LAST4, NOW)
    assert await service.subscribe(CHAT, IN_PROGRESS, NOW) is SubscribeResult.SUBSCRIBED
    assert await service.subscribe(CHAT, IN_PROGRESS, NOW) is SubscribeResult.ALREADY_SUBSCRIBED
    subscriptions = await service.subscriptions(CHAT)
    assert [s.code for s in subscriptions] == [IN_PROGRESS.value]
    assert subscriptions[0].subscribed_at == NOW
    assert await service.subscriptions(OTHER_CHAT) == ()
    assert await service.unsubscribe(CHAT, IN_PROGRESS)
    assert not await service.unsubscribe(CHAT, IN_PROGRESS)
    assert await service.subscriptions(CHAT) == ()
    assert await service.subscribe(CHAT, IN_PROGRESS, NOW) is SubscribeResult.SUBSCRIBED

    await service.lookup(CHAT, USER, RETURNED, PHONE_LAST4, NOW)
    assert await service.subscribe(CHAT, RETURNED, NOW) is SubscribeResult.ALREADY_RETURNED


# --- pure helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Nguyễn Văn An", "Nguyễn V** A**"),
        ("Lê Thị Thu Hà", "Lê T** T** H**"),
        ("  Đỗ   Đức  ", "Đỗ Đ**"),
        ("Madonna", "M**"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_working_days_skip_weekends_and_holidays() -> None:
    calendar = WorkingCalendar([dt.date(2025, 9, 1), dt.date(2025, 9, 2)])
    # Fri 29 Aug -> Wed 3 Sep: Sat, Sun, and the National Day holidays are skipped.
    assert calendar.working_days_between(dt.date(2025, 8, 29), dt.date(2025, 9, 3)) == 1
    assert calendar.add_working_days(dt.date(2025, 8, 29), 1) == dt.date(2025, 9, 3)
    assert calendar.add_working_days(dt.date(2025, 9, 3), -1) == dt.date(2025, 8, 29)
    plain = WorkingCalendar(national_holidays=False)
    assert plain.working_days_between(dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == 260
    due = dt.datetime(2025, 11, 14, 16, 30, tzinfo=VN)  # a Friday
    saturday = dt.datetime(2025, 11, 15, 9, 0, tzinfo=VN)
    lateness = plain.lateness(due, saturday)
    assert (lateness.is_overdue, lateness.working_days_overdue) == (True, 0)
    # A date-only appointment lasts the whole day.
    date_only = dt.datetime(2025, 11, 14, tzinfo=VN)
    assert not plain.lateness(date_only, dt.datetime(2025, 11, 14, 17, 0, tzinfo=VN)).is_overdue
