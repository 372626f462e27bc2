"""What an attacker on loopback can make the bot do (issue 14), measured on the real bot.

Part "flood": the real bot (bot.app.running_bot: web chat, dialogue, SQLite in a temporary
folder) on a loopback port; one address opens web chat connections as fast as it can, each
sending only the page's hello (a greeting) and closing. Prints the greetings answered and
the chat context rows stored, per minute from that one address.

Part "outage": the bot's database and the dossier source on the machine's PostgreSQL,
reached through a TCP proxy started here; 2 dossier lookups a second through the web chat;
the proxy refuses connections (and cuts open ones) for 20 s, then lets them through again.
Prints the log lines and tracebacks the bot wrote for that one outage.

    .venv/bin/python benchmarks/adversarial.py                 # every part
    .venv/bin/python benchmarks/adversarial.py flood --seconds 30
    .venv/bin/python benchmarks/adversarial.py outage --down 20
    .venv/bin/python benchmarks/adversarial.py throttle --recipients 300 --retry-after 400

Part "throttle": a broadcast to 300 Telegram recipients (the fake Bot API of tests/fakes, at
[telegram] rate_per_second) where one chat answers 429 with retry_after 400. Prints when
the 299 others were delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import func, inspect, select, text

from bot.app import running_bot
from bot.config import (
    CatalogueConfig,
    Config,
    DossierSqlConfig,
    StorageConfig,
    WebConfig,
)
from bot.dossiers.demo import DemoGenerator, write_demo
from bot.dossiers.working_days import WorkingCalendar
from bot.storage.context_tables import chat_contexts
from bot.storage.database import create_engine

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_DSN = os.environ.get(
    "BOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def base_config(folder: Path, storage_url: str, dossier_url: str) -> Config:
    defaults = Config()
    return dataclasses.replace(
        defaults,
        catalogue=CatalogueConfig(ROOT / "procedures", ROOT / "procedures" / "_vocabulary.toml"),
        storage=StorageConfig(url=storage_url),
        dossiers=dataclasses.replace(defaults.dossiers, sql=DossierSqlConfig(url=dossier_url)),
        web=WebConfig(host="127.0.0.1", port=0),
    )


async def write_demo_dossiers(config: Config) -> list[str]:
    """Demo dossiers in the dossier source; their receipt codes."""
    zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
    now = dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
    made = DemoGenerator(now, WorkingCalendar(())).generate(20)
    engine = create_engine(config.dossiers.sql.url)
    try:
        await write_demo(engine, made)
    finally:
        await engine.dispose()
    return [str(dossier.row["code"]) for dossier in made]


# --- part 1: greeting flood --------------------------------------------------------------


async def flood(seconds: float, clients: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        storage = f"sqlite+aiosqlite:///{Path(folder) / 'bot.sqlite3'}"
        dossiers = f"sqlite+aiosqlite:///{Path(folder) / 'dossiers.sqlite3'}"
        config = base_config(Path(folder), storage, dossiers)
        await write_demo_dossiers(config)
        async with running_bot(config, port=0) as running:
            url = running.web_url.rstrip("/") + "/ws"
            counts = {"greeted": 0, "refused": 0, "failed": 0}
            deadline = time.monotonic() + seconds

            async def one_client(session: aiohttp.ClientSession) -> None:
                while time.monotonic() < deadline:
                    try:
                        async with session.ws_connect(url) as socket:
                            await socket.send_json({"type": "hello", "resume": False})
                            while True:
                                message = await socket.receive_json(timeout=10)
                                if message["type"] == "done":
                                    counts["greeted"] += 1
                                    break
                                if message["type"] == "notice":
                                    counts["refused"] += 1
                                    break
                    except (aiohttp.ClientError, TimeoutError, TypeError):
                        counts["failed"] += 1

            started = time.monotonic()
            async with aiohttp.ClientSession() as session:
                await asyncio.gather(*(one_client(session) for _ in range(clients)))
            elapsed = time.monotonic() - started
        # Stopped: the contexts it had not written yet are written now. Every table counts
        # (a web chat history too, where the version has one), the schema's own excepted.
        engine = create_engine(storage)
        async with engine.connect() as connection:
            query = select(func.count()).select_from(chat_contexts)
            rows = int((await connection.execute(query)).scalar_one())
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            stored: dict[str, int] = {}
            for name in names:
                if name != "alembic_version":
                    counted = await connection.execute(text(f'SELECT count(*) FROM "{name}"'))
                    stored[name] = int(counted.scalar_one())
            every = sum(stored.values())
        await engine.dispose()
    per_minute = 60.0 / elapsed
    greeted = counts["greeted"]
    print(f"flood: {clients} clients from one address for {elapsed:.1f} s")
    print(f"  greetings answered:   {greeted:>8,} ({greeted * per_minute:,.0f}/min)")
    print(f"  refused (rate limit): {counts['refused']:>8,}")
    print(f"  connection failures:  {counts['failed']:>8,}")
    print(f"  context rows stored:  {rows:>8,} ({rows * per_minute:,.0f}/min from one address)")
    print(f"  rows stored, all tables: {every:>5,} ({every * per_minute:,.0f}/min)")
    print("    " + ", ".join(f"{name} {count:,}" for name, count in stored.items() if count))


# --- part 2: a database outage -----------------------------------------------------------


class LogCount(logging.Handler):
    """What the bot logs, as the lines a log file would get (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[str] = []
        self.lines = 0
        self.tracebacks = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.levelname} {record.name}: {record.getMessage()}")
        self.lines += len(self.format(record).splitlines())
        if record.exc_info:
            self.tracebacks += 1


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the machine's PostgreSQL (dropped afterwards): its name."""
    name = f"bot_adversarial_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield name
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def outage(down_seconds: float, rate: float) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.tcp_proxy import TcpProxy

    user_host = POSTGRES_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    host, port = user_host.rsplit("@", 1)[-1].split(":")
    counter = LogCount()
    async with (
        postgres_database() as storage_db,
        postgres_database() as dossier_db,
        TcpProxy(host, int(port)) as proxy,
    ):
        user = user_host.rsplit("@", 1)[0]
        through = f"postgresql+asyncpg://{user}@127.0.0.1:{proxy.port}"
        with tempfile.TemporaryDirectory() as folder:
            config = base_config(
                Path(folder), f"{through}/{storage_db}", f"{through}/{dossier_db}"
            )
            codes = await write_demo_dossiers(config)
            async with running_bot(config, port=0) as running:
                url = running.web_url.rstrip("/") + "/ws"
                phases = {"before": 10.0, "down": down_seconds, "after": 15.0}
                answered = {phase: 0 for phase in phases}
                root = logging.getLogger()
                root.addHandler(counter)
                root.setLevel(logging.INFO)
                marks: dict[str, int] = {}
                record_marks: dict[str, int] = {}
                connections = 8
                async with aiohttp.ClientSession() as session:
                    sockets = [await session.ws_connect(url) for _ in range(connections)]
                    for number, socket in enumerate(sockets):
                        chat_id = f"outage-{number:02d}-{secrets.token_hex(6)}"
                        await socket.send_json(
                            {"type": "hello", "chat_id": chat_id, "resume": True}
                        )
                        await socket.receive_json(timeout=10)
                    sent = 0
                    for phase, seconds in phases.items():
                        marks[phase] = counter.lines
                        record_marks[phase] = len(counter.records)
                        if phase == "down":
                            await proxy.cut()
                        elif phase == "after":
                            await proxy.restore()
                        end = time.monotonic() + seconds
                        while time.monotonic() < end:
                            socket = sockets[sent % connections]
                            code = codes[sent % len(codes)]
                            await socket.send_json({"type": "text", "text": code})
                            sent += 1
                            while (await socket.receive_json(timeout=30))["type"] not in (
                                "done",
                                "notice",
                            ):
                                pass
                            answered[phase] += 1
                            await asyncio.sleep(1.0 / rate)
                    for socket in sockets:
                        await socket.close()
                marks["end"] = counter.lines
                record_marks["end"] = len(counter.records)
            root.removeHandler(counter)
    outage_records = counter.records[record_marks["down"] : record_marks["end"]]
    print(f"outage: PostgreSQL cut for {down_seconds:g} s under {rate:g} lookups/s")
    print(f"  lookups answered before/during/after: {answered}")
    lines = marks["end"] - marks["down"]
    print(f"  log lines from the cut to 15 s after it ended: {lines:,}")
    print(f"  log records in that time: {len(outage_records):,}")
    print(f"  tracebacks (whole run): {counter.tracebacks:,}")
    distinct: dict[str, int] = {}
    for line in outage_records:
        distinct[line[:110]] = distinct.get(line[:110], 0) + 1
    for line, count in sorted(distinct.items(), key=lambda item: -item[1])[:15]:
        print(f"  {count:>6} x {line}")


