"""Broadcasts in the running bot: the delivery worker's lifetime, waking it when a job
starts, and the progress message of the staff member who started one.

    hooks = BroadcastHooks()                         # given to the services at once
    async with delivering(worker, ProgressFollower(engine, senders), hooks):
        ...                                          # jobs started now wake the worker

The broadcast services exist before the channels, whose senders the worker needs, so
what a started job sets off is bound late, through `BroadcastHooks`. Staff who start a
broadcast from a chat (bot.dialogue.staff_flow) get a message with the counts so far;
`ProgressFollower` sends it again, through that chat's channel, whenever the counts
change, until the job is over. The composition root (bot.app) builds these.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.service import job_progress
from bot.dialogue.staff_flow import progress_reply
from bot.messages import Channel, ChatRef, Reply, Sender, SendError
from bot.storage.database import StorageUnavailable

log = logging.getLogger(__name__)

# How often a staff member's progress message of a broadcast is updated.
PROGRESS_INTERVAL_SECONDS = 3.0


@dataclass
class BroadcastHooks:
    """Late-bound reactions to a started broadcast job (the services exist before them)."""

    wake_delivery: Callable[[], None] | None = None
    follow_progress: Callable[[ChatRef, int], None] | None = None

    def job_started(self, job_id: int) -> None:
        if self.wake_delivery is not None:
            self.wake_delivery()

    def staff_job_started(self, chat: ChatRef, job_id: int) -> None:
        if self.follow_progress is not None:
            self.follow_progress(chat, job_id)


class ProgressFollower:
    """The progress messages being kept up to date, one task each."""

    def __init__(
        self,
        engine: AsyncEngine,
        senders: Mapping[Channel, Sender],
        *,
        interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self._engine = engine
        # Read at each update: channels register their senders as they start.
        self._senders = senders
        self._interval = interval_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def follow(self, chat: ChatRef, job_id: int) -> None:
        """Keep `chat` told how job `job_id` goes, until it is over (or the bot stops)."""
        if self._stopped:
            # The bot is stopping while its channels still take input: nothing would
            # cancel a new task. The job itself goes on at the next start.
            return
        task = asyncio.create_task(
            self._report_progress(chat, job_id), name=f"broadcast-{job_id}-progress"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _report_progress(self, chat: ChatRef, job_id: int) -> None:
        """Update the staff member's progress message until the job is over."""
        sender = self._senders.get(chat.channel)
        if sender is None:
            return
        shown: Reply | None = None
        while True:
            await asyncio.sleep(self._interval)
            try:
                progress = await job_progress(self._engine, job_id)
                reply = progress_reply(progress)
                if reply != shown:
                    await sender.send(chat.chat_id, reply)
                    shown = reply
            except StorageUnavailable:
                continue  # the outage is logged once where it was raised (bot.storage.outage)
            except SendError as exc:
                log.warning("progress of broadcast %d not shown to %s: %s", job_id, chat, exc)
                continue
            if progress.finished:
                return


@asynccontextmanager
async def delivering(
    worker: DeliveryWorker, progress: ProgressFollower, hooks: BroadcastHooks
) -> AsyncIterator[DeliveryWorker]:
    """The broadcast delivery worker of this process, running, and the progress messages it
    feeds; on exit it stops delivering: sends in flight finish, unsent claims are released.
    """
    task = asyncio.create_task(worker.run(), name="broadcast-delivery")
    hooks.wake_delivery = worker.wake
    hooks.follow_progress = progress.follow
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.gather(task, progress.stop(), return_exceptions=True)
