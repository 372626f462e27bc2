"""The attack of issue 13, measured: does one bad web chat message hold other chats' writes?

The whole bot (`bot.app.running_bot`) runs on a fresh database. An attacker's web chat sends
five frames holding a lone surrogate (the raw JSON text "\\ud800", which JSON allows and
Python decodes to a string UTF-8 cannot encode), and a NUL; then another citizen asks a
normal question. Reports, per database: the "not written, will retry" log lines during the
run, the "refused ... dropped" lines, and the time from the citizen's question (and from
the answer's end) until the citizen's chat context is in the database (or "never" within
the timeout).

    .venv/bin/python benchmarks/poisoned_batch.py
    .venv/bin/python benchmarks/poisoned_batch.py --database postgresql+asyncpg://postgres@127.0.0.1/test

Only the public web chat protocol and the database are used, so the same script measures
an older checkout too (PYTHONPATH=<checkout> .venv/bin/python benchmarks/poisoned_batch.py).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import running_bot
from bot.config import Config, DossierSqlConfig, StorageConfig, WebConfig
from bot.storage.database import create_engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POISON_FRAME = '{"type": "text", "text": "\\ud800"}'
NUL_FRAME = '{"type": "text", "text": "th\\u0000u t\\u1ee5c"}'
QUESTION = "lam giay khai sinh can gi"


class LineCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retry_lines: Counter[str] = Counter()
        self.dropped_lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "not written, will retry" in message:
            self.retry_lines[message.split(" not written")[0]] += 1
        if "refused" in message and "dropped" in message:
            self.dropped_lines += 1


@dataclasses.dataclass
class Outcome:
    retry_lines: dict[str, int]
    dropped_lines: int
    since_question: float | None
    since_answer: float | None
    question_row_since_question: float | None
    shutdown_error: str = ""


def config_for(database_url: str, folder: Path) -> Config:
    defaults = Config()
    return dataclasses.replace(
        defaults,
        catalogue=dataclasses.replace(
            defaults.catalogue,
            path=PROJECT_ROOT / "procedures",
            vocabulary=PROJECT_ROOT / "procedures" / "_vocabulary.toml",
        ),
        storage=StorageConfig(url=database_url),
        dossiers=dataclasses.replace(
            defaults.dossiers,
            sql=DossierSqlConfig(url=f"sqlite+aiosqlite:///{folder / 'dossiers.sqlite3'}"),
        ),
        web=WebConfig(host="127.0.0.1", port=0),
    )


async def turn(socket: aiohttp.ClientWebSocketResponse, frame: str) -> None:
    """Send a frame and read until the turn ends (done, or a notice)."""
    await socket.send_str(frame)
    while True:
        message: Any = await socket.receive_json(timeout=10)
        if message["type"] in ("done", "notice"):
            return


async def written(
    probe: AsyncEngine, table: str, chat_id: str, since: float, window: float
) -> float | None:
    """When a row of `chat_id` is in `table` (monotonic time), or None after the timeout."""
    while time.monotonic() - since < window:
        async with probe.connect() as connection:
            found = (
                await connection.execute(
                    text(f"SELECT 1 FROM {table} WHERE chat_id = :id"), {"id": chat_id}
                )
            ).first()
        if found is not None:
            return time.monotonic()
        await asyncio.sleep(0.005)
    return None


async def attack(database_url: str, folder: Path, window: float) -> Outcome:
    counter = LineCounter()
    logging.getLogger().addHandler(counter)
    probe = create_engine(database_url)
    outcome: Outcome | None = None
    try:
        async with (
            running_bot(config_for(database_url, folder), port=0) as running,
            aiohttp.ClientSession() as session,
        ):
            async with session.ws_connect(running.web_url + "/ws") as attacker:
                await turn(attacker, '{"type": "hello", "chat_id": null, "resume": false}')
                for _ in range(5):
                    await turn(attacker, POISON_FRAME)
                await turn(attacker, NUL_FRAME)
            citizen_id = "citizen_" + secrets.token_hex(8)
            async with session.ws_connect(running.web_url + "/ws") as citizen:
                hello = f'{{"type": "hello", "chat_id": "{citizen_id}", "resume": true}}'
                await citizen.send_str(hello)
                await citizen.receive_json(timeout=10)  # the session
                asked = time.monotonic()
                await turn(citizen, f'{{"type": "text", "text": "{QUESTION}"}}')
                answered = time.monotonic()
            context_at = await written(probe, "chat_contexts", citizen_id, asked, window)
            question_at = await written(probe, "stats_questions", citizen_id, asked, window)
            # Watch the log for the rest of the window: a retry loop keeps adding lines.
            await asyncio.sleep(max(0.0, asked + window - time.monotonic()))
            outcome = Outcome(
                dict(counter.retry_lines),
                counter.dropped_lines,
                None if context_at is None else context_at - asked,
                None if context_at is None else context_at - answered,
                None if question_at is None else question_at - asked,
            )
    except Exception as exc:
        if outcome is None:
            raise
        # The measurement is done; an older bot also fails to stop (its final flush raises).
        outcome.shutdown_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        logging.getLogger().removeHandler(counter)
        await probe.dispose()
    assert outcome is not None
    return outcome


async def postgres_database(admin_dsn: str) -> tuple[str, str]:
    name = f"bot_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", name


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    # Only the counter listens (no output): what matters is how many lines there were.
    logging.getLogger().setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as folder:
        dropped_database = None
        if args.database == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bot.sqlite3'}"
        else:
            url, dropped_database = await postgres_database(args.postgres)
        try:
            outcome = await attack(url, Path(folder), args.timeout)
        finally:
            if dropped_database is not None:
                admin = await asyncpg.connect(args.postgres)
                await admin.execute(f'DROP DATABASE IF EXISTS "{dropped_database}" WITH (FORCE)')
                await admin.close()

    def seconds(value: float | None) -> str:
        return f"never within {args.timeout:.0f} s" if value is None else f"{value:.3f} s"

    print(f"database: {args.database}")
    retries = ", ".join(f"{name}: {n}" for name, n in outcome.retry_lines.items()) or "none"
    print(f"'not written, will retry' log lines in {args.timeout:.0f} s: {retries}")
    print(f"'refused ... dropped' log lines:     {outcome.dropped_lines}")
    print(f"other chat's context written, after its question: {seconds(outcome.since_question)}")
    print(f"                          after the answer ended: {seconds(outcome.since_answer)}")
    print(f"other chat's question record written: {seconds(outcome.question_row_since_question)}")
    print(f"shutdown: {outcome.shutdown_error or 'clean'}")


if __name__ == "__main__":
    asyncio.run(main())
