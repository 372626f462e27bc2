"""Broadcast delivery rate and crash recovery against the local fake Bot API.

Part 1, rate: 20,000 subscribers, Telegram's limit raised to 1,000 messages/s; the real
delivery engine (DeliveryWorker + the Telegram adapter's sender, python-telegram-bot over
HTTP) sends one job. Reports the achieved rate, measured on the fake platform's own receive
timestamps, as a share of the limit (goal >= 90%), and the busiest one-second window
(must not exceed the limit).

Part 2, crash: the same job size delivered by `bot broadcast resume JOB` in a subprocess,
killed with SIGKILL after a quarter of it; a new process is started. Reports the time from
the restart until sending resumes, until the recipients the dead process held (claimed,
lease `broadcast.lease_seconds`) are delivered, and until the job is done; plus duplicates
against the bound (`broadcast.concurrency`).

    .venv/bin/python benchmarks/broadcast.py
    .venv/bin/python benchmarks/broadcast.py --recipients 5000 --lease 10
    .venv/bin/python benchmarks/broadcast.py --database postgresql+asyncpg://postgres@127.0.0.1/x

The fake Bot API (tests/fakes/telegram_api.py) runs in its own process so that it does not
share an event loop with the engine being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import logging
import multiprocessing
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy, job_report
from bot.broadcast.settings import ChannelLimits, DeliverySettings
from bot.broadcast.subscriptions import SubscriptionStore
from bot.channels.telegram import TelegramSender, open_telegram_sender
from bot.config import TelegramConfig
from bot.messages import Channel, Sender
from bot.storage.broadcast_tables import Preference, jobs, outbox, subscribers
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-token"
GOAL_SHARE = 0.90
OPERATOR = Requester.operator("benchmark")


# --- the fake platform, in its own process -----------------------------------------------


def _serve_fake(conn: Connection) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    fakes = importlib.import_module("fakes.telegram_api")
    # A killed client leaves requests half-read; the fake need not print each one.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    async def serve() -> None:
        async with fakes.FakeTelegramBotApi(TOKEN) as api:
            api.wait_limit = 600.0
            conn.send(api.base_url)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command == "count":
                    conn.send(len(api.sent))
                elif command == "sent":
                    conn.send([(m.chat_id, m.at) for m in api.sent])
                elif command.startswith("wait:"):
                    wanted = int(command.removeprefix("wait:"))
                    await api.wait_until(lambda n=wanted: len(api.sent) >= n)
                    conn.send(len(api.sent))
                elif command == "clear":
                    api.sent.clear()
                    conn.send(True)
                elif command == "stop":
                    conn.send(True)
                    return

    asyncio.run(serve())


class FakePlatform:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self._process.start()
        self.base_url: str = self._conn.recv()

    def ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    async def ask_async(self, command: str) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.ask, command)

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(5)


# --- helpers ------------------------------------------------------------------------------


async def seed(url: str, recipients: int) -> None:
    engine = create_engine(url)
    await ensure_schema(engine)
    now = dt.datetime.now(dt.UTC)
    async with connect(engine, begin=True) as connection:
        await connection.execute(subscribers.delete())
        await connection.execute(jobs.delete())
        await connection.execute(
            subscribers.insert(),
            [
                {
                    "channel": "telegram",
                    "chat_id": str(10_000_000 + i),
                    "preference": Preference.SUBSCRIBED.value,
                    "all_topics": True,
                    "reachable": True,
                    "subscribed_at": now,
                    "updated_at": now,
                }
                for i in range(recipients)
            ],
        )
    await engine.dispose()


async def start_job(url: str) -> int:
    engine = create_engine(url)
    service = BroadcastService(
        engine,
        SubscriptionStore(engine, {}),
        StaffPolicy(frozenset(), api_enabled=False),
        channels=[Channel.TELEGRAM],
    )
    job_id = await service.start(OPERATOR, BroadcastRequest("Thông báo: lịch làm việc mới."))
    await engine.dispose()
    return job_id


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


# --- part 1: rate --------------------------------------------------------------------------


async def measure_rate(
    url: str,
    fake: FakePlatform,
    recipients: int,
    rate: float,
    concurrency: int,
    transport: str,
) -> None:
    await fake.ask_async("clear")
    await seed(url, recipients)
    job_id = await start_job(url)
    engine = create_engine(url)
    settings = DeliverySettings(
        limits={Channel.TELEGRAM: ChannelLimits(rate, per_chat_interval_seconds=1.0)},
        concurrency=concurrency,
    )
    async with AsyncExitStack() as stack:
        sender: Sender
        if transport == "aiohttp":
            # What `bot run` and `bot broadcast` use.
            config = TelegramConfig(token=TOKEN, base_url=fake.base_url)
            sender = await stack.enter_async_context(open_telegram_sender(config))
        else:
            # python-telegram-bot's default HTTP client, for comparison.
            bot = Bot(TOKEN, base_url=fake.base_url)
            sender = TelegramSender(await stack.enter_async_context(bot))
        worker = DeliveryWorker(engine, [sender], settings)
        began = time.monotonic()
        await worker.run(until_job_finished=job_id)
        wall = time.monotonic() - began
    report = await job_report(engine, job_id)
    await engine.dispose()
    sent = await fake.ask_async("sent")
    times = sorted(at for _, at in sent)
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span if span > 0 else 0.0
    print(f"Rate, Telegram adapter over {transport}: {recipients} recipients, "
          f"limit {rate:g}/s, concurrency {concurrency}")  # fmt: skip
    print(f"  delivered {report.progress.sent}, failed {report.progress.failed}, "
          f"duplicates {len(sent) - len({c for c, _ in sent})}")  # fmt: skip
    print(f"  achieved {achieved:.0f}/s between first and last send = "
          f"{achieved / rate:.1%} of the limit (goal >= {GOAL_SHARE:.0%}): "
          f"{'met' if achieved / rate >= GOAL_SHARE else 'NOT met'}")  # fmt: skip
    print(f"  wall time {wall:.1f} s including start and finish: "
          f"{recipients / wall:.0f}/s = {recipients / wall / rate:.1%} of the limit")  # fmt: skip
    print(f"  busiest 1-second window at the platform: {busiest_second(times)} messages "
          f"(limit {rate:g})")  # fmt: skip


# --- part 2: crash and resume ---------------------------------------------------------------


def write_config(path: Path, url: str, fake: FakePlatform, rate: float, args: Any) -> None:
    data = {
        "storage": {"url": url},
        "logging": {"level": "WARNING"},
        "telegram": {"token": TOKEN, "base_url": fake.base_url, "rate_per_second": rate},
        "broadcast": {
            "concurrency": args.concurrency,
            "lease_seconds": args.lease,
            # The lease must outlast a send's timeout (see DeliverySettings).
            "send_timeout_seconds": min(15.0, args.lease / 2),
        },
    }
    path.write_bytes(tomli_w.dumps(data).encode())


async def measure_crash(url: str, fake: FakePlatform, recipients: int, args: Any) -> None:
    await fake.ask_async("clear")
    await seed(url, recipients)
    job_id = await start_job(url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    config = workdir / "config.toml"
    write_config(config, url, fake, args.rate, args)
    command = [sys.executable, "-m", "bot", "--config", str(config), "broadcast", "resume",
               str(job_id)]  # fmt: skip
    first = await start_quietly(command, workdir)
    await fake.ask_async(f"wait:{recipients // 4}")
    first.send_signal(signal.SIGKILL)
    await first.wait()
    killed_at = time.monotonic()
    at_kill = await fake.ask_async("count")
    engine = create_engine(url)
    held = await chats_in_state(engine, job_id, "sending")

    restarted_at = time.monotonic()
    second = await start_quietly(command, workdir)
    await fake.ask_async(f"wait:{at_kill + 1}")
    resumed_after = time.monotonic() - restarted_at
    await second.wait()
    done_after = time.monotonic() - restarted_at
    sent = await fake.ask_async("sent")
    received = Counter(chat for chat, _ in sent)
    duplicates = sum(n - 1 for n in received.values())
    last_held = max((at for chat, at in sent if chat in held), default=killed_at)
    report = await job_report(engine, job_id)
    await engine.dispose()
    print(f"Crash: {recipients} recipients, SIGKILL after {at_kill} sent "
          f"({len(held)} recipients claimed by the dead process)")  # fmt: skip
    print(f"  restart -> sending again: {resumed_after:.2f} s "
          "(process start-up included)")  # fmt: skip
    print(f"  restart -> recipients held by the dead process delivered: "
          f"{max(0.0, last_held - restarted_at):.1f} s (lease {args.lease:g} s)")  # fmt: skip
    print(f"  restart -> job done: {done_after:.1f} s; state {report.progress.state}, "
          f"delivered to {len(received)}/{recipients}")  # fmt: skip
    print(f"  sent twice: {duplicates} (bound: concurrency {args.concurrency}); "
          f"reported as possible duplicates: {report.possible_duplicates}")  # fmt: skip


async def start_quietly(command: list[str], workdir: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *command,
        cwd=workdir,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def chats_in_state(engine: AsyncEngine, job_id: int, state: str) -> set[str]:
    async with connect(engine) as connection:
        rows = await connection.execute(
            select(outbox.c.chat_id).where(outbox.c.job_id == job_id, outbox.c.state == state)
        )
        return {str(chat) for chat in rows.scalars()}


async def main_async(args: argparse.Namespace) -> None:
    url = args.database or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-')}/bot.sqlite3"
    fake = FakePlatform()
    try:
        print(f"Database: {url.split('@')[-1]}")
        for transport in args.transport:
            await measure_rate(url, fake, args.recipients, args.rate, args.concurrency, transport)
        if not args.skip_crash:
            await measure_crash(url, fake, args.recipients, args)
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="Telegram limit, per second")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lease", type=float, default=60.0, help="broadcast.lease_seconds")
    parser.add_argument("--database", help="database URL (default: a new SQLite file)")
    parser.add_argument("--skip-crash", action="store_true")
    parser.add_argument(
        "--transport",
        action="append",
        choices=["aiohttp", "httpx"],
        help="HTTP client under python-telegram-bot: aiohttp (the bot's) or httpx "
        "(python-telegram-bot's default); default: both",
    )
    args = parser.parse_args()
    args.transport = args.transport or ["aiohttp", "httpx"]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
