"""The Telegram channel against the fake Bot API over real HTTP (the bot's aiohttp transport).

Covers rendering (HTML escaping checked by the fake the way Telegram parses it, headings,
splitting under 4,096 characters, inline keyboards, photos), callback queries, /start,
blocking the bot, per-chat ordering, retries when Telegram fails, the webhook mode with
its secret-token check, and the Sender's error mapping.
"""

from __future__ import annotations

import asyncio
import html
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from fakes import FakeTelegramBotApi, Fault, ScriptedDialogue
from fakes.dialogue import long_lines
from telegram import Bot

from bot.channels.health import ComponentHealth
from bot.channels.server import WebServer, create_web_app
from bot.channels.telegram import (
    SECRET_TOKEN_HEADER,
    TEXT_LIMIT,
    RetryPolicy,
    TelegramChannel,
    TelegramSender,
    open_telegram_sender,
)
from bot.channels.telegram.transport import AiohttpTelegramRequest
from bot.channels.web import WebChat
from bot.config import ConfigError, TelegramConfig, WebConfig
from bot.messages import (
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
    Button,
    Channel,
    Image,
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientSendError,
)

FAST_RETRY = RetryPolicy(first_delay=0.05, max_delay=0.2, connect_max_delay=0.5)


def config_for(api: FakeTelegramBotApi, **overrides: object) -> TelegramConfig:
    values: dict[str, object] = {
        "token": api.token,
        "base_url": api.base_url,
        "base_file_url": api.base_file_url,
    }
    values.update(overrides)
    return TelegramConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramBotApi]:
    async with FakeTelegramBotApi() as fake:
        yield fake


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    return ScriptedDialogue(delay_for=["first"], delay=0.3)


@pytest.fixture
async def channel(
    api: FakeTelegramBotApi, dialogue: ScriptedDialogue
) -> AsyncIterator[TelegramChannel]:
    telegram = TelegramChannel(config_for(api), dialogue, retry=FAST_RETRY)
    await telegram.start()
    try:
        async with asyncio.timeout(10):
            await telegram.wait_running()
        yield telegram
    finally:
        await telegram.stop()


async def test_text_is_escaped_and_headings_are_bold(
    api: FakeTelegramBotApi, channel: TelegramChannel, dialogue: ScriptedDialogue
) -> None:
    api.add_message(42, "giấy <khai sinh> & hộ khẩu", first_name="Lan")

    [sent] = await api.wait_for_sent(1, chat_id=42)

    assert sent.parse_mode == "HTML"
    assert sent.text == "<b>Bạn hỏi</b>\ngiấy &lt;khai sinh&gt; &amp; hộ khẩu"
    assert sent.plain_text == "Bạn hỏi\ngiấy <khai sinh> & hộ khẩu"
    assert sent.callback_data == ["part:fee", "not-this"]
    [incoming] = dialogue.received
    assert incoming.chat.channel is Channel.TELEGRAM
    assert incoming.chat.chat_id == "42"
    assert incoming.user_id == "42"
    assert incoming.display_name == "Lan"
    assert not incoming.is_first_contact


async def test_start_is_first_contact_and_shows_menu_and_link(
    api: FakeTelegramBotApi, channel: TelegramChannel, dialogue: ScriptedDialogue
) -> None:
    api.add_message(7, "/start@center_test_bot")

    [sent] = await api.wait_for_sent(1, chat_id=7)

    assert dialogue.received[0].text == "/start"
    assert dialogue.received[0].is_first_contact
    assert "Trung tâm &lt;PVHCC&gt; &amp; bạn." in sent.text
    assert sent.buttons[0] == [
        {"text": "Hỏi thủ tục", "callback_data": "menu:ask"},
        {"text": "Tra cứu hồ sơ", "callback_data": "menu:dossier"},
    ]
    assert sent.buttons[1] == [{"text": "Cổng dịch vụ công", "url": "https://dichvucong.gov.vn"}]


async def test_long_reply_is_split_at_line_boundaries_with_buttons_on_the_last(
    api: FakeTelegramBotApi, channel: TelegramChannel
) -> None:
    api.add_message(42, "long")

    # The fake refuses any message over 4,096 characters or with a broken entity, so
    # every chunk arriving proves it was cut at a safe place.
    await api.wait_until(lambda: any(m.buttons for m in api.messages_to(42)))
    sent = api.messages_to(42)
    assert len(sent) >= 5
    assert all(len(message.text) <= TEXT_LIMIT for message in sent)
    assert [bool(message.buttons) for message in sent] == [False] * (len(sent) - 1) + [True]
    lines = [line for message in sent for line in message.plain_text.split("\n")]
    assert lines == ["Danh sách dài", *long_lines()]


