"""Against guessing the 4 verification digits: attempts counted per dossier, per network
address and overall, in the bot's database, so that every chat, channel and bot process
shares the counts.

The per-person limits of `bot.dossiers.access` stop one chat, but a web chat is a new
person each time the page opens a connection: a script that opened a new chat every three
guesses found a demo dossier's digits after 359 guesses in 2.6 seconds. So every attempt at
a dossier that the chat has not verified yet is written down (`dossier_failed_lookups`)
*before* the digits are compared: it counts as a failure while in flight and is struck off
when it succeeds. An attempt must wait when:

- the dossier has failed `dossier_max_failures` times or more within
  `dossier_failure_days`, and its last failure is more recent than the wait that many
  failures impose: `guard_first_wait_seconds` * 2^(failures - dossier_max_failures), at
  most `guard_max_wait_hours`. "The dossier" is the code as typed, whether such a dossier
  exists or not, so that waiting never tells which codes exist;
- the network address (web chat) has the same, after `address_max_failures` in 24 hours;
- all attempts together failed `max_failures_per_hour` times in the last hour (a brake
  on many addresses guessing many dossiers at once).

With the defaults (3 failures, 60 s doubling to 24 h) the waits after the 3rd, 4th, ...
failure are 1, 2, 4, ..., 512 min, 17 h, then 24 h each: 14 guesses in the first 34 hours,
then one a day. Finding 4 digits takes 5,000 guesses on average: about 13.7 years.

Reserving and checking run one at a time across processes (an advisory lock on PostgreSQL;
on SQLite the reservation is written first, which holds the single writer's lock), so that
parallel guesses cannot all pass a check that none of them has been counted against yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import DossierConfig
from bot.messages import ChatRef
from bot.storage.database import DOSSIER_GUARD_LOCK, lock_transaction
from bot.storage.dossier_tables import failed_lookups, from_utc_naive, utc_naive

log = logging.getLogger(__name__)

ADDRESS_MEMORY = dt.timedelta(hours=24)
OVERALL_WINDOW = dt.timedelta(hours=1)
# Sources named in a warning; more are counted, not listed.
SOURCES_LOGGED = 8


class GuardScope(StrEnum):
    """What an attempt waits for."""

    DOSSIER = "dossier"
    ADDRESS = "address"
    OVERALL = "overall"


@dataclass(frozen=True, slots=True)
class GuardLimits:
    dossier_max_failures: int
    dossier_memory: dt.timedelta
    address_max_failures: int
    max_failures_per_hour: int
    first_wait: dt.timedelta
    max_wait: dt.timedelta

    @classmethod
    def from_config(cls, config: DossierConfig) -> GuardLimits:
        return cls(
            dossier_max_failures=config.dossier_max_failures,
            dossier_memory=dt.timedelta(days=config.dossier_failure_days),
            address_max_failures=config.address_max_failures,
            max_failures_per_hour=config.max_failures_per_hour,
            first_wait=dt.timedelta(seconds=config.guard_first_wait_seconds),
            max_wait=dt.timedelta(hours=config.guard_max_wait_hours),
        )

    def wait_after(self, failures: int, allowed: int) -> dt.timedelta:
        """The wait after `failures` failures when `allowed` are free of it."""
        if failures < allowed:
            return dt.timedelta(0)
        # 2**40 minutes is far beyond any max_wait; the cap keeps the number small.
        doublings: int = min(failures - allowed, 40)
        wait: dt.timedelta = self.first_wait * (1 << doublings)
        return min(wait, self.max_wait)


@dataclass(frozen=True, slots=True)
class GuardHold:
    """An attempt must wait until `until` because of `scope`."""

    scope: GuardScope
    until: dt.datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt written down before the digits are compared (its row's id)."""

    row_id: int
    code: str
    address: str


@dataclass(frozen=True, slots=True)
class GuardedFailure:
    """What a failed attempt changed: how many attempts the dossier and address have left
    before they wait, and the wait it started (the longer of the two), if any."""

    attempts_left: int
    hold: GuardHold | None


@dataclass(frozen=True, slots=True)
class GuessingAlert:
    """A dossier whose failures imposed a wait, for staff statistics."""

    code: str
    failures: int
    chats: int
    addresses: tuple[str, ...]
    last_failure: dt.datetime
    wait_until: dt.datetime


