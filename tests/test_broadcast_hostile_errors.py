"""A platform's error text holding what a database refuses (NUL, a lone surrogate) must
not hold the broadcast's outcome batches in a retry loop (issue 13): it is stored made
storable, on SQLite and PostgreSQL, and every other recipient's outcome is recorded."""

from __future__ import annotations

import asyncio

from broadcast_support import RecordingSender, fast_settings, seed_subscribers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy
from bot.broadcast.subscriptions import SubscriptionStore
from bot.messages import Channel, PermanentSendError, RecipientBlocked
from bot.storage.broadcast_tables import OutboxState, outbox, subscribers
from bot.storage.database import connect


async def test_hostile_error_texts_are_recorded_and_every_outcome_written(
    engine: AsyncEngine,
) -> None:
    chats = await seed_subscribers(engine, Channel.TELEGRAM, [str(i) for i in range(1, 21)])
    sender = RecordingSender()
    sender.always["2"] = PermanentSendError("Bad Request: \x00 chat \ud800 gone")
    sender.always["3"] = RecipientBlocked("Forbidden:\x00 blocked \udfff")
    service = BroadcastService(
        engine,
        SubscriptionStore(engine, {}),
        StaffPolicy(frozenset({1}), api_enabled=False),
    )
    job_id = await service.start(
        Requester.operator("tester"), BroadcastRequest("Nghỉ lễ 2/9", channels=())
    )

    worker = DeliveryWorker(engine, [sender], fast_settings())
    await asyncio.wait_for(worker.run(until_job_finished=job_id), 30)

    async with connect(engine) as connection:
        rows = await connection.execute(
            select(outbox.c.chat_id, outbox.c.state, outbox.c.last_error).where(
                outbox.c.job_id == job_id
            )
        )
        outcomes = {str(chat): (str(state), error) for chat, state, error in rows}
        reason = (
            await connection.execute(
                select(subscribers.c.unreachable_reason).where(subscribers.c.chat_id == "3")
            )
        ).scalar_one()
    assert set(outcomes) == set(chats)
    assert outcomes["2"] == (OutboxState.FAILED, "Bad Request:  chat \ufffd gone")
    assert outcomes["3"][0] == OutboxState.BLOCKED
    assert reason == "Forbidden: blocked \ufffd"
    assert {c for c, (s, _) in outcomes.items() if s == OutboxState.SENT} == set(chats) - {
        "2",
        "3",
    }
