"""The dossier API the dialogue calls: look up, show history, subscribe to changes.

    service = DossierService.from_config(config.dossiers, config.center, engine)  # bot's db
    match service.find_code(text):                           # ReceiptCode | Malformed... | None
        ...
    outcome = await service.lookup(chat, user_id, code, verification=None, address="")
    match outcome:
        case Found(view): ...                   # show it; offer history and subscription
        case VerificationNeeded(factor): ...    # ask for the last 4 digits, call again
        case NotFoundOrMismatch(attempts_left, locked_until, reason): ...
        case LockedOut(until, reason): ...      # the person, the dossier, the address or all
        case Unavailable(): ...                 # apology + hotline; logged once per outage
    await service.history(chat, user_id, code)            # HistoryFound | same denials
    await service.subscribe(chat, code)                   # SubscribeResult
    await service.unsubscribe(chat, code)                 # True when there was one
    await service.subscriptions(chat)                     # tuple[Subscription, ...]
    await service.close()

Rules (see `bot.dossiers.access`): with `dossiers.verification` other than "none", a chat
that has not verified this code gets `VerificationNeeded` before anything is read; "no such
dossier" and "wrong verification" give the same `NotFoundOrMismatch` and count alike
against the person's failed attempts, and against the dossier's, the network address's
and everyone's (`bot.dossiers.guard`), which make a guesser wait whatever chat it uses;
each call is audited. The verification value itself is never stored or logged.

Errors of the bot's own database propagate as `bot.storage.database.StorageUnavailable`
(the dialogue's general handler apologises); the center's system being down is an ordinary
outcome, `Unavailable`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import CenterConfig, DossierConfig, Verification
from bot.dossiers.access import (
    AccessLedger,
    AuditOutcome,
    verification_matches,
)
from bot.dossiers.guard import Attempt, GuardHold, GuardLimits, GuardScope, LookupGuard
from bot.dossiers.model import Dossier, DossierStatus
from bot.dossiers.receipt_codes import MalformedReceiptCode, ReceiptCode, ReceiptCodeRecognizer
from bot.dossiers.source import DisabledSource, DossierSource, GuardedSource, SourceUnavailable
from bot.dossiers.view import DossierView, HistoryView, build_view
from bot.dossiers.working_days import WorkingCalendar
from bot.messages import ChatRef
from bot.storage.database import connect
from bot.storage.dossier_tables import (
    from_utc_naive,
    subscriptions,
    utc_naive,
)
from bot.storage.upserts import insert_ignoring_duplicates

log = logging.getLogger(__name__)


# --- the source -----------------------------------------------------------------------


def open_dossier_source(config: DossierConfig) -> GuardedSource:
    """The configured source (`dossiers.source`), behind the timeout and outage log."""
    inner: DossierSource
    if config.source == "sql":
        from bot.dossiers.sql_source import SqlDossierSource

        inner = SqlDossierSource.from_config(config)
        name = "dossier database"
    elif config.source == "http":
        from bot.dossiers.http_source import HttpDossierSource

        inner = HttpDossierSource.from_config(config)
        name = "dossier API"
    else:
        inner = DisabledSource()
        name = "dossier source (switched off)"
    return GuardedSource(inner, config.timeout_seconds, name)


# --- outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    view: DossierView


@dataclass(frozen=True, slots=True)
class HistoryFound:
    history: HistoryView


@dataclass(frozen=True, slots=True)
class VerificationNeeded:
    """Ask for the last 4 digits of the applicant's phone or ID number, then call again."""

    factor: Literal["phone_last4", "id_last4"]


class LockReason(StrEnum):
    TOO_MANY_FAILURES = "too_many_failures"  # this person (chat user)
    TOO_MANY_LOOKUPS = "too_many_lookups"  # this person's hourly lookups
    DOSSIER_GUARDED = "dossier_guarded"  # this dossier, whoever asks
    ADDRESS_GUARDED = "address_guarded"  # this network address
    LOOKUPS_PAUSED = "lookups_paused"  # everyone's new verifications


_GUARD_REASONS = {
    GuardScope.DOSSIER: (LockReason.DOSSIER_GUARDED, AuditOutcome.DOSSIER_GUARDED),
    GuardScope.ADDRESS: (LockReason.ADDRESS_GUARDED, AuditOutcome.ADDRESS_GUARDED),
    GuardScope.OVERALL: (LockReason.LOOKUPS_PAUSED, AuditOutcome.LOOKUPS_PAUSED),
}


