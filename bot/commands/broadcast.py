"""`bot broadcast`: send a notice to subscribers from the server's terminal, or manage jobs.

    bot broadcast --text-file notice.txt [--audience all|TOPIC] [--channel telegram]... [--yes]
    bot broadcast status JOB     counts by outcome, duration, most common errors
    bot broadcast cancel JOB     recipients not yet sent end as cancelled
    bot broadcast resume JOB     go on with a cancelled or interrupted job, here
    bot broadcast list           recent jobs

Sending shows the audience and the notice, asks for confirmation (or takes --yes), then
delivers in this process with a progress bar. Ctrl-C stops this process cleanly; the job
stays running and `bot run` (or `bot broadcast resume JOB`) finishes it.

The terminal operator is trusted as staff: running this command needs the server's
config and database, which is already everything a broadcast needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import signal
import sys
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import (
    BroadcastError,
    BroadcastRequest,
    JobProgress,
    JobReport,
    Requester,
)
from bot.broadcast.notice import notice_reply
from bot.broadcast.service import BroadcastService, configured_channels
from bot.broadcast.settings import DeliverySettings
from bot.config import Config
from bot.inbound import storable_text
from bot.messages import Channel, Sender
from bot.progress import ProgressBar
from bot.storage.database import StorageError, StorageUnavailable, create_engine
from bot.storage.schema import SchemaError, ensure_schema

# How often the progress bar asks the database for counts.
PROGRESS_SECONDS = 0.5

OpenSenders = Callable[
    [Config, AsyncEngine, Collection[Channel]], AbstractAsyncContextManager[list[Sender]]
]


@dataclass(frozen=True)
class CommandWiring:
    """What the command takes from above it (bot.__main__): the channel senders,
    so that this package need not know the channels."""

    open_senders: OpenSenders


def run_broadcast_command(
    config: Config, args: argparse.Namespace, out: TextIO, wiring: CommandWiring
) -> int:
    """Entry point of `bot broadcast`; returns the exit code."""
    action = args.action or "send"
    if action in ("status", "cancel", "resume") and _job_id(args) is None:
        print(f"bot broadcast {action}: give the job id, e.g. `bot broadcast {action} 12`",
              file=sys.stderr)  # fmt: skip
        return 2
    text = ""
    if action == "send":
        if not args.text_file:
            print("bot broadcast: --text-file is required to send a notice", file=sys.stderr)
            return 2
        try:
            raw = Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"bot broadcast: cannot read {args.text_file}: {exc}", file=sys.stderr)
            return 2
        # Not cut: a notice over NOTICE_MAX_CHARS is refused by the service, with the limit.
        text = storable_text(raw, limit=len(raw))
    try:
        return asyncio.run(_run(config, action, text, args, out, wiring))
    except (BroadcastError, StorageError, StorageUnavailable, SchemaError) as exc:
        print(f"bot broadcast: {exc}", file=sys.stderr)
        return 1


async def _run(
    config: Config,
    action: str,
    text: str,
    args: argparse.Namespace,
    out: TextIO,
    wiring: CommandWiring,
) -> int:
    engine = create_engine(config.storage.url)
    try:
        return await _act(config, engine, action, text, args, out, wiring)
    finally:
        await engine.dispose()


async def _act(
    config: Config,
    engine: AsyncEngine,
    action: str,
    text: str,
    args: argparse.Namespace,
    out: TextIO,
    wiring: CommandWiring,
) -> int:
    await ensure_schema(engine, migrate=config.storage.auto_migrate)
    operator = Requester.operator(_login_name())
    service = BroadcastService.from_config(
        engine,
        config.broadcast,
        config.telegram,
        config.zalo,
        render=lambda text: notice_reply(config.center, text),
    )
    if action == "send":
        return await _send(config, engine, service, operator, text, args, out, wiring)
    if action == "list":
        for job in await service.list_jobs(operator):
            first_line = job.text.splitlines()[0] if job.text else ""
            out.write(
                f"#{job.job_id}  {job.state:<9}  {job.total:>6} recipients  {job.audience:<10} "
                f"{job.created_at:%Y-%m-%d %H:%M}  {job.requested_by}  {first_line[:40]}\n"
            )
        return 0
    job_id = _job_id(args)
    assert job_id is not None
    if action == "status":
        out.write(format_report(await service.report(operator, job_id)))
        return 0
    if action == "cancel":
        progress = await service.cancel(operator, job_id)
        out.write(f"Job #{job_id} cancelled: {format_progress(progress)}\n")
        return 0
    # resume
    await service.resume(operator, job_id)
    report = await service.report(operator, job_id)
    return await _deliver(config, engine, service, operator, job_id, report.channels, out, wiring)


async def _send(
    config: Config,
    engine: AsyncEngine,
    service: BroadcastService,
    operator: Requester,
    text: str,
    args: argparse.Namespace,
    out: TextIO,
    wiring: CommandWiring,
) -> int:
    wanted = tuple(Channel(name) for name in (args.channel or ()))
    if not service.channels:
        print("bot broadcast: no channel to send on; set [telegram] token or the [zalo] keys",
              file=sys.stderr)  # fmt: skip
        return 1
    request = BroadcastRequest(text=text, audience=args.audience, channels=wanted)
    preview = await service.prepare(operator, request)
    out.write(preview.notice.plain_text() + "\n\n")
    audience = f"topic {preview.topic_label}" if preview.topic_label else "all subscribers"
    per_channel = ", ".join(f"{c.value}: {n}" for c, n in preview.recipients.items())
    out.write(f"Audience: {audience} - {per_channel} (total {preview.total})\n")
    if preview.total == 0:
        out.write("Nobody would receive this notice; nothing was sent.\n")
        return 1
    if not args.yes and not _confirmed(preview.total, out):
        out.write("Not sent.\n")
        return 1
    job_id = await service.start(operator, preview.request)
    out.write(f"Job #{job_id} started.\n")
    return await _deliver(
        config, engine, service, operator, job_id, preview.request.channels, out, wiring
    )


async def _deliver(
    config: Config,
    engine: AsyncEngine,
    service: BroadcastService,
    operator: Requester,
    job_id: int,
    channels: Sequence[Channel],
    out: TextIO,
    wiring: CommandWiring,
) -> int:
    """Deliver job `job_id` in this process with a progress bar, until it is over."""
    progress = await service.progress(operator, job_id)
    if progress.state != "running":
        out.write(format_report(await service.report(operator, job_id)))
        return 0
    usable = [c for c in channels if c in configured_channels(config.telegram, config.zalo)]
    async with wiring.open_senders(config, engine, usable) as senders:
        worker = DeliveryWorker(
            engine,
            senders,
            DeliverySettings.from_config(config.broadcast, config.telegram, config.zalo),
            render=lambda text: notice_reply(config.center, text),
            only_job=job_id,
        )
        interrupted = _stop_on_signals(worker)
        bar = ProgressBar(f"job #{job_id}", progress.total, stream=out)
        delivery = asyncio.create_task(worker.run(until_job_finished=job_id))
        while not delivery.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(delivery), PROGRESS_SECONDS)
            with contextlib.suppress(StorageUnavailable):
                progress = await service.progress(operator, job_id)
                bar.update(progress.done, progress.total, note=format_progress(progress))
        await delivery
        bar.finish(format_progress(progress))
    if interrupted:
        out.write(
            f"Stopped. Job #{job_id} is still running: `bot run` or "
            f"`bot broadcast resume {job_id}` finishes it.\n"
        )
        return 130
    out.write(format_report(await service.report(operator, job_id)))
    return 0


def _stop_on_signals(worker: DeliveryWorker) -> list[int]:
    """Ctrl-C / SIGTERM stop the worker cleanly; the returned list records the signal."""
    received: list[int] = []
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        received.append(signum)
        worker.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop, signum)
    return received


def _confirmed(total: int, out: TextIO) -> bool:
    if not sys.stdin.isatty():
        out.write("Not a terminal: add --yes to send without asking.\n")
        return False
    out.flush()
    answer = input(f"Send to {total} recipients? [y/N] ")
    return answer.strip().lower() in ("y", "yes", "c", "co", "có")


def format_progress(progress: JobProgress) -> str:
    return (
        f"sent {progress.sent}, failed {progress.failed}, blocked {progress.blocked}, "
        f"left {progress.left}"
    )


def format_report(report: JobReport) -> str:
    p = report.progress
    lines = [
        f"Job #{report.job_id} ({p.state}), audience {report.audience}, "
        f"channels {', '.join(c.value for c in report.channels)}, by {report.requested_by}",
        f"  started   {report.created_at:%Y-%m-%d %H:%M:%S %Z}",
    ]
    if report.finished_at is not None:
        lines.append(f"  finished  {report.finished_at:%Y-%m-%d %H:%M:%S %Z}")
    if report.duration is not None:
        lines.append(f"  took      {report.duration.total_seconds():.1f} s")
    lines.append(
        f"  total {p.total}: sent {p.sent}, failed {p.failed}, blocked {p.blocked}, "
        f"opted out {p.opted_out}, cancelled {p.cancelled}, left {p.left}"
    )
    for channel, counts in report.by_channel.items():
        lines.append(
            f"    {channel.value:<9} sent {counts.sent}, failed {counts.failed}, "
            f"blocked {counts.blocked}, left {counts.left}"
        )
    lines.append(
        f"  retries {report.retries}; possibly sent twice (taken over after a crash): "
        f"{report.possible_duplicates}"
    )
    for error, count in report.errors.items():
        lines.append(f"    {count} x {error}")
    if report.cancelled_by:
        lines.append(f"  cancelled by {report.cancelled_by}")
    return "\n".join(lines) + "\n"


def _job_id(args: argparse.Namespace) -> int | None:
    try:
        return int(args.job) if args.job is not None else None
    except ValueError:
        return None


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "terminal"
