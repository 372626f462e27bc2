"""Telegram pipeline throughput: updates/s through the whole bot, next to an echo bot.

Every pipeline polls the same local fake Bot API (tests/fakes) over real HTTP, in this
process, one after the other:

  * a bare python-telegram-bot echo bot (one MessageHandler answering with the same
    text), with python-telegram-bot's defaults (one update at a time), and with the
    Telegram adapter's concurrency;
  * the Telegram adapter (bot.channels.telegram) with a dialogue that only echoes: what
    the adapter itself costs (rendering, per-chat ordering, sending);
  * the bot itself (`bot.app.running_bot`): the adapter and the real dialogue with its
    database-backed chat context, procedure search, question records and rendering.

Every chat sends the same five messages (a question without diacritics, a follow-up
about the fee, another about the time, "không phải", an unknown question). An update
counts as handled when python-telegram-bot has run its handler to the end, i.e. after
the answer was sent (a handler in a later group counts it); the clock runs from the
moment the updates are queued at the fake API until the last one is handled.

    .venv/bin/python benchmarks/pipeline.py [--chats 200] [--runs 3] [--storage URL]

`--storage` puts the bot's own database elsewhere than a fresh SQLite file, e.g.
postgresql+asyncpg://postgres@127.0.0.1:5432/test. Goal (issue 5): the bot handles at
least 50% of the fastest echo bot's updates/s; the exit status is 1 when it does not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # run as a script: the fake Bot API lives there

from fakes import FakeTelegramBotApi  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.channels.telegram import DEFAULT_CONCURRENT_UPDATES, TelegramChannel  # noqa: E402
from bot.config import (  # noqa: E402
    Config,
    DossierSqlConfig,
    StorageConfig,
    TelegramConfig,
    WebConfig,
)
from bot.messages import Incoming, Reply  # noqa: E402

CONVERSATION = (
    "lam giay khai sinh can giay to gi",
    "còn lệ phí thì sao?",
    "mất bao lâu",
    "không phải",
    "thủ tục cấp phép nuôi rồng ở sao Hỏa",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    updates: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds


def queue_conversations(api: FakeTelegramBotApi, chat_ids: range) -> int:
    for text in CONVERSATION:
        for chat_id in chat_ids:
            api.add_message(chat_id, text)
    return len(CONVERSATION) * len(chat_ids)


class HandledCounter:
    """Counts updates whose handling finished; wakes a waiter at a target count."""

    def __init__(self) -> None:
        self.count = 0
        self._target = 0
        self._reached = asyncio.Event()

    async def handled(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.count += 1
        if self.count >= self._target:
            self._reached.set()

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        # Group 1 runs after the bot's own handlers (group 0) are done with the update.
        application.add_handler(TypeHandler(Update, self.handled), group=1)

    async def run(self, queue: Callable[[], int]) -> float:
        """Seconds from queueing the updates until all of them were handled."""
        self._reached.clear()
        started = time.perf_counter()
        self._target = self.count + queue()
        if self.count < self._target:
            await asyncio.wait_for(self._reached.wait(), timeout=600)
        return time.perf_counter() - started


# --- the echo bot -------------------------------------------------------------------------


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


async def measure_echo(api: FakeTelegramBotApi, chats: int, concurrency: int) -> Measurement:
    builder = Application.builder().token(api.token).base_url(api.base_url)
    if concurrency > 1:
        builder = builder.concurrent_updates(concurrency)
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    counter = HandledCounter()
    counter.install(application)
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(timeout=1)
        await application.start()
        try:
            await counter.run(lambda: queue_conversations(api, range(1, 2)))  # warm-up
            ids = range(10_000, 10_000 + chats)
            seconds = await counter.run(lambda: queue_conversations(api, ids))
        finally:
            await application.updater.stop()
            await application.stop()
    name = (
        "echo bot, one update at a time"
        if concurrency <= 1
        else f"echo bot, {concurrency} concurrent updates"
    )
    return Measurement(name, len(CONVERSATION) * chats, seconds)


# --- the bot --------------------------------------------------------------------------------


def bot_config(api: FakeTelegramBotApi, folder: Path, storage: str) -> Config:
    defaults = Config()
    return dataclasses.replace(
        defaults,
        catalogue=dataclasses.replace(
            defaults.catalogue,
            path=ROOT / "procedures",
            vocabulary=ROOT / "procedures" / "_vocabulary.toml",
        ),
        storage=StorageConfig(url=storage or f"sqlite+aiosqlite:///{folder / 'bot.sqlite3'}"),
        dossiers=dataclasses.replace(
            defaults.dossiers,
            sql=DossierSqlConfig(url=f"sqlite+aiosqlite:///{folder / 'dossiers.sqlite3'}"),
        ),
        telegram=TelegramConfig(
            token=api.token, base_url=api.base_url, base_file_url=api.base_file_url
        ),
        web=WebConfig(host="127.0.0.1", port=0),
    )


class EchoDialogue:
    """A ConversationHandler that answers with the text it got: isolates the adapter."""

    async def handle(self, message: Incoming) -> Sequence[Reply]:
        return [Reply.text(message.text)]


async def measure_adapter(api: FakeTelegramBotApi, chats: int) -> Measurement:
    config = TelegramConfig(token=api.token, base_url=api.base_url)
    channel = TelegramChannel(config, EchoDialogue())
    counter = HandledCounter()
    counter.install(channel.application)
    await channel.start()
    try:
        await channel.wait_running()
        await counter.run(lambda: queue_conversations(api, range(1, 2)))  # warm-up
        ids = range(30_000, 30_000 + chats)
        seconds = await counter.run(lambda: queue_conversations(api, ids))
    finally:
        await channel.stop()
    return Measurement("adapter, echoing dialogue", len(CONVERSATION) * chats, seconds)


async def measure_bot(api: FakeTelegramBotApi, chats: int, storage: str) -> Measurement:
    from bot.app import running_bot
    from bot.commands.demo import create_demo

    with tempfile.TemporaryDirectory() as folder:
        config = bot_config(api, Path(folder), storage)
        await create_demo(config, if_missing=False, count=60, out=io.StringIO())
        async with running_bot(config, port=0) as running:
            assert running.telegram is not None
            counter = HandledCounter()
            counter.install(running.telegram.application)
            await running.telegram.wait_running()
            # Fresh chat ids on every run: a shared database keeps earlier contexts.
            first = random.randrange(10**6, 10**9)
            await counter.run(lambda: queue_conversations(api, range(first, first + 1)))
            ids = range(first + 1, first + 1 + chats)
            seconds = await counter.run(lambda: queue_conversations(api, ids))
    return Measurement("the bot (adapter + real dialogue)", len(CONVERSATION) * chats, seconds)


async def best_of(runs: int, measure: Callable[[], Awaitable[Measurement]]) -> Measurement:
    results = [await measure() for _ in range(runs)]
    fastest = min(results, key=lambda m: m.seconds)
    spread = statistics.pstdev(m.rate for m in results) if len(results) > 1 else 0.0
    print(f"  {fastest.name}: {', '.join(f'{m.rate:,.0f}' for m in results)} updates/s"
          f" (best {fastest.rate:,.0f}, spread {spread:,.0f})")  # fmt: skip
    return fastest


async def main(chats: int, runs: int, storage: str) -> int:
    logging.basicConfig(level=logging.WARNING)
    updates = chats * len(CONVERSATION)
    database = storage or "a fresh SQLite file"
    print(f"{chats} chats x {len(CONVERSATION)} messages = {updates} updates per run,")
    print(f"best of {runs} runs; the bot's database: {database}")
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 600.0
        sequential = await best_of(runs, lambda: measure_echo(api, chats, 1))
        concurrent = await best_of(
            runs, lambda: measure_echo(api, chats, DEFAULT_CONCURRENT_UPDATES)
        )
        adapter = await best_of(runs, lambda: measure_adapter(api, chats))
        bot = await best_of(runs, lambda: measure_bot(api, chats, storage))
    baseline = max(sequential, concurrent, key=lambda m: m.rate)
    print()
    print(f"{'pipeline':45} {'updates/s':>10} {'of echo':>8}")
    for measurement in (sequential, concurrent, adapter, bot):
        share = measurement.rate / baseline.rate
        print(f"{measurement.name:45} {measurement.rate:>10,.0f} {share:>8.0%}")
    share = bot.rate / baseline.rate
    print(f"\nthe bot / fastest echo bot: {share:.0%} (goal >= 50%)")
    return 0 if share >= 0.5 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=200, help="chats per run (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs per pipeline (default 3)")
    parser.add_argument("--storage", default="", help="URL of the bot's database")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.chats, arguments.runs, arguments.storage)))