@dataclass(frozen=True, slots=True)
class NotFoundOrMismatch:
    """No such dossier, or the verification did not match: deliberately indistinguishable.

    `locked_until` is set when this failure started a lockout or a wait (`attempts_left` is
    then 0), `reason` says whose: the person's or the dossier's (or the address's).
    """

    attempts_left: int
    locked_until: dt.datetime | None = None
    reason: LockReason = LockReason.TOO_MANY_FAILURES


@dataclass(frozen=True, slots=True)
class LockedOut:
    until: dt.datetime
    reason: LockReason


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The center's system is down, slow, or switched off; nothing was counted against the user."""


LookupOutcome = Found | VerificationNeeded | NotFoundOrMismatch | LockedOut | Unavailable
HistoryOutcome = HistoryFound | VerificationNeeded | NotFoundOrMismatch | LockedOut | Unavailable
_Denial = VerificationNeeded | NotFoundOrMismatch | LockedOut | Unavailable


class SubscribeResult(StrEnum):
    SUBSCRIBED = "subscribed"
    ALREADY_SUBSCRIBED = "already_subscribed"
    # The chat has not looked this dossier up successfully (verified) yet.
    NOT_VERIFIED = "not_verified"
    # The result was already handed over: there is nothing left to announce.
    ALREADY_RETURNED = "already_returned"
    # The configured source offers no changes and no push endpoint is set.
    NOT_OFFERED = "not_offered"


@dataclass(frozen=True, slots=True)
class Subscription:
    code: str
    subscribed_at: dt.datetime


# --- the service ------------------------------------------------------------------------


