"""The aiohttp transport under python-telegram-bot, against the fake Bot API over HTTP.

`post_json` (replies sent without python-telegram-bot's objects) must fail exactly as
python-telegram-bot's own methods do over the same transport, so that retries, flood
control and the Sender's error mapping treat both paths alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes import FakeTelegramBotApi, Fault
from telegram import Bot
from telegram.error import RetryAfter, TelegramError

from bot.channels.telegram.transport import AiohttpTelegramRequest


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramBotApi]:
    async with FakeTelegramBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeTelegramBotApi) -> AsyncIterator[Bot]:
    request = AiohttpTelegramRequest(read_timeout=0.5, connect_timeout=1.0)
    async with Bot(api.token, base_url=api.base_url, request=request) as bot:
        yield bot


def transport(bot: Bot) -> AiohttpTelegramRequest:
    request = bot.request
    assert isinstance(request, AiohttpTelegramRequest)
    return request


async def test_post_json_sends_plain_json_and_returns_the_result(
    api: FakeTelegramBotApi, bot: Bot
) -> None:
    markup = {"inline_keyboard": [[{"text": "Lệ phí", "callback_data": "p:1.001193:fee"}]]}
    parameters = {"chat_id": 77, "text": "<b>Lệ phí</b> &amp; thời gian", "parse_mode": "HTML"}

    result = await transport(bot).post_json(
        f"{bot.base_url}/sendMessage", {**parameters, "reply_markup": markup}
    )

    [sent] = api.messages_to(77)
    assert result["message_id"] == sent.message_id
    assert sent.text == "<b>Lệ phí</b> &amp; thời gian"
    assert sent.plain_text == "Lệ phí & thời gian"
    assert sent.parse_mode == "HTML"
    assert sent.callback_data == ["p:1.001193:fee"]


@pytest.mark.parametrize(
    "fault",
    [
        Fault.blocked(),
        Fault.chat_not_found(),
        Fault(400, "Bad Request: can't parse entities"),
        Fault(401, "Unauthorized"),
        Fault(409, "Conflict: terminated by other getUpdates request"),
        Fault.server_error(500),
        Fault.server_error(502),
        Fault.flood(3),
        Fault.slow(2.0),
    ],
)
async def test_post_json_fails_as_python_telegram_bot_does(
    api: FakeTelegramBotApi, bot: Bot, fault: Fault
) -> None:
    api.script_faults(77, fault, fault)

    with pytest.raises(TelegramError) as by_library:
        await bot.send_message(77, "hello")
    with pytest.raises(TelegramError) as by_post_json:
        await transport(bot).post_json(
            f"{bot.base_url}/sendMessage", {"chat_id": 77, "text": "hello"}
        )

    assert type(by_post_json.value) is type(by_library.value)
    assert str(by_post_json.value) == str(by_library.value)
    if isinstance(by_library.value, RetryAfter):
        assert isinstance(by_post_json.value, RetryAfter)
        assert by_post_json.value.retry_after == by_library.value.retry_after
