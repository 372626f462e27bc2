"""The whole dialogue with its clock set: a citizen asking about a fee on the last day of a
temporary reduction and on the day after gets the figure of that day, judged on the
center's date (UTC+7), not the server's."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot import texts
from bot.catalogue.model import Catalogue
from bot.config import CatalogueConfig, Config
from bot.core import load_matcher
from bot.dialogue.context import ContextStore
from bot.dialogue.core import Dialogue, DialogueServices
from bot.messages import Channel, ChatRef, Incoming
from bot.search import Matcher
from bot.storage.database import create_engine
from bot.storage.schema import ensure_schema

ROOT = Path(__file__).resolve().parent.parent
CHAT = ChatRef(Channel.WEB, "citizen-dated")
QUESTION = "đổi thẻ căn cước lệ phí bao nhiêu"


@pytest.fixture(scope="module")
def searching() -> tuple[Config, Catalogue, Matcher]:
    """The shipped catalogue and its matcher, built once (it takes seconds)."""
    config = dataclasses.replace(
        Config(),
        catalogue=CatalogueConfig(ROOT / "procedures", ROOT / "procedures" / "_vocabulary.toml"),
    )
    return (config, *load_matcher(config))


@asynccontextmanager
async def dialogue_at(
    moment: dt.datetime, tmp_path: Path, searching: tuple[Config, Catalogue, Matcher]
) -> AsyncIterator[Dialogue]:
    config, catalogue, matcher = searching
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await ensure_schema(engine)
    contexts = ContextStore(engine)
    clock: Callable[[], dt.datetime] = lambda: moment  # noqa: E731
    try:
        yield Dialogue(DialogueServices(config.center, catalogue, matcher, contexts), clock)
    finally:
        await contexts.close()
        await engine.dispose()


async def fee_answer(
    moment: dt.datetime, tmp_path: Path, searching: tuple[Config, Catalogue, Matcher]
) -> str:
    async with dialogue_at(moment, tmp_path, searching) as dialogue:
        await dialogue.handle(Incoming(CHAT, CHAT.chat_id, "/start"))
        replies = await dialogue.handle(Incoming(CHAT, CHAT.chat_id, QUESTION))
    text = "\n".join(reply.plain_text() for reply in replies)
    assert text.startswith("Cấp đổi thẻ căn cước"), text
    assert texts.HEADING_FEE in text
    return text


async def test_the_last_day_of_a_reduction_gives_it_and_what_follows(
    tmp_path: Path, searching: tuple[Config, Catalogue, Matcher]
) -> None:
    # 23:00 on 31/12/2026 in Vietnam is still 31/12 there (16:00 UTC).
    moment = dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)
    text = await fee_answer(moment, tmp_path, searching)
    assert "25.000 đồng/thẻ" in text
    assert "áp dụng đến hết 31/12/2026" in text
    assert texts.DATED_FROM.format(date="01/01/2027", text="Lệ phí cấp đổi: 50.000 đồng/thẻ") in (
        text
    )


async def test_the_day_after_gives_only_the_full_fee(
    tmp_path: Path, searching: tuple[Config, Catalogue, Matcher]
) -> None:
    # 17:30 UTC on 31/12/2026 is already 01/01/2027 at the center.
    moment = dt.datetime(2026, 12, 31, 17, 30, tzinfo=dt.UTC)
    text = await fee_answer(moment, tmp_path, searching)
    assert "Lệ phí cấp đổi: 50.000 đồng/thẻ" in text
    assert "25.000" not in text and "31/12/2026" not in text and "Từ 01/01/2027" not in text