class LookupGuard:
    """The checks and counts described above; every method runs on the caller's connection."""

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits

    async def hold(
        self, connection: AsyncConnection, code: str, address: str, now: dt.datetime
    ) -> GuardHold | None:
        """The wait an attempt at `code` from `address` must respect now, if any."""
        return await self._hold(connection, code, address, now, excluding=None)

    async def reserve(
        self,
        connection: AsyncConnection,
        chat: ChatRef,
        user_id: str,
        code: str,
        address: str,
        now: dt.datetime,
    ) -> Attempt | GuardHold:
        """Write the attempt down, unless it must wait; run in its own transaction."""
        await lock_transaction(connection, DOSSIER_GUARD_LOCK)
        result = await connection.execute(
            failed_lookups.insert()
            .values(
                at=utc_naive(now),
                code=code[:64],
                channel=chat.channel.value,
                chat_id=chat.chat_id,
                user_id=user_id,
                address=address[:64],
            )
            .returning(failed_lookups.c.id)
        )
        row_id = int(result.scalar_one())
        hold = await self._hold(connection, code, address, now, excluding=row_id)
        if hold is not None:
            await connection.execute(delete(failed_lookups).where(failed_lookups.c.id == row_id))
            return hold
        return Attempt(row_id, code[:64], address[:64])

    async def release(self, connection: AsyncConnection, attempt: Attempt) -> None:
        """Strike the attempt off: it succeeded, or the source could not be asked."""
        await connection.execute(
            delete(failed_lookups).where(failed_lookups.c.id == attempt.row_id)
        )

    async def confirm_failure(
        self, connection: AsyncConnection, attempt: Attempt, now: dt.datetime
    ) -> GuardedFailure:
        """The attempt failed: it stays counted. Logs a warning when it starts a wait."""
        limits = self.limits
        dossier_failures, _ = await _failures(
            connection, failed_lookups.c.code == attempt.code, now - limits.dossier_memory
        )
        dossier_wait = limits.wait_after(dossier_failures, limits.dossier_max_failures)
        holds: list[GuardHold] = []
        left = limits.dossier_max_failures - dossier_failures
        if dossier_wait:
            holds.append(GuardHold(GuardScope.DOSSIER, now + dossier_wait))
            await connection.execute(
                update(failed_lookups)
                .where(failed_lookups.c.id == attempt.row_id)
                .values(dossier_wait_until=utc_naive(now + dossier_wait))
            )
            await self._warn_dossier(connection, attempt.code, dossier_failures, now, dossier_wait)
        if attempt.address:
            address_failures, _ = await _failures(
                connection, failed_lookups.c.address == attempt.address, now - ADDRESS_MEMORY
            )
            left = min(left, limits.address_max_failures - address_failures)
            address_wait = limits.wait_after(address_failures, limits.address_max_failures)
            if address_wait:
                holds.append(GuardHold(GuardScope.ADDRESS, now + address_wait))
                log.warning(
                    "dossier lookups: address %s failed %d times in 24 hours (last at %s); "
                    "it waits %s before its next attempt",
                    attempt.address,
                    address_failures,
                    attempt.code,
                    _duration(address_wait),
                )
        overall, _ = await _failures(connection, None, now - OVERALL_WINDOW)
        if overall == limits.max_failures_per_hour:
            log.warning(
                "dossier lookups: %d failed attempts in the last hour, from many chats or "
                "addresses: new verifications pause until the hour frees a slot; see "
                "`bot stats` for the dossiers concerned",
                overall,
            )
        hold = max(holds, key=lambda h: h.until) if holds else None
        return GuardedFailure(max(left, 0), hold)

    async def _hold(
        self,
        connection: AsyncConnection,
        code: str,
        address: str,
        now: dt.datetime,
        excluding: int | None,
    ) -> GuardHold | None:
        limits = self.limits
        others = failed_lookups.c.id != excluding if excluding is not None else None
        holds: list[GuardHold] = []
        scopes: list[tuple[GuardScope, ColumnElement[bool], dt.timedelta, int]] = [
            (
                GuardScope.DOSSIER,
                failed_lookups.c.code == code[:64],
                limits.dossier_memory,
                limits.dossier_max_failures,
            )
        ]
        if address:
            scopes.append(
                (
                    GuardScope.ADDRESS,
                    failed_lookups.c.address == address[:64],
                    ADDRESS_MEMORY,
                    limits.address_max_failures,
                )
            )
        for scope, where, memory, allowed in scopes:
            condition = where if others is None else where & others
            failures, last = await _failures(connection, condition, now - memory)
            wait = limits.wait_after(failures, allowed)
            if wait and last is not None and last + wait > now:
                holds.append(GuardHold(scope, last + wait))
        paused_until = await self._overall_pause(connection, now, others)
        if paused_until is not None:
            holds.append(GuardHold(GuardScope.OVERALL, paused_until))
        return max(holds, key=lambda h: h.until) if holds else None

    async def _overall_pause(
        self, connection: AsyncConnection, now: dt.datetime, others: ColumnElement[bool] | None
    ) -> dt.datetime | None:
        limit = self.limits.max_failures_per_hour
        window = failed_lookups.c.at > utc_naive(now - OVERALL_WINDOW)
        if others is not None:
            window = window & others
        count = (await connection.execute(select(func.count()).where(window))).scalar_one()
        if count < limit:
            return None
        # The window frees a slot when the oldest of the last `limit` failures leaves it.
        oldest = (
            await connection.execute(
                select(failed_lookups.c.at)
                .where(window)
                .order_by(failed_lookups.c.at.desc())
                .offset(limit - 1)
                .limit(1)
            )
        ).scalar_one()
        return from_utc_naive(oldest) + OVERALL_WINDOW

    async def _warn_dossier(
        self,
        connection: AsyncConnection,
        code: str,
        failures: int,
        now: dt.datetime,
        wait: dt.timedelta,
    ) -> None:
        since = utc_naive(now - self.limits.dossier_memory)
        rows = (
            await connection.execute(
                select(
                    failed_lookups.c.channel, failed_lookups.c.chat_id, failed_lookups.c.address
                )
                .where(failed_lookups.c.code == code, failed_lookups.c.at > since)
                .distinct()
            )
        ).all()
        addresses = sorted({row.address for row in rows if row.address})
        chats = {(row.channel, row.chat_id) for row in rows}
        others = sorted(f"{row.channel}:{row.chat_id}" for row in rows if not row.address)
        log.warning(
            "dossier lookups: %s failed %d times from %d chats (addresses: %s%s); every further "
            "attempt at it, from anyone, waits; now %s",
            code,
            failures,
            len(chats),
            _listed(addresses) or "none",
            f"; chats without an address: {_listed(others)}" if others else "",
            _duration(wait),
        )