class DossierService:
    def __init__(
        self,
        config: DossierConfig,
        source: DossierSource,
        engine: AsyncEngine,
        *,
        default_pickup_place: str = "",
    ) -> None:
        self._config = config
        self._source = source
        self._engine = engine
        self._factor: Verification = config.verification
        self._ledger = AccessLedger(
            config.max_lookups_per_hour, config.max_failed_attempts, config.lockout_base_seconds
        )
        self._guard = LookupGuard(GuardLimits.from_config(config))
        self.calendar = WorkingCalendar.from_config(config)
        self.recognizer = ReceiptCodeRecognizer(config.extra_code_patterns)
        self._local_zone = dt.timezone(dt.timedelta(hours=config.utc_offset_hours))
        self._default_pickup_place = default_pickup_place

    @classmethod
    def from_config(
        cls,
        config: DossierConfig,
        center: CenterConfig,
        engine: AsyncEngine,
        source: DossierSource | None = None,
    ) -> DossierService:
        """The service for `[dossiers]`, opening the configured (guarded) source unless
        given; results are picked up at the `[center]`'s counter unless a dossier says."""
        return cls(
            config,
            source if source is not None else open_dossier_source(config),
            engine,
            default_pickup_place=center.result_pickup,
        )

    @property
    def source(self) -> DossierSource:
        return self._source

    @property
    def enabled(self) -> bool:
        """False when `dossiers.source = "none"`: every lookup is `Unavailable`."""
        return self._config.source != "none"

    @property
    def verification_factor(self) -> Verification:
        return self._factor

    @property
    def can_notify(self) -> bool:
        """Whether subscriptions can ever fire: the source reports changes or pushes arrive."""
        if not self.enabled:
            return False
        if self._config.push_secret:
            return True
        if self._config.source == "http":
            return bool(self._config.http.changed_since_url)
        sql = self._config.sql
        bundled = not any(
            q.strip()
            for q in (
                sql.lookup_query,
                sql.history_query,
                sql.changed_since_query,
                sql.change_head_query,
            )
        )
        return bundled or bool(sql.changed_since_query.strip())

    def find_code(
        self, text: str, now: dt.datetime | None = None
    ) -> ReceiptCode | MalformedReceiptCode | None:
        """The receipt code in a message (see `bot.dossiers.receipt_codes`)."""
        today = (now or dt.datetime.now(dt.UTC)).astimezone(self._local_zone).date()
        return self.recognizer.find(text, today=today)

    async def lookup(
        self,
        requester: ChatRef,
        user_id: str,
        code: ReceiptCode,
        verification: str | None = None,
        now: dt.datetime | None = None,
        *,
        address: str = "",
    ) -> LookupOutcome:
        """The dossier's view for this chat, or why not (see the module docstring).

        `address`: the citizen's network address where the channel knows it (web chat).
        """
        moment = now or dt.datetime.now(dt.UTC)
        access = await self._open(requester, user_id, code.value, verification, moment, address)
        if not isinstance(access, Dossier):
            return access
        return Found(self.view_of(access, moment))

    async def history(
        self,
        requester: ChatRef,
        user_id: str,
        code: ReceiptCode,
        verification: str | None = None,
        now: dt.datetime | None = None,
    ) -> HistoryOutcome:
        """The dossier's view and its processing steps; the same checks as `lookup`."""
        moment = now or dt.datetime.now(dt.UTC)
        access = await self._open(
            requester, user_id, code.value, verification, moment, "", AuditOutcome.HISTORY
        )
        if not isinstance(access, Dossier):
            return access
        try:
            entries = await self._source.history(code.value)
        except SourceUnavailable:
            return Unavailable()
        return HistoryFound(HistoryView(self.view_of(access, moment), tuple(entries)))

    def view_of(self, dossier: Dossier, now: dt.datetime) -> DossierView:
        return build_view(dossier, now, self.calendar, self._default_pickup_place)

    async def subscribe(
        self, chat: ChatRef, code: ReceiptCode, now: dt.datetime | None = None
    ) -> SubscribeResult:
        """Subscribe a chat that has verified `code` to its changes."""
        if not self.can_notify:
            return SubscribeResult.NOT_OFFERED
        moment = utc_naive(now or dt.datetime.now(dt.UTC))
        async with connect(self._engine, begin=True) as connection:
            granted, last_status = await self._ledger.grant_status(connection, chat, code.value)
            if not granted:
                return SubscribeResult.NOT_VERIFIED
            if last_status is DossierStatus.RETURNED:
                return SubscribeResult.ALREADY_RETURNED
            where = (
                (subscriptions.c.channel == chat.channel.value)
                & (subscriptions.c.chat_id == chat.chat_id)
                & (subscriptions.c.code == code.value)
            )
            existing = (
                await connection.execute(select(subscriptions.c.ended_at).where(where))
            ).first()
            if existing is None:
                await insert_ignoring_duplicates(
                    connection,
                    subscriptions,
                    [
                        {
                            "channel": chat.channel.value,
                            "chat_id": chat.chat_id,
                            "code": code.value,
                            "created_at": moment,
                        }
                    ],
                )
                return SubscribeResult.SUBSCRIBED
            if existing.ended_at is None:
                return SubscribeResult.ALREADY_SUBSCRIBED
            # Renewed: changes before this moment were seen in the lookup that preceded it.
            await connection.execute(
                update(subscriptions)
                .where(where)
                .values(created_at=moment, ended_at=None, end_reason=None)
            )
            return SubscribeResult.SUBSCRIBED

    async def unsubscribe(
        self, chat: ChatRef, code: ReceiptCode | str, now: dt.datetime | None = None
    ) -> bool:
        """End the chat's subscription to `code`; False when it had none."""
        value = code.value if isinstance(code, ReceiptCode) else code
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.channel == chat.channel.value,
                    subscriptions.c.chat_id == chat.chat_id,
                    subscriptions.c.code == value,
                    subscriptions.c.ended_at.is_(None),
                )
                .values(
                    ended_at=utc_naive(now or dt.datetime.now(dt.UTC)), end_reason="unsubscribed"
                )
            )
            return result.rowcount > 0

    async def subscriptions(self, chat: ChatRef) -> tuple[Subscription, ...]:
        """The chat's active subscriptions, oldest first."""
        async with connect(self._engine) as connection:
            rows = (
                await connection.execute(
                    select(subscriptions.c.code, subscriptions.c.created_at)
                    .where(
                        subscriptions.c.channel == chat.channel.value,
                        subscriptions.c.chat_id == chat.chat_id,
                        subscriptions.c.ended_at.is_(None),
                    )
                    .order_by(subscriptions.c.created_at, subscriptions.c.id)
                )
            ).all()
        return tuple(Subscription(row.code, from_utc_naive(row.created_at)) for row in rows)

    async def has_verified(self, chat: ChatRef, code: str) -> bool:
        """Whether `chat` has looked `code` up successfully (may see it without digits)."""
        async with connect(self._engine) as connection:
            return await self._ledger.has_grant(connection, chat, code)

    async def share_verified(
        self, source: ChatRef, target: ChatRef, code: str, now: dt.datetime | None = None
    ) -> bool:
        """Let `target` see `code` as `source` may (the same citizen's other chat, through
        a follow link); False when `source` has not verified it."""
        moment = now or dt.datetime.now(dt.UTC)
        async with connect(self._engine, begin=True) as connection:
            granted, status = await self._ledger.grant_status(connection, source, code)
            if not granted:
                return False
            await self._ledger.grant(connection, target, code, status, moment)
        return True

    async def forget_chat(self, chat: ChatRef) -> int:
        """Drop the chat's verified dossiers, so they must be verified again."""
        async with connect(self._engine, begin=True) as connection:
            return await self._ledger.revoke_grants(connection, chat)

    async def close(self) -> None:
        await self._source.close()

    # --- the gate shared by lookup and history -------------------------------------------

    async def _open(
        self,
        requester: ChatRef,
        user_id: str,
        code: str,
        verification: str | None,
        now: dt.datetime,
        address: str,
        success: AuditOutcome = AuditOutcome.FOUND,
    ) -> Dossier | _Denial:
        channel = requester.channel.value
        ledger = self._ledger
        # Reads first, in a short transaction: the source call below may take seconds and
        # must not hold the database (SQLite has one writer).
        async with connect(self._engine) as connection:
            locked_until = await ledger.locked_until(connection, channel, user_id, now)
            granted = await ledger.has_grant(connection, requester, code)
            limited_until = None
            hold: GuardHold | None = None
            if locked_until is None:
                limited_until = await ledger.rate_limited_until(connection, channel, user_id, now)
                if not granted:
                    # Before asking for the digits: the citizen learns at once that this
                    # dossier (or address) must wait, not after typing them.
                    hold = await self._guard.hold(connection, code, address, now)
        denial: _Denial | None = None
        outcome = AuditOutcome.LOCKED_OUT
        if locked_until is not None:
            denial = LockedOut(locked_until, LockReason.TOO_MANY_FAILURES)
        elif hold is not None:
            denial, outcome = self._held(hold)
        elif self._factor != "none" and not granted and not (verification or "").strip():
            denial, outcome = VerificationNeeded(self._factor), AuditOutcome.VERIFICATION_NEEDED
        elif limited_until is not None:
            denial = LockedOut(limited_until, LockReason.TOO_MANY_LOOKUPS)
            outcome = AuditOutcome.RATE_LIMITED
        if denial is not None:
            async with connect(self._engine, begin=True) as connection:
                await ledger.audit(connection, requester, user_id, code, outcome, now)
            return denial

        attempt: Attempt | None = None
        if not granted:
            # Counted as a failure from here until it succeeds, so that guesses sent in
            # parallel cannot all pass the check above.
            async with connect(self._engine, begin=True) as connection:
                reserved = await self._guard.reserve(
                    connection, requester, user_id, code, address, now
                )
                if isinstance(reserved, GuardHold):
                    denial, outcome = self._held(reserved)
                    await ledger.audit(connection, requester, user_id, code, outcome, now)
                    return denial
            attempt = reserved

        try:
            dossier = await self._source.lookup(code)
        except SourceUnavailable:
            async with connect(self._engine, begin=True) as connection:
                if attempt is not None:
                    await self._guard.release(connection, attempt)
                await ledger.audit(
                    connection, requester, user_id, code, AuditOutcome.UNAVAILABLE, now
                )
            return Unavailable()

        async with connect(self._engine, begin=True) as connection:
            if dossier is None or not (
                granted or verification_matches(dossier, self._factor, verification)
            ):
                failed = AuditOutcome.NOT_FOUND if dossier is None else AuditOutcome.MISMATCH
                await ledger.audit(connection, requester, user_id, code, failed, now)
                result = await ledger.record_failure(connection, channel, user_id, now)
                answer = NotFoundOrMismatch(result.attempts_left, result.locked_until)
                if attempt is not None:
                    guarded = await self._guard.confirm_failure(connection, attempt, now)
                    answer = _with_guard(answer, guarded.attempts_left, guarded.hold)
                return answer
            if attempt is not None:
                await self._guard.release(connection, attempt)
            await ledger.audit(connection, requester, user_id, code, success, now)
            await ledger.record_success(connection, channel, user_id)
            await ledger.grant(connection, requester, code, dossier.status, now)
        return dossier

    @staticmethod
    def _held(hold: GuardHold) -> tuple[LockedOut, AuditOutcome]:
        reason, outcome = _GUARD_REASONS[hold.scope]
        return LockedOut(hold.until, reason), outcome


def _with_guard(
    answer: NotFoundOrMismatch, attempts_left: int, hold: GuardHold | None
) -> NotFoundOrMismatch:
    """The person's failure answer, with the dossier's (or address's) fewer attempts left or
    longer wait: the citizen is told the stricter of the two."""
    left = min(answer.attempts_left, attempts_left)
    if hold is None or (answer.locked_until is not None and answer.locked_until > hold.until):
        return NotFoundOrMismatch(left, answer.locked_until, answer.reason)
    reason, _ = _GUARD_REASONS[hold.scope]
    return NotFoundOrMismatch(0, hold.until, reason)
