"""Telling subscribers when their dossier changes: once per change, across restarts.

The watcher is an outbox. Each round it

1. asks the source for changes after the stored cursor (`changed_since`), and in ONE
   transaction records the changes that have subscribers, one delivery row per
   (subscription, change), ends subscriptions whose dossier reached 10 (returned), and moves
   the cursor (only if no other process moved it meanwhile);
2. sends pending deliveries through `notify(chat, update)`, oldest first: a delivery is
   claimed before sending (so two processes never send the same one), marked delivered
   after `notify` returns, and put back as pending when it raises (retried next round, up
   to `dossiers.notify_max_attempts`; `RecipientBlocked` ends the subscription instead).

So a change is never lost (it is stored with the cursor move) and never sent twice (the
delivery row is unique and claimed); the one window left is a crash between the platform
accepting a message and the delivered mark, where the claim expires and it is sent again.
Pushes (`bot.dossiers.push`) enter the same outbox through `accept_pushed` and wake the
loop, which also polls at once.

On the very first start there is no cursor: the source's current one is stored, so old
changes are not announced. Changes older than a subscription (minus `CLOCK_SKEW`) are
not sent to it: the citizen saw that state when subscribing.

    watcher = DossierWatcher.from_config(config.dossiers, config.center, source, engine, notify)
    await watcher.start()          # background task; or `await watcher.run_once()`
    ...
    await watcher.stop()           # finishes the notice being sent, then returns
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import CenterConfig, DossierConfig
from bot.dossiers.model import DossierChange, DossierStatus
from bot.dossiers.source import DossierSource, SourceUnavailable
from bot.dossiers.view import DossierView, build_view
from bot.dossiers.working_days import WorkingCalendar
from bot.messages import Channel, ChatRef, RecipientBlocked
from bot.storage.database import StorageUnavailable, connect
from bot.storage.dossier_tables import (
    changes,
    deliveries,
    from_utc_naive,
    subscriptions,
    utc_naive,
    watch_cursors,
)
from bot.storage.upserts import insert_ignoring_duplicates

log = logging.getLogger(__name__)

# The vendor's clock and ours may disagree a little; a change stamped up to this long before
# a subscription is still announced (a repeat is better than a gap).
CLOCK_SKEW = dt.timedelta(minutes=5)
# A claimed delivery whose process died is sent again after this long.
CLAIM_LEASE = dt.timedelta(minutes=5)
# Bounds the work of one round; the next round continues.
MAX_PAGES_PER_ROUND = 20
DELIVERY_BATCH = 200


@dataclass(frozen=True, slots=True)
class DossierUpdate:
    """A change to announce: the dossier as of the change (masked, like a lookup's view).

    `subscription_ended` is True when this is the last notice (the result was handed over).
    """

    code: str
    change_key: str
    changed_at: dt.datetime | None
    view: DossierView
    subscription_ended: bool


Notify = Callable[[ChatRef, DossierUpdate], Awaitable[None]]


class _CursorMovedElsewhere(Exception):
    """Raised inside the recording transaction to roll it back."""


@dataclass(frozen=True, slots=True)
class RoundReport:
    """What one round did, for logs and tests."""

    changes_seen: int
    changes_recorded: int
    delivered: int
    failed: int
    source_down: bool


def source_key(config: DossierConfig) -> str:
    """Identifies the change feed, so a cursor is never reused against another source."""
    if config.source == "http":
        identity = f"http|{config.http.changed_since_url}"
    else:
        identity = f"sql|{config.sql.url}|{config.sql.changed_since_query.strip()}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


class DossierWatcher:
    def __init__(
        self,
        source: DossierSource,
        engine: AsyncEngine,
        notify: Notify,
        *,
        state_key: str,
        calendar: WorkingCalendar,
        default_pickup_place: str = "",
        interval_seconds: float = 60.0,
        max_attempts: int = 10,
    ) -> None:
        self._source = source
        self._engine = engine
        self._notify = notify
        self._key = state_key
        self._calendar = calendar
        self._pickup = default_pickup_place
        self._interval = interval_seconds
        self._max_attempts = max(1, max_attempts)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(
        cls,
        dossiers: DossierConfig,
        center: CenterConfig,
        source: DossierSource,
        engine: AsyncEngine,
        notify: Notify,
    ) -> DossierWatcher:
        return cls(
            source,
            engine,
            notify,
            state_key=source_key(dossiers),
            calendar=WorkingCalendar.from_config(dossiers),
            default_pickup_place=center.result_pickup,
            interval_seconds=dossiers.watch_interval_seconds,
            max_attempts=dossiers.notify_max_attempts,
        )

    # --- lifetime --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="dossier-watcher")

    async def stop(self) -> None:
        """Stop after the notice in flight (never in the middle of one)."""
        self._stopping = True
        self._wake.set()
        # From inside a notify callback the loop is the caller: the flag is enough.
        if self._task is not None and self._task is not asyncio.current_task():
            task, self._task = self._task, None
            await task

    def wake(self) -> None:
        """Run a round now (a push arrived)."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except StorageUnavailable:
                pass  # logged once per outage where it was raised (bot.storage.outage)
            except Exception:
                log.exception("dossier watcher round failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()

    # --- one round -------------------------------------------------------------------------

    async def run_once(self, now: dt.datetime | None = None) -> RoundReport:
        moment = now or dt.datetime.now(dt.UTC)
        seen = recorded = 0
        source_down = False
        try:
            seen, recorded = await self._poll(moment)
        except SourceUnavailable:
            source_down = True  # GuardedSource logged it (once per outage)
        delivered, failed = await self.deliver_pending(moment)
        return RoundReport(seen, recorded, delivered, failed, source_down)

    async def _poll(self, now: dt.datetime) -> tuple[int, int]:
        seen = recorded = 0
        for _ in range(MAX_PAGES_PER_ROUND):
            if self._stopping:
                break
            async with connect(self._engine) as connection:
                stored = (
                    await connection.execute(
                        select(watch_cursors.c.cursor).where(
                            watch_cursors.c.source_key == self._key
                        )
                    )
                ).scalar_one_or_none()
            if stored is None:
                page = await self._source.changed_since(None)
                async with connect(self._engine, begin=True) as connection:
                    await insert_ignoring_duplicates(
                        connection,
                        watch_cursors,
                        [
                            {
                                "source_key": self._key,
                                "cursor": page.cursor,
                                "updated_at": utc_naive(now),
                            }
                        ],
                    )
                log.info("dossier watcher: starting from the source's current changes")
                break
            page = await self._source.changed_since(stored)
            if not page.changes:
                break
            seen += len(page.changes)
            try:
                async with connect(self._engine, begin=True) as connection:
                    moved = await connection.execute(
                        update(watch_cursors)
                        .where(
                            watch_cursors.c.source_key == self._key,
                            watch_cursors.c.cursor == stored,
                        )
                        .values(cursor=page.cursor, updated_at=utc_naive(now))
                    )
                    if moved.rowcount != 1:
                        raise _CursorMovedElsewhere
                    recorded += await self._record(connection, page.changes, now)
            except _CursorMovedElsewhere:
                continue  # another bot process recorded this page; ours rolled back
            if page.cursor == stored:
                break  # a source that repeats its last page: duplicates were ignored
        return seen, recorded

    async def accept_pushed(
        self, pushed: Sequence[DossierChange], now: dt.datetime | None = None
    ) -> int:
        """Record pushed changes in the outbox (deduplicated by change key) and wake the loop."""
        moment = now or dt.datetime.now(dt.UTC)
        async with connect(self._engine, begin=True) as connection:
            recorded = await self._record(connection, pushed, moment)
        self.wake()
        return recorded

    async def _record(
        self, connection: AsyncConnection, page: Sequence[DossierChange], now: dt.datetime
    ) -> int:
        codes = sorted({change.dossier.code for change in page})
        active: dict[str, list[Any]] = {}
        for start in range(0, len(codes), 500):
            rows = (
                await connection.execute(
                    select(subscriptions.c.id, subscriptions.c.code, subscriptions.c.created_at)
                    .where(
                        subscriptions.c.code.in_(codes[start : start + 500]),
                        subscriptions.c.ended_at.is_(None),
                    )
                    .order_by(subscriptions.c.id)
                )
            ).all()
            for row in rows:
                active.setdefault(row.code, []).append(row)
        recorded = 0
        ended: set[int] = set()
        for change in page:
            code = change.dossier.code
            audience = [
                row
                for row in active.get(code, [])
                if row.id not in ended
                and (
                    change.changed_at is None
                    or change.changed_at >= from_utc_naive(row.created_at) - CLOCK_SKEW
                )
            ]
            if not audience:
                continue
            view = build_view(change.dossier, now, self._calendar, self._pickup)
            inserted = await insert_ignoring_duplicates(
                connection,
                changes,
                [
                    {
                        "source_key": self._key,
                        "change_key": change.change_key[:200],
                        "code": code,
                        "changed_at": utc_naive(change.changed_at) if change.changed_at else None,
                        "status": int(view.status) if view.status is not None else None,
                        "view_json": view.to_json(),
                        "recorded_at": utc_naive(now),
                    }
                ],
            )
            change_id = (
                await connection.execute(
                    select(changes.c.id).where(
                        changes.c.source_key == self._key,
                        changes.c.change_key == change.change_key[:200],
                    )
                )
            ).scalar_one()
            recorded += inserted
            await insert_ignoring_duplicates(
                connection,
                deliveries,
                [
                    {
                        "subscription_id": row.id,
                        "change_id": change_id,
                        "state": "pending",
                        "attempts": 0,
                    }
                    for row in audience
                ],
            )
            if view.status is DossierStatus.RETURNED:
                ids = [row.id for row in audience]
                ended.update(ids)
                await connection.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id.in_(ids), subscriptions.c.ended_at.is_(None))
                    .values(ended_at=utc_naive(now), end_reason="returned")
                )
        return recorded

    async def deliver_pending(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """Send what is pending (or whose claim expired); returns (delivered, failed)."""
        moment = utc_naive(now or dt.datetime.now(dt.UTC))
        due = or_(
            deliveries.c.state == "pending",
            and_(deliveries.c.state == "sending", deliveries.c.claimed_until < moment),
        )
        async with connect(self._engine) as connection:
            rows = (
                await connection.execute(
                    select(
                        deliveries.c.id,
                        deliveries.c.state,
                        deliveries.c.attempts,
                        deliveries.c.subscription_id,
                        subscriptions.c.channel,
                        subscriptions.c.chat_id,
                        subscriptions.c.end_reason,
                        changes.c.code,
                        changes.c.change_key,
                        changes.c.changed_at,
                        changes.c.status,
                        changes.c.view_json,
                    )
                    .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
                    .join(changes, changes.c.id == deliveries.c.change_id)
                    .where(due)
                    .order_by(deliveries.c.id)
                    .limit(DELIVERY_BATCH)
                )
            ).all()
        delivered = failed = 0
        held_back: set[int] = set()  # subscriptions with a failure: keep their order
        for row in rows:
            if self._stopping:
                break
            if row.subscription_id in held_back:
                continue
            if row.end_reason in ("unsubscribed", "blocked"):
                await self._finish(row.id, "abandoned", moment, "subscription ended")
                continue
            if not await self._claim(row.id, row.state, moment):
                continue  # another process has it
            update_ = DossierUpdate(
                code=row.code,
                change_key=row.change_key,
                changed_at=from_utc_naive(row.changed_at) if row.changed_at else None,
                view=DossierView.from_json(row.view_json),
                subscription_ended=row.status == DossierStatus.RETURNED,
            )
            chat = ChatRef(Channel(row.channel), row.chat_id)
            try:
                await self._notify(chat, update_)
            except RecipientBlocked as exc:
                failed += 1
                held_back.add(row.subscription_id)
                await self._recipient_gone(row.subscription_id, moment, str(exc))
                log.info(
                    "dossier notice to %s: recipient blocked the bot; subscription ended", chat
                )
                continue
            except Exception as exc:
                failed += 1
                held_back.add(row.subscription_id)
                give_up = row.attempts + 1 >= self._max_attempts
                await self._finish(
                    row.id,
                    "abandoned" if give_up else "pending",
                    moment,
                    f"{type(exc).__name__}: {exc}",
                    count_attempt=True,
                )
                log.warning(
                    "dossier notice to %s about %s failed (attempt %d%s): %s",
                    chat,
                    row.code,
                    row.attempts + 1,
                    ", giving up" if give_up else "",
                    exc,
                )
                continue
            await self._finish(row.id, "delivered", moment, None)
            delivered += 1
        return delivered, failed

    async def _claim(self, delivery_id: int, state: str, now: dt.datetime) -> bool:
        async with connect(self._engine, begin=True) as connection:
            condition = deliveries.c.state == "pending"
            if state == "sending":
                condition = and_(deliveries.c.state == "sending", deliveries.c.claimed_until < now)
            result = await connection.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, condition)
                .values(state="sending", claimed_until=now + CLAIM_LEASE)
            )
            return result.rowcount == 1

    async def _finish(
        self,
        delivery_id: int,
        state: str,
        now: dt.datetime,
        error: str | None,
        *,
        count_attempt: bool = False,
    ) -> None:
        values: dict[str, Any] = {"state": state, "claimed_until": None, "last_error": error}
        if state == "delivered":
            values["delivered_at"] = now
        if count_attempt:
            values["attempts"] = deliveries.c.attempts + 1
        # Shielded: once notify() returned, the mark must be written even if the loop is
        # being cancelled, or the notice would go out again.
        await asyncio.shield(self._write_finish(delivery_id, values))

    async def _write_finish(self, delivery_id: int, values: dict[str, Any]) -> None:
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                update(deliveries).where(deliveries.c.id == delivery_id).values(**values)
            )

    async def _recipient_gone(self, subscription_id: int, now: dt.datetime, error: str) -> None:
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id)
                .values(ended_at=now, end_reason="blocked")
            )
            await connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id == subscription_id,
                    deliveries.c.state.in_(("pending", "sending")),
                )
                .values(state="abandoned", claimed_until=None, last_error=error)
            )