async def guessing_alerts(
    connection: AsyncConnection, start: dt.datetime, end: dt.datetime, limit: int = 10
) -> tuple[GuessingAlert, ...]:
    """Dossiers whose failed attempts between `start` and `end` (aware) imposed a wait,
    the most failed first."""
    period = (failed_lookups.c.at >= utc_naive(start)) & (failed_lookups.c.at < utc_naive(end))
    rows = (
        await connection.execute(
            select(
                failed_lookups.c.code,
                func.count().label("failures"),
                func.count(func.distinct(failed_lookups.c.chat_id)).label("chats"),
                func.max(failed_lookups.c.at).label("last_failure"),
                func.max(failed_lookups.c.dossier_wait_until).label("wait_until"),
            )
            .where(period)
            .group_by(failed_lookups.c.code)
            .having(func.max(failed_lookups.c.dossier_wait_until).is_not(None))
            .order_by(func.count().desc(), failed_lookups.c.code)
            .limit(limit)
        )
    ).all()
    alerts: list[GuessingAlert] = []
    for row in rows:
        addresses = (
            await connection.execute(
                select(failed_lookups.c.address)
                .where(period, failed_lookups.c.code == row.code, failed_lookups.c.address != "")
                .distinct()
                .order_by(failed_lookups.c.address)
            )
        ).scalars()
        alerts.append(
            GuessingAlert(
                code=row.code,
                failures=int(row.failures),
                chats=int(row.chats),
                addresses=tuple(addresses),
                last_failure=from_utc_naive(row.last_failure),
                wait_until=from_utc_naive(row.wait_until),
            )
        )
    return tuple(alerts)


async def _failures(
    connection: AsyncConnection, where: ColumnElement[bool] | None, since: dt.datetime
) -> tuple[int, dt.datetime | None]:
    """How many failures match `where` after `since`, and the last one's time."""
    condition = failed_lookups.c.at > utc_naive(since)
    if where is not None:
        condition = condition & where
    row = (
        await connection.execute(
            select(func.count(), func.max(failed_lookups.c.at)).where(condition)
        )
    ).one()
    count, last = row
    return int(count), from_utc_naive(last) if last is not None else None


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:SOURCES_LOGGED])
    more = len(items) - SOURCES_LOGGED
    return f"{shown} and {more} more" if more > 0 else shown


def _duration(wait: dt.timedelta) -> str:
    seconds = int(wait.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