async def test_button_press_is_answered_and_becomes_an_action(
    api: FakeTelegramBotApi, channel: TelegramChannel, dialogue: ScriptedDialogue
) -> None:
    api.add_message(42, "/start")
    [menu] = await api.wait_for_sent(1, chat_id=42)

    query_id = api.add_callback_query(42, "menu:dossier", message=menu)
    sent = await api.wait_for_sent(2, chat_id=42)

    assert query_id in api.answered_callbacks
    pressed = dialogue.received[-1]
    assert pressed.action == "menu:dossier"
    assert pressed.text == "Tra cứu hồ sơ"
    assert sent[-1].plain_text == "Bạn chọn: Tra cứu hồ sơ [menu:dossier]"


async def test_image_is_sent_as_photo_with_caption(
    api: FakeTelegramBotApi, channel: TelegramChannel
) -> None:
    api.add_message(42, "image")

    [sent] = await api.wait_for_sent(1, chat_id=42)

    assert sent.method == "sendPhoto"
    assert sent.photo_bytes > 0
    assert sent.plain_text == "Biểu đồ tuần này"


async def test_blocking_the_bot_is_an_unfollow_without_reply(
    api: FakeTelegramBotApi, channel: TelegramChannel, dialogue: ScriptedDialogue
) -> None:
    api.add_membership_change(42, old="member", new="kicked")
    api.add_membership_change(42, old="kicked", new="member")
    api.add_message(42, "hello")

    await api.wait_for_sent(1, chat_id=42)

    assert [m.action for m in dialogue.received] == [EVENT_UNFOLLOW, EVENT_FOLLOW, None]
    assert [m.plain_text for m in api.messages_to(42)] == ["Bạn hỏi\nhello"]


async def test_messages_of_one_chat_are_answered_in_order(
    api: FakeTelegramBotApi, channel: TelegramChannel
) -> None:
    # The dialogue takes 0.3 s over "first"; "second" must still be answered after it.
    api.add_message(42, "first")
    api.add_message(42, "second")
    api.add_message(43, "other chat")

    sent = await api.wait_for_sent(2, chat_id=42)
    await api.wait_for_sent(1, chat_id=43)

    assert [m.plain_text.split("\n")[1] for m in sent] == ["first", "second"]


async def test_replies_survive_telegram_errors_and_flood_control(
    api: FakeTelegramBotApi, channel: TelegramChannel
) -> None:
    api.script_faults(42, Fault.server_error(502), Fault.flood(1), Fault.server_error(500))
    api.add_message(42, "hello")

    [sent] = await api.wait_for_sent(1, chat_id=42)

    assert sent.plain_text == "Bạn hỏi\nhello"
    assert api.calls["sendMessage"] == 4


async def test_a_chat_that_blocked_the_bot_does_not_stop_the_others(
    api: FakeTelegramBotApi, channel: TelegramChannel
) -> None:
    api.set_chat_fault(42, Fault.blocked())
    api.add_message(42, "hello")
    api.add_message(43, "hello")

    await api.wait_for_sent(1, chat_id=43)

    assert api.messages_to(42) == []


async def test_connects_once_telegram_becomes_reachable(dialogue: ScriptedDialogue) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = FakeTelegramBotApi(port=port)
    telegram = TelegramChannel(config_for_port(api.token, port), dialogue, retry=FAST_RETRY)
    await telegram.start()
    try:
        async with asyncio.timeout(10):
            health = await telegram.wait_for_health("degraded")
        assert "getMe failed" in health.detail
        async with api:
            async with asyncio.timeout(10):
                await telegram.wait_running()
            assert telegram.health() == ComponentHealth("ok", "long polling")
            api.add_message(5, "hello")
            await api.wait_for_sent(1, chat_id=5)
            await telegram.stop()
    finally:
        await telegram.stop()


def config_for_port(token: str, port: int) -> TelegramConfig:
    return TelegramConfig(
        token=token,
        base_url=f"http://127.0.0.1:{port}/bot",
        base_file_url=f"http://127.0.0.1:{port}/file/bot",
    )


async def test_rejected_token_turns_the_channel_down(
    api: FakeTelegramBotApi, dialogue: ScriptedDialogue
) -> None:
    telegram = TelegramChannel(config_for(api, token="999:wrong"), dialogue, retry=FAST_RETRY)
    await telegram.start()
    try:
        async with asyncio.timeout(10):
            health = await telegram.wait_for_health("down")
        assert "rejected the bot token" in health.detail
    finally:
        await telegram.stop()


# --- webhook mode -------------------------------------------------------------------------


