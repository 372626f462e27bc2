"""What the dossier feature erases once the retention period (`storage.personal_data_days`)
is over: the links between a chat and the dossiers it looked up or followed.

- the lookup audit keeps its rows (code, outcome, time: staff statistics count them) but
  loses who asked: chat and user ids are erased (`bot.storage.database.erased_id`);
- verification grants go, unless a subscription still follows that dossier for that chat
  (the citizen verifies again on the next lookup);
- failed-attempt counters whose last failure and lockout are over go, and so do the failed
  attempts the guard counts per dossier and address (they name chats and addresses);
- announced changes go (they hold a copy of the dossier's view, with the applicant's name)
  once every delivery of them is final, with those deliveries; then ended subscriptions
  that no delivery refers to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Delete, Update, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.database import erased_id, is_erased
from bot.storage.dossier_tables import (
    access_grants,
    changes,
    deliveries,
    failed_lookups,
    lookup_audit,
    requesters,
    subscriptions,
    utc_naive,
)

FINAL_DELIVERY_STATES = ("delivered", "abandoned")


async def forget_personal_data(connection: AsyncConnection, before: dt.datetime) -> int:
    """Erase what is described above for records older than `before` (aware); returns the
    number of rows erased or deleted."""
    cutoff = utc_naive(before)
    erased = 0

    async def run(statement: Update | Delete) -> None:
        nonlocal erased
        erased += (await connection.execute(statement)).rowcount

    await run(
        update(lookup_audit)
        .where(lookup_audit.c.at < cutoff, ~is_erased(lookup_audit.c.user_id))
        .values(chat_id=erased_id(lookup_audit.c.id), user_id=erased_id(lookup_audit.c.id))
    )
    still_followed = exists().where(
        subscriptions.c.channel == access_grants.c.channel,
        subscriptions.c.chat_id == access_grants.c.chat_id,
        subscriptions.c.code == access_grants.c.code,
        subscriptions.c.ended_at.is_(None),
    )
    await run(delete(access_grants).where(access_grants.c.granted_at < cutoff, ~still_followed))
    await run(
        delete(requesters).where(
            or_(requesters.c.last_failure_at.is_(None), requesters.c.last_failure_at < cutoff),
            or_(requesters.c.locked_until.is_(None), requesters.c.locked_until < cutoff),
        )
    )
    await run(delete(failed_lookups).where(failed_lookups.c.at < cutoff))
    old_changes = select(changes.c.id).where(changes.c.recorded_at < cutoff)
    unfinished = exists().where(
        deliveries.c.change_id == changes.c.id,
        deliveries.c.state.not_in(FINAL_DELIVERY_STATES),
    )
    await run(
        delete(deliveries).where(
            deliveries.c.change_id.in_(old_changes.where(~unfinished)),
        )
    )
    await run(
        delete(changes).where(
            changes.c.recorded_at < cutoff,
            ~exists().where(deliveries.c.change_id == changes.c.id),
        )
    )
    await run(
        delete(subscriptions).where(
            subscriptions.c.ended_at < cutoff,
            ~exists().where(deliveries.c.subscription_id == subscriptions.c.id),
        )
    )
    return erased