# --- part 3: one recipient banned for 400 s ----------------------------------------------


async def throttle(recipients: int, retry_after: int, give_up_after: float) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from broadcast_support import seed_subscribers
    from fakes.telegram_api import FakeTelegramBotApi, Fault

    from bot.broadcast.delivery import DeliveryWorker
    from bot.broadcast.model import BroadcastRequest, Requester
    from bot.broadcast.service import BroadcastService
    from bot.broadcast.settings import DeliverySettings
    from bot.channels.senders import open_senders
    from bot.config import TelegramConfig
    from bot.messages import Channel
    from bot.storage.schema import ensure_schema

    chats = [str(300_000 + i) for i in range(recipients)]
    banned = chats[3]
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bot.sqlite3'}")
        await ensure_schema(engine)
        await seed_subscribers(engine, Channel.TELEGRAM, chats)
        async with FakeTelegramBotApi() as api:
            api.script_faults(banned, Fault.flood(retry_after))
            config = dataclasses.replace(
                Config(), telegram=TelegramConfig(token=api.token, base_url=api.base_url)
            )
            service = BroadcastService.from_config(
                engine, config.broadcast, config.telegram, config.zalo
            )
            job_id = await service.start(
                Requester.operator("benchmark"), BroadcastRequest("Thông báo")
            )
            started = time.monotonic()
            others = set(chats) - {banned}
            async with open_senders(config, engine, service.channels) as senders:
                worker = DeliveryWorker(
                    engine,
                    senders,
                    DeliverySettings.from_config(config.broadcast, config.telegram, config.zalo),
                )
                running = asyncio.create_task(worker.run(until_job_finished=job_id))
                while time.monotonic() - started < give_up_after:
                    if others <= {m.chat_id for m in api.sent}:
                        break
                    await asyncio.sleep(0.2)
                delivered = [m.at for m in api.sent if m.chat_id in others]
                worker.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(running, 30)
        await engine.dispose()
    print(
        f"throttle: {recipients} Telegram recipients at {config.telegram.rate_per_second:g}/s, "
        f"one answering 429 retry_after {retry_after}"
    )
    last = max(delivered) - started if delivered else float("nan")
    print(f"  the {len(others)} others: {len(delivered)} delivered, the last at {last:.1f} s")
    print(f"  the throttled one waits its own retry_after ({retry_after} s), then is sent")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "part", nargs="?", choices=("flood", "outage", "throttle", "all"), default="all"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="flood duration")
    parser.add_argument("--clients", type=int, default=20, help="flood connections at once")
    parser.add_argument("--down", type=float, default=20.0, help="outage duration")
    parser.add_argument("--rate", type=float, default=2.0, help="lookups a second")
    parser.add_argument("--recipients", type=int, default=300, help="broadcast recipients")
    parser.add_argument("--retry-after", type=int, default=400, help="the 429's retry_after")
    parser.add_argument(
        "--give-up-after", type=float, default=450.0, help="stop waiting for the others"
    )
    args = parser.parse_args()
    if args.part in ("flood", "all"):
        asyncio.run(flood(args.seconds, args.clients))
    if args.part in ("outage", "all"):
        asyncio.run(outage(args.down, args.rate))
    if args.part in ("throttle", "all"):
        asyncio.run(throttle(args.recipients, args.retry_after, args.give_up_after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