@pytest.fixture
async def webhook_server(
    api: FakeTelegramBotApi, dialogue: ScriptedDialogue
) -> AsyncIterator[tuple[TelegramChannel, WebServer]]:
    telegram = TelegramChannel(
        config_for(api, mode="webhook", secret_token="s3cr3t-token", webhook_path="/tg/hook"),
        dialogue,
        retry=FAST_RETRY,
    )
    web_chat = WebChat(dialogue, WebConfig())
    server = WebServer(
        create_web_app(web_chat=web_chat, health=dict, telegram=telegram), "127.0.0.1", 0
    )
    await server.start()
    # The server listens first: Telegram starts posting as soon as the webhook is set.
    await telegram.start(public_url=server.url)
    try:
        async with asyncio.timeout(10):
            await telegram.wait_running()
        yield telegram, server
    finally:
        await telegram.stop()
        await server.stop()


async def test_webhook_mode_registers_and_answers(
    api: FakeTelegramBotApi,
    webhook_server: tuple[TelegramChannel, WebServer],
    dialogue: ScriptedDialogue,
) -> None:
    _, server = webhook_server
    assert api.webhook_url == f"{server.url}/tg/hook"
    assert api.webhook_secret == "s3cr3t-token"

    api.add_message(42, "qua webhook")
    [sent] = await api.wait_for_sent(1, chat_id=42)
    api.add_callback_query(42, "part:fee", message=sent)
    await api.wait_for_sent(2, chat_id=42)

    assert sent.plain_text == "Bạn hỏi\nqua webhook"
    assert [m.action for m in dialogue.received] == [None, "part:fee"]
    assert {d.status for d in api.webhook_deliveries} == {200}
    assert api.calls["getUpdates"] == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({SECRET_TOKEN_HEADER: "guess"}, 403), ({SECRET_TOKEN_HEADER: ""}, 403)],
)
async def test_webhook_refuses_requests_without_the_secret(
    webhook_server: tuple[TelegramChannel, WebServer],
    dialogue: ScriptedDialogue,
    headers: dict[str, str],
    status: int,
) -> None:
    _, server = webhook_server
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "from": {"id": 1, "is_bot": False, "first_name": "Mallory"},
            "text": "forged",
        },
    }
    async with ClientSession() as session:
        response = await session.post(f"{server.url}/tg/hook", json=update, headers=headers)
        assert response.status == status
        good = {SECRET_TOKEN_HEADER: "s3cr3t-token"}
        bad_body = await session.post(f"{server.url}/tg/hook", data=b"[1, 2]", headers=good)
        assert bad_body.status == 400
    await asyncio.sleep(0.1)
    assert dialogue.received == []


async def test_webhook_mode_requires_a_secret_and_a_url(dialogue: ScriptedDialogue) -> None:
    with pytest.raises(ConfigError, match="secret_token"):
        TelegramChannel(
            TelegramConfig(token="1:x", mode="webhook", webhook_url="https://bot.example/tg"),
            dialogue,
        )
    without_url = TelegramChannel(
        TelegramConfig(token="1:x", mode="webhook", secret_token="s"), dialogue
    )
    with pytest.raises(ConfigError, match="webhook_url"):
        await without_url.start()
    await without_url.stop()
    with pytest.raises(ConfigError, match="token"):
        TelegramChannel(TelegramConfig(), dialogue)


# --- the Sender (used by broadcasts and dossier notices) -----------------------------------


@pytest.fixture
async def sender(api: FakeTelegramBotApi) -> AsyncIterator[TelegramSender]:
    request = AiohttpTelegramRequest(read_timeout=0.5, connect_timeout=1.0)
    bot = Bot(api.token, base_url=api.base_url, request=request)
    async with bot:
        yield TelegramSender(bot)


async def test_sender_delivers_a_reply(api: FakeTelegramBotApi, sender: TelegramSender) -> None:
    await sender.send("77", Reply.text("Thông báo: nghỉ lễ 2/9 & 3/9", [[Button("Hủy", "unsub")]]))

    [sent] = api.messages_to(77)
    assert sent.text == html.escape("Thông báo: nghỉ lễ 2/9 & 3/9", quote=False)
    assert sent.callback_data == ["unsub"]
    assert sender.channel is Channel.TELEGRAM


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.blocked(), RecipientBlocked),
        (Fault(403, "Forbidden: user is deactivated"), RecipientBlocked),
        (Fault.chat_not_found(), RecipientBlocked),
        (Fault(400, "Bad Request: can't parse entities"), PermanentSendError),
        (Fault.server_error(500), TransientSendError),
        (Fault.server_error(502), TransientSendError),
        (Fault.slow(2.0), TransientSendError),
    ],
)
async def test_sender_maps_telegram_failures(
    api: FakeTelegramBotApi,
    sender: TelegramSender,
    fault: Fault,
    error: type[Exception],
) -> None:
    api.script_faults(77, fault)

    with pytest.raises(error):
        await sender.send("77", Reply.text("hello"))


