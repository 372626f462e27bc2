"""The hand-off flow inside the dialogue, without any channel: the core only returns relays
(messages for another chat) and never sends; what staff see names no citizen; the number
staff reply to is read from the first line only."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import base_config

from bot import texts
from bot.config import HandoffConfig, TelegramConfig
from bot.core import CoreServices, open_core
from bot.dialogue.turn import TurnOutcome
from bot.messages import Channel, ChatRef, Incoming

GROUP = ChatRef(Channel.TELEGRAM, "-100555")
CITIZEN = ChatRef(Channel.WEB, "web-chat-of-citizen-0001")
NOW = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@pytest.fixture
async def core(tmp_path: Path, project_root: Path) -> AsyncIterator[CoreServices]:
    config = dataclasses.replace(
        base_config(tmp_path, project_root),
        telegram=TelegramConfig(token="1:unused"),  # never started: open_core only
        handoff=HandoffConfig(staff_group_id=int(GROUP.chat_id)),
    )
    async with open_core(config, clock=lambda: NOW) as services:
        yield services


async def turn(
    core: CoreServices, chat: ChatRef, text: str, *, quoted: str = "", name: str = ""
) -> TurnOutcome:
    message = Incoming(chat, "77", text, quoted_text=quoted, display_name=name)
    return await core.dialogue.converse(message)


async def test_the_core_returns_relays_and_staff_never_see_who(core: CoreServices) -> None:
    opened = await turn(core, CITIZEN, "cho tôi gặp cán bộ")
    assert texts.HANDOFF_STARTED.split("{")[0] in opened.replies[-1].plain_text()
    [to_staff] = opened.relays
    assert to_staff.chat == GROUP
    assert to_staff.reply.plain_text().startswith("🙋 #1 · Web chat")
    assert to_staff.if_undelivered is not None

    asked = await turn(core, CITIZEN, "Số điện thoại tôi là 0912345678, hồ sơ tôi sao rồi?")
    assert asked.replies == ()
    [forwarded] = asked.relays
    text = forwarded.reply.plain_text()
    assert text.startswith("💬 #1 · Web chat\n")
    assert CITIZEN.chat_id not in text and "77" not in text.split("\n")[0]

    # The number comes from the first line: a "#9" the citizen typed does not count.
    crafted = "💬 #1 · Web chat\nxem giúp #9"
    answer = await turn(core, GROUP, "Bạn chờ 2 ngày nhé", quoted=crafted, name="Hoa")
    [to_citizen] = answer.relays
    assert to_citizen.chat == CITIZEN
    assert to_citizen.reply.plain_text() == f"{texts.HANDOFF_STAFF_ANSWER}\nBạn chờ 2 ngày nhé"
    assert answer.replies == ()
    unknown = await turn(core, GROUP, "?", quoted="💬 #9 · Web chat\n...")
    assert unknown.relays == ()
    assert unknown.replies[0].plain_text() == texts.STAFF_HANDOFF_GONE.format(number=9)

    # handle() (what a channel without relays calls) gives the replies only.
    replies = await core.dialogue.handle(Incoming(CITIZEN, CITIZEN.chat_id, "Kết thúc!"))
    assert replies[0].plain_text() == texts.HANDOFF_ENDED_BY_CITIZEN
    after = await turn(core, CITIZEN, "làm hộ chiếu")
    assert after.relays == ()
