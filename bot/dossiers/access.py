"""Protection against enumeration: verification, per-user limits, lockouts, grants, audit.

Receipt codes are sequential and easy to guess, so a lookup shows details only to someone
who also knows the last 4 digits of the applicant's phone or ID number (as configured),
and a person who keeps guessing is slowed down:

- at most `max_lookups_per_hour` lookups reaching the source per rolling hour;
- after `max_failed_attempts` failures (no such dossier, or wrong verification: the two
  are counted and answered alike, so an answer never tells which codes exist) a lockout of
  `lockout_base_seconds`, doubled for each further lockout while failures keep coming
  within `FAILURE_MEMORY`;
- a chat that verified a dossier once keeps access to it (`dossier_access_grants`).

Limits are per person (channel + user id), grants per chat. Everything is in the bot's
database (see `bot.storage.dossier_tables`) so that every bot process applies the same limits.
A person is easily made anew (a new web chat), so `bot.dossiers.guard` also counts failures
per dossier, per network address and overall.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Verification
from bot.dossiers.model import Dossier, DossierStatus
from bot.messages import ChatRef
from bot.storage.dossier_tables import (
    access_grants,
    from_utc_naive,
    lookup_audit,
    requesters,
    utc_naive,
)
from bot.storage.upserts import insert_ignoring_duplicates

# Failures older than this are forgotten, and so is the lockout level: a citizen who
# mistyped twice last week starts afresh.
FAILURE_MEMORY = dt.timedelta(hours=24)
LOOKUP_WINDOW = dt.timedelta(hours=1)
# The longest lockout, however many times it doubled.
MAX_LOCKOUT = dt.timedelta(hours=24)

_DIGITS = re.compile(r"\d")


class AuditOutcome(StrEnum):
    """What happened to a lookup, as recorded for staff (the citizen sees less)."""

    FOUND = "found"
    VERIFICATION_NEEDED = "verification_needed"
    NOT_FOUND = "not_found"
    MISMATCH = "mismatch"
    LOCKED_OUT = "locked_out"
    RATE_LIMITED = "rate_limited"
    # Refused by bot.dossiers.guard: the dossier, the address, or everyone must wait.
    DOSSIER_GUARDED = "dossier_guarded"
    ADDRESS_GUARDED = "address_guarded"
    LOOKUPS_PAUSED = "lookups_paused"
    UNAVAILABLE = "unavailable"
    HISTORY = "history"


# Outcomes that reached the source: these count against max_lookups_per_hour.
SOURCE_OUTCOMES = (
    AuditOutcome.FOUND,
    AuditOutcome.NOT_FOUND,
    AuditOutcome.MISMATCH,
    AuditOutcome.HISTORY,
)


def verification_digits(text: str) -> str | None:
    """The 4 digits to compare from what a citizen typed, or None when there are fewer.

    People often type the whole phone number; its last 4 digits are what counts. The
    dialogue may re-ask on None without spending an attempt.
    """
    digits = "".join(_DIGITS.findall(text))
    return digits[-4:] if len(digits) >= 4 else None


def expected_digits(dossier: Dossier, factor: Verification) -> str | None:
    if factor == "phone_last4":
        source = dossier.applicant_phone
    elif factor == "id_last4":
        source = dossier.applicant_id_number
    else:
        return None
    digits = "".join(_DIGITS.findall(source))
    return digits[-4:] if len(digits) >= 4 else None


def verification_matches(dossier: Dossier, factor: Verification, given: str | None) -> bool:
    """True when `given` proves the factor; a dossier without the value cannot be verified."""
    if factor == "none":
        return True
    expected = expected_digits(dossier, factor)
    typed = verification_digits(given or "")
    if expected is None or typed is None:
        return False
    return hmac.compare_digest(expected, typed)


@dataclass(frozen=True, slots=True)
class FailureResult:
    attempts_left: int
    locked_until: dt.datetime | None


class AccessLedger:
    """Reads and writes the access state of one lookup, on a connection in a transaction."""

    def __init__(
        self, max_lookups_per_hour: int, max_failed_attempts: int, lockout_base_seconds: int
    ) -> None:
        self.max_lookups_per_hour = max_lookups_per_hour
        self.max_failed_attempts = max(1, max_failed_attempts)
        self.lockout_base = dt.timedelta(seconds=lockout_base_seconds)

    async def locked_until(
        self, connection: AsyncConnection, channel: str, user_id: str, now: dt.datetime
    ) -> dt.datetime | None:
        row = (
            await connection.execute(
                select(requesters.c.locked_until).where(
                    requesters.c.channel == channel, requesters.c.user_id == user_id
                )
            )
        ).first()
        if row is None or row.locked_until is None:
            return None
        until = from_utc_naive(row.locked_until)
        return until if until > now else None

    async def rate_limited_until(
        self, connection: AsyncConnection, channel: str, user_id: str, now: dt.datetime
    ) -> dt.datetime | None:
        """When the next lookup is allowed, if the hourly limit is reached."""
        since = utc_naive(now - LOOKUP_WINDOW)
        recent = lookup_audit.c
        window = and_(
            recent.channel == channel,
            recent.user_id == user_id,
            recent.at > since,
            recent.outcome.in_([o.value for o in SOURCE_OUTCOMES]),
        )
        count = (await connection.execute(select(func.count()).where(window))).scalar_one()
        if count < self.max_lookups_per_hour:
            return None
        # The window frees a slot when its oldest counted lookup leaves it.
        oldest = (
            await connection.execute(
                select(recent.at)
                .where(window)
                .order_by(recent.at.desc())
                .offset(self.max_lookups_per_hour - 1)
                .limit(1)
            )
        ).scalar_one()
        return from_utc_naive(oldest) + LOOKUP_WINDOW

    async def record_failure(
        self, connection: AsyncConnection, channel: str, user_id: str, now: dt.datetime
    ) -> FailureResult:
        await self._ensure_requester(connection, channel, user_id)
        row = (
            await connection.execute(
                select(requesters)
                .where(requesters.c.channel == channel, requesters.c.user_id == user_id)
                # Two bot processes failing for the same person must not lose a count.
                .with_for_update()
            )
        ).one()
        failed, level = row.failed_count, row.lockout_level
        if row.last_failure_at is not None and now - from_utc_naive(row.last_failure_at) > (
            FAILURE_MEMORY
        ):
            failed, level = 0, 0
        failed += 1
        locked_until: dt.datetime | None = None
        if failed >= self.max_failed_attempts:
            lockout = min(self.lockout_base * (2**level), MAX_LOCKOUT)
            locked_until = now + lockout
            failed, level = 0, level + 1
        await connection.execute(
            update(requesters)
            .where(requesters.c.channel == channel, requesters.c.user_id == user_id)
            .values(
                failed_count=failed,
                lockout_level=level,
                last_failure_at=utc_naive(now),
                locked_until=utc_naive(locked_until) if locked_until else None,
            )
        )
        attempts_left = 0 if locked_until else self.max_failed_attempts - failed
        return FailureResult(attempts_left=attempts_left, locked_until=locked_until)

    async def record_success(
        self, connection: AsyncConnection, channel: str, user_id: str
    ) -> None:
        # The lockout level stays: it only decays with time, so a person who owns one dossier
        # cannot reset it between guesses by looking up their own.
        await connection.execute(
            update(requesters)
            .where(requesters.c.channel == channel, requesters.c.user_id == user_id)
            .values(failed_count=0)
        )

    async def has_grant(self, connection: AsyncConnection, chat: ChatRef, code: str) -> bool:
        row = (
            await connection.execute(
                select(access_grants.c.code).where(
                    access_grants.c.channel == chat.channel.value,
                    access_grants.c.chat_id == chat.chat_id,
                    access_grants.c.code == code,
                )
            )
        ).first()
        return row is not None

    async def grant_status(
        self, connection: AsyncConnection, chat: ChatRef, code: str
    ) -> tuple[bool, DossierStatus | None]:
        """(whether the chat has verified `code`, the status it saw last)."""
        row = (
            await connection.execute(
                select(access_grants.c.last_status).where(
                    access_grants.c.channel == chat.channel.value,
                    access_grants.c.chat_id == chat.chat_id,
                    access_grants.c.code == code,
                )
            )
        ).first()
        if row is None:
            return False, None
        status = DossierStatus(row.last_status) if row.last_status is not None else None
        return True, status

    async def grant(
        self,
        connection: AsyncConnection,
        chat: ChatRef,
        code: str,
        status: DossierStatus | None,
        now: dt.datetime,
    ) -> None:
        values = {
            "channel": chat.channel.value,
            "chat_id": chat.chat_id,
            "code": code,
            "granted_at": utc_naive(now),
            "last_status": int(status) if status is not None else None,
        }
        if not await insert_ignoring_duplicates(connection, access_grants, [values]):
            await connection.execute(
                update(access_grants)
                .where(
                    access_grants.c.channel == chat.channel.value,
                    access_grants.c.chat_id == chat.chat_id,
                    access_grants.c.code == code,
                )
                .values(last_status=values["last_status"])
            )

    async def revoke_grants(self, connection: AsyncConnection, chat: ChatRef) -> int:
        """Forget every dossier a chat verified (e.g. when the citizen asks the bot to)."""
        result = await connection.execute(
            delete(access_grants).where(
                access_grants.c.channel == chat.channel.value,
                access_grants.c.chat_id == chat.chat_id,
            )
        )
        return max(result.rowcount, 0)

    async def audit(
        self,
        connection: AsyncConnection,
        chat: ChatRef,
        user_id: str,
        code: str,
        outcome: AuditOutcome,
        now: dt.datetime,
    ) -> None:
        await connection.execute(
            lookup_audit.insert().values(
                at=utc_naive(now),
                channel=chat.channel.value,
                chat_id=chat.chat_id,
                user_id=user_id,
                code=code[:64],
                outcome=outcome.value,
            )
        )

    async def _ensure_requester(
        self, connection: AsyncConnection, channel: str, user_id: str
    ) -> None:
        await insert_ignoring_duplicates(
            connection,
            requesters,
            [{"channel": channel, "user_id": user_id, "failed_count": 0, "lockout_level": 0}],
        )