async def test_sender_reports_flood_control_with_its_delay(
    api: FakeTelegramBotApi, sender: TelegramSender
) -> None:
    api.script_faults(77, Fault.flood(3))

    with pytest.raises(RateLimited) as raised:
        await sender.send("77", Reply.text("hello"))

    assert raised.value.retry_after == 3.0
    await sender.send("77", Reply.text("hello again"))
    assert [m.plain_text for m in api.messages_to(77)] == ["hello again"]


async def test_a_reply_with_an_edit_key_edits_the_message_it_replaces(
    api: FakeTelegramBotApi, sender: TelegramSender
) -> None:
    """A broadcast's progress message updates in place instead of piling up."""
    await sender.send("77", Reply(Reply.text("đã gửi 10/100").sections, edit_key="job-1"))
    await sender.send("77", Reply(Reply.text("đã gửi 60/100").sections, edit_key="job-1"))
    await sender.send("77", Reply(Reply.text("đã gửi 60/100").sections, edit_key="job-1"))
    await sender.send("77", Reply(Reply.text("việc khác").sections, edit_key="job-2"))

    sent = api.messages_to(77)
    methods = [m.method for m in sent]
    assert methods == ["sendMessage", "editMessageText", "editMessageText", "sendMessage"]
    assert sent[1].message_id == sent[2].message_id == sent[0].message_id
    assert sent[3].message_id != sent[0].message_id
    assert sent[1].plain_text == "đã gửi 60/100"


async def test_sender_over_python_telegram_bots_own_transport(api: FakeTelegramBotApi) -> None:
    """Replies go straight to the Bot API only over the bot's aiohttp transport; any other
    (python-telegram-bot's default httpx) gets the same messages through the library."""
    async with Bot(api.token, base_url=api.base_url) as bot:
        sender = TelegramSender(bot)
        first = Reply.text("đã gửi 10/100 & x")
        then = Reply.text("đã gửi 60/100", [[Button("Hủy", "unsub")]])
        await sender.send("77", Reply(first.sections, edit_key="job-1"))
        await sender.send("77", Reply(then.sections, then.buttons, edit_key="job-1"))

    sent = api.messages_to(77)
    assert [m.method for m in sent] == ["sendMessage", "editMessageText"]
    assert sent[0].text == "đã gửi 10/100 &amp; x"
    assert sent[1].message_id == sent[0].message_id
    assert sent[1].callback_data == ["unsub"]


async def test_photos_are_uploaded_as_multipart(
    api: FakeTelegramBotApi, sender: TelegramSender
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(2000)
    await sender.send("77", Reply(Reply.text("Biểu đồ").sections, image=Image(png, "c.png")))

    [sent] = api.messages_to(77)
    assert sent.method == "sendPhoto" and sent.photo_bytes == len(png)


async def test_a_standalone_sender_opens_and_closes_its_own_connections(
    api: FakeTelegramBotApi,
) -> None:
    async with open_telegram_sender(config_for(api)) as standalone:
        await standalone.send("88", Reply.text("from the command line"))

    assert [m.plain_text for m in api.messages_to(88)] == ["from the command line"]
    assert api.calls["getMe"] == 1


async def test_the_fake_enforces_its_flood_limit(
    api: FakeTelegramBotApi, sender: TelegramSender
) -> None:
    api.set_flood_limit(2, per_seconds=60)
    await sender.send("1", Reply.text("one"))
    await sender.send("2", Reply.text("two"))

    with pytest.raises(RateLimited) as raised:
        await sender.send("3", Reply.text("three"))

    assert raised.value.retry_after == 1.0
    assert api.max_rate(window=60) == 2


async def test_webhook_bodies_are_read_with_limits_and_made_storable(
    api: FakeTelegramBotApi,
    webhook_server: tuple[TelegramChannel, WebServer],
    dialogue: ScriptedDialogue,
) -> None:
    _, server = webhook_server
    good = {SECRET_TOKEN_HEADER: "s3cr3t-token", "Content-Type": "application/json"}
    # Escaped JSON, as a client may send it: a lone surrogate and a NUL in the text.
    update = (
        '{"update_id": 7, "message": {"message_id": 1, "date": 0,'
        ' "chat": {"id": 5, "type": "private"},'
        ' "from": {"id": 5, "is_bot": false, "first_name": "Mal\\u0000lory\\ud800"},'
        ' "text": "th\\u0000u t\\u1ee5c \\ud800"}}'
    )
    async with ClientSession() as session:
        deep = await session.post(
            f"{server.url}/tg/hook", data=b"[" * 50_000 + b"]" * 50_000, headers=good
        )
        assert deep.status == 400
        accepted = await session.post(f"{server.url}/tg/hook", data=update, headers=good)
        assert accepted.status == 200
    await api.wait_for_sent(1, chat_id=5)

    [incoming] = dialogue.received
    assert (incoming.text, incoming.display_name) == ("thu tục \ufffd", "Mallory\ufffd")
