"""The Zalo OA channel against the fake Zalo API over real HTTP, with the bot's web server.

Covers webhook signatures (valid, missing, wrong, stale), follow/unfollow, numbered
choices kept in the database (also across a restart), splitting under 2,000 characters,
duplicate deliveries, draining on stop, the access-token renewal (on expiry, ahead of
expiry, single use under concurrency on SQLite and PostgreSQL, refusal) and the
Sender's error mapping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from fakes import FakeZaloApi, ScriptedDialogue, ZaloFault
from fakes.dialogue import long_lines
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.channels.server import WebServer, create_web_app
from bot.channels.web import WebChat
from bot.channels.zalo import (
    TEXT_LIMIT,
    RetryPolicy,
    ZaloApi,
    ZaloChannel,
    ZaloChoiceStore,
    ZaloSeenEvents,
    ZaloSender,
    ZaloTokenStore,
    render_turn,
)
from bot.config import WebConfig, ZaloConfig
from bot.messages import (
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
    Button,
    Channel,
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientSendError,
)
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema
from bot.storage.zalo_tables import zalo_seen_events, zalo_tokens

FAST_RETRY = RetryPolicy(first_delay=0.05, max_delay=0.2)


def config_for(zalo: FakeZaloApi, **overrides: object) -> ZaloConfig:
    values: dict[str, object] = {
        "app_id": zalo.app_id,
        "oa_secret_key": zalo.oa_secret_key,
        "app_secret_key": zalo.app_secret_key,
        "access_token": zalo.initial_access_token,
        "refresh_token": zalo.initial_refresh_token,
        "api_base": zalo.base_url,
        "oauth_base": zalo.base_url,
        "webhook_path": "/zalo/hook",
    }
    values.update(overrides)
    return ZaloConfig(**values)  # type: ignore[arg-type]


async def open_engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await ensure_schema(engine)
    return engine


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZaloApi]:
    async with FakeZaloApi() as fake:
        yield fake


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    return ScriptedDialogue(delay_for=["slow"], delay=0.3)


class RunningBot:
    """A Zalo channel behind the bot's web server, as `bot run` wires it."""

    def __init__(self, channel: ZaloChannel, server: WebServer) -> None:
        self.channel = channel
        self.server = server

    @property
    def webhook_url(self) -> str:
        return self.server.url + self.channel.config.webhook_path

    async def stop(self) -> None:
        await self.server.stop()
        await self.channel.stop()


async def start_bot(
    zalo: FakeZaloApi, engine: AsyncEngine, dialogue: ScriptedDialogue, **config: object
) -> RunningBot:
    channel = ZaloChannel(config_for(zalo, **config), dialogue, engine, retry=FAST_RETRY)
    await channel.start()
    app = create_web_app(
        web_chat=WebChat(dialogue, WebConfig()),
        health=lambda: {"zalo": channel.health()},
        zalo=channel,
    )
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    return RunningBot(channel, server)


@pytest.fixture
async def bot(
    zalo: FakeZaloApi, engine: AsyncEngine, dialogue: ScriptedDialogue
) -> AsyncIterator[RunningBot]:
    running = await start_bot(zalo, engine, dialogue)
    yield running
    await running.stop()


# --- webhook ------------------------------------------------------------------------------


async def test_signed_text_is_answered_with_numbered_choices(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue
) -> None:
    status = await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "giấy <khai sinh> & gì"))

    [sent] = await zalo.wait_for_sent(1, user_id="u1")
    assert status == 200
    assert sent.text == "\n".join(
        [
            "Bạn hỏi",
            "giấy <khai sinh> & gì",
            "",
            "1. Lệ phí",
            "2. Không phải",
            texts.ZALO_CHOICE_HINT,
        ]
    )
    [incoming] = dialogue.received
    assert incoming.chat.channel is Channel.ZALO
    assert incoming.chat.chat_id == "u1"
    assert incoming.user_id == "u1"
    assert incoming.action is None


async def test_a_number_presses_the_button_offered_last(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue
) -> None:
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "hỏi"))
    await zalo.wait_for_sent(1, user_id="u1")

    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", " 2 "))
    sent = await zalo.wait_for_sent(2, user_id="u1")

    pressed = dialogue.received[-1]
    assert (pressed.action, pressed.text) == ("not-this", "Không phải")
    assert sent[-1].text == "Bạn chọn: Không phải [not-this]"
    # That answer had no buttons: "2" is now just text.
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "2"))
    await zalo.wait_for_sent(3, user_id="u1")
    assert dialogue.received[-1].action is None


async def test_choices_survive_a_restart(
    zalo: FakeZaloApi, engine: AsyncEngine, dialogue: ScriptedDialogue
) -> None:
    first = await start_bot(zalo, engine, dialogue)
    await zalo.deliver(first.webhook_url, zalo.user_text("u9", "two replies"))
    first_reply, second_reply = await zalo.wait_for_sent(2, user_id="u9")
    await first.stop()
    assert first_reply.text.endswith("1. A\n2. B")
    assert second_reply.text.endswith(f"3. C\n{texts.ZALO_CHOICE_HINT}")

    second = await start_bot(zalo, engine, dialogue)
    try:
        await zalo.deliver(second.webhook_url, zalo.user_text("u9", "3"))
        await zalo.wait_for_sent(2, user_id="u9")
    finally:
        await second.stop()
    assert dialogue.received[-1].action == "pick:c"


@pytest.mark.parametrize(
    ("signed", "signature", "reason"),
    [
        (False, None, "missing signature"),
        (True, "mac=" + "0" * 64, "bad signature"),
        (True, "not-even-hex", "bad signature"),
    ],
)
async def test_unsigned_or_forged_events_are_refused(
    zalo: FakeZaloApi,
    bot: RunningBot,
    dialogue: ScriptedDialogue,
    signed: bool,
    signature: str | None,
    reason: str,
) -> None:
    event = zalo.user_text("u1", "forged")
    status = await zalo.deliver(bot.webhook_url, event, signed=signed, signature=signature)

    assert status == 401
    assert dialogue.received == []
    assert zalo.sent == []


async def test_a_body_changed_after_signing_is_refused(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue
) -> None:
    body, headers = zalo.signed_request(zalo.user_text("u1", "chuyển khoản 100.000đ"))
    tampered = body.replace(b"100.000", b"900.000")
    async with aiohttp.ClientSession() as session:
        response = await session.post(bot.webhook_url, data=tampered, headers=headers)
        assert response.status == 401
        response = await session.post(bot.webhook_url, data=b"{not json", headers=headers)
        assert response.status == 400
    assert dialogue.received == []


@pytest.mark.parametrize("age_seconds", [301, -301, 3600])
async def test_stale_events_are_refused(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue, age_seconds: int
) -> None:
    timestamp = int((time.time() - age_seconds) * 1000)
    status = await zalo.deliver(
        bot.webhook_url, zalo.user_text("u1", "replay", timestamp_ms=timestamp)
    )

    assert status == 401
    assert dialogue.received == []


async def test_follow_greets_and_unfollow_is_silent(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue
) -> None:
    await zalo.deliver(bot.webhook_url, zalo.follow("u5"))
    [greeting] = await zalo.wait_for_sent(1, user_id="u5")
    await zalo.deliver(bot.webhook_url, zalo.unfollow("u5"))
    await zalo.deliver(bot.webhook_url, zalo.user_text("u6", "after"))
    await zalo.wait_for_sent(1, user_id="u6")

    followed, unfollowed = dialogue.received[:2]
    assert (followed.action, followed.is_first_contact) == (EVENT_FOLLOW, True)
    assert (unfollowed.action, unfollowed.is_first_contact) == (EVENT_UNFOLLOW, False)
    assert greeting.text == f"event {EVENT_FOLLOW}"
    assert len(zalo.messages_to("u5")) == 1


async def test_other_events_are_acknowledged_and_ignored(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue
) -> None:
    event = zalo.user_text("u1", "")
    event["event_name"] = "user_send_sticker"
    assert await zalo.deliver(bot.webhook_url, event) == 200
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "text"))
    await zalo.wait_for_sent(1, user_id="u1")

    assert [m.text for m in dialogue.received] == ["text"]


async def test_a_redelivered_event_is_answered_once(
    zalo: FakeZaloApi, bot: RunningBot, dialogue: ScriptedDialogue
) -> None:
    event = zalo.user_text("u1", "once", msg_id="m-42")
    assert await zalo.deliver(bot.webhook_url, event) == 200
    assert await zalo.deliver(bot.webhook_url, event) == 200
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "next"))
    await zalo.wait_for_sent(2, user_id="u1")

    assert [m.text for m in dialogue.received] == ["once", "next"]


async def test_a_replay_is_answered_once_after_a_restart_and_by_another_process(
    zalo: FakeZaloApi, engine: AsyncEngine, dialogue: ScriptedDialogue
) -> None:
    """Redeliveries are remembered in the database, not only in one process's memory."""
    event = zalo.user_text("u7", "once", msg_id="m-replayed")
    first = await start_bot(zalo, engine, dialogue)
    try:
        assert await zalo.deliver(first.webhook_url, event) == 200
        await zalo.wait_for_sent(1, user_id="u7")
    finally:
        await first.stop()
    second = await start_bot(zalo, engine, dialogue)
    third = await start_bot(zalo, engine, dialogue)
    try:
        for running in (second, third):
            assert await zalo.deliver(running.webhook_url, event) == 200
        await zalo.deliver(third.webhook_url, zalo.user_text("u7", "next", msg_id="m-next"))
        await zalo.wait_for_sent(2, user_id="u7")
    finally:
        await second.stop()
        await third.stop()
    assert [m.text for m in dialogue.received] == ["once", "next"]
    async with connect(engine) as connection:
        keys = set((await connection.execute(select(zalo_seen_events.c.event_key))).scalars())
    assert keys == {"msg:m-replayed", "msg:m-next"}


async def test_seen_events_are_pruned_once_older_than_kept(engine: AsyncEngine) -> None:
    now = [1_000_000.0]
    seen = ZaloSeenEvents(engine, keep_seconds=600, clock=lambda: now[0])
    assert await seen.first_time("msg:old")
    assert not await seen.first_time("msg:old")
    now[0] += 601
    # A new store (another process): the database, not memory, says it was seen ...
    other = ZaloSeenEvents(engine, keep_seconds=600, clock=lambda: now[0])
    assert not await other.first_time("msg:old")
    assert await other.first_time("msg:" + "x" * 300)  # a long key is hashed to fit
    async with connect(engine) as connection:
        keys = list((await connection.execute(select(zalo_seen_events.c.event_key))).scalars())
    # ... and the old row went when the new one was written.
    assert "msg:old" not in keys and len(keys) == 1 and len(keys[0]) == 64


async def test_long_answers_are_split_under_the_limit(zalo: FakeZaloApi, bot: RunningBot) -> None:
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "long"))
    await zalo.wait_until(
        lambda: any(texts.ZALO_CHOICE_HINT in m.text for m in zalo.messages_to("u1"))
    )

    sent = zalo.messages_to("u1")
    assert len(sent) >= 9
    assert all(len(message.text) <= TEXT_LIMIT for message in sent)
    lines = [line for message in sent for line in message.text.split("\n")]
    assert lines == ["Danh sách dài", *long_lines(), "", "1. Tiếp", texts.ZALO_CHOICE_HINT]


async def test_messages_of_one_citizen_are_answered_in_order(
    zalo: FakeZaloApi, bot: RunningBot
) -> None:
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "slow"))
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "fast"))

    sent = await zalo.wait_for_sent(2, user_id="u1")
    assert [m.text.split("\n")[1] for m in sent] == ["slow", "fast"]


async def test_replies_are_retried_when_zalo_fails_briefly(
    zalo: FakeZaloApi, bot: RunningBot
) -> None:
    zalo.script_faults("u1", ZaloFault.server_error(502), ZaloFault(-100, "Unknown error"))
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "hello"))

    [sent] = await zalo.wait_for_sent(1, user_id="u1")
    assert sent.text.startswith("Bạn hỏi\nhello")
    assert bot.channel.health().state == "ok"


async def test_stop_answers_the_events_already_acknowledged(
    zalo: FakeZaloApi, engine: AsyncEngine, dialogue: ScriptedDialogue
) -> None:
    running = await start_bot(zalo, engine, dialogue)
    assert await zalo.deliver(running.webhook_url, zalo.user_text("u1", "slow")) == 200
    assert running.channel.events_in_flight == 1

    await running.stop()

    assert [m.text.split("\n")[1] for m in zalo.messages_to("u1")] == ["slow"]
    assert running.channel.health().state == "down"


# --- tokens -------------------------------------------------------------------------------


async def stored_tokens(engine: AsyncEngine) -> tuple[str, str, int]:
    async with connect(engine) as connection:
        row = (await connection.execute(select(zalo_tokens))).one()
    return row.access_token, row.refresh_token, row.generation


async def test_an_expired_access_token_is_renewed_and_stored(
    zalo: FakeZaloApi, bot: RunningBot, engine: AsyncEngine
) -> None:
    zalo.expire_access_tokens()
    await zalo.deliver(bot.webhook_url, zalo.user_text("u1", "hello"))

    [sent] = await zalo.wait_for_sent(1, user_id="u1")
    assert sent.access_token == "access-1"
    assert zalo.accepted_refreshes == 1
    assert await stored_tokens(engine) == ("access-1", "refresh-1", 1)
    assert zalo.valid_refresh_tokens == {"refresh-1"}


async def make_sender(
    zalo: FakeZaloApi,
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    *,
    clock: object = time.time,
    request_timeout: float = 10.0,
    **config: object,
) -> ZaloSender:
    settings = config_for(zalo, **config)
    api = ZaloApi(settings, session, timeout=request_timeout)
    tokens = ZaloTokenStore(engine, settings, api, clock=clock)  # type: ignore[arg-type]
    return ZaloSender(api, tokens, ZaloChoiceStore(engine))


async def test_the_access_token_is_renewed_before_it_expires(
    zalo: FakeZaloApi, engine: AsyncEngine
) -> None:
    zalo.token_lifetime = 3600.0
    now = [time.time()]
    zalo.expire_access_tokens()
    async with aiohttp.ClientSession() as session:
        sender = await make_sender(zalo, engine, session, clock=lambda: now[0])
        await sender.send("u1", Reply.text("one"))  # renews: the configured token expired
        now[0] += 3600 - 10 * 60  # ten minutes before expiry: within the renewal margin
        await sender.send("u1", Reply.text("two"))

    assert zalo.accepted_refreshes == 2
    assert [m.access_token for m in zalo.sent] == ["access-1", "access-2"]
    # The second renewal happened ahead of time: Zalo never refused "access-1".
    assert [code for _, code in zalo.rejected] == [-124]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_a_refresh_token_is_used_once_by_concurrent_processes(
    zalo: FakeZaloApi, database_url: str
) -> None:
    url = database_url
    zalo.refresh_delay = 0.2  # every sender finds the token expired while one renews it
    zalo.expire_access_tokens()
    # Two "processes": separate engines (connection pools) and token stores on one database.
    engines = [await open_engine(url), await open_engine(url)]
    try:
        async with aiohttp.ClientSession() as session:
            senders = [await make_sender(zalo, e, session) for e in engines]
            await asyncio.gather(
                *(
                    senders[index % 2].send(f"u{index}", Reply.text(f"notice {index}"))
                    for index in range(20)
                )
            )
    finally:
        for engine in engines:
            await engine.dispose()

    assert len(zalo.sent) == 20
    assert zalo.accepted_refreshes == 1
    assert zalo.refresh_reuses == 0
    assert len(zalo.refresh_calls) == 1


async def test_a_refused_refresh_token_is_reported(
    zalo: FakeZaloApi, engine: AsyncEngine, dialogue: ScriptedDialogue
) -> None:
    zalo.expire_access_tokens()
    running = await start_bot(zalo, engine, dialogue, refresh_token="already-used")
    try:
        await zalo.deliver(running.webhook_url, zalo.user_text("u1", "hello"))
        await zalo.wait_until(lambda: len(zalo.refresh_calls) == 1)
        await running.channel.drain()
        health = running.channel.health()
    finally:
        await running.stop()

    assert health.state == "down"
    assert "renew" in health.detail
    assert zalo.sent == []
    # The refused token is not tried again on the retries.
    assert len(zalo.refresh_calls) == 1


async def test_a_new_pair_in_the_config_replaces_the_stored_one(
    zalo: FakeZaloApi, engine: AsyncEngine
) -> None:
    async with aiohttp.ClientSession() as session:
        sender = await make_sender(zalo, engine, session)
        zalo.expire_access_tokens()
        await sender.send("u1", Reply.text("one"))
        assert await stored_tokens(engine) == ("access-1", "refresh-1", 1)
        # Staff authorised the OA again and put the new pair into the config.
        access, refresh = zalo.authorise_again()
        restarted = await make_sender(
            zalo, engine, session, access_token=access, refresh_token=refresh
        )
        await restarted.send("u1", Reply.text("two"))

    assert await stored_tokens(engine) == (access, refresh, 2)
    assert [m.access_token for m in zalo.sent] == ["access-1", access]


# --- the Sender ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (ZaloFault.not_following(), RecipientBlocked),
        (ZaloFault.blocked(), RecipientBlocked),
        (ZaloFault.rate_limited(), RateLimited),
        (ZaloFault(-201, "Parameters are invalid"), PermanentSendError),
        (ZaloFault(-230, "User has not interacted in 7 days"), PermanentSendError),
        (ZaloFault.server_error(500), TransientSendError),
        (ZaloFault.server_error(503), TransientSendError),
        (ZaloFault.slow(1.0), TransientSendError),
    ],
)
async def test_sender_maps_zalo_failures(
    zalo: FakeZaloApi, engine: AsyncEngine, fault: ZaloFault, error: type[Exception]
) -> None:
    zalo.script_faults("u1", fault)
    async with aiohttp.ClientSession() as session:
        sender = await make_sender(zalo, engine, session, request_timeout=0.3)
        with pytest.raises(error):
            await sender.send("u1", Reply.text("hello"))
        assert sender.channel is Channel.ZALO


async def test_sender_reports_an_unreachable_zalo_as_transient(engine: AsyncEngine) -> None:
    config = ZaloConfig(
        app_id="1", oa_secret_key="k", access_token="a", refresh_token="r",
        api_base="http://127.0.0.1:9", oauth_base="http://127.0.0.1:9",
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        api = ZaloApi(config, session, timeout=1.0)
        sender = ZaloSender(api, ZaloTokenStore(engine, config, api), ZaloChoiceStore(engine))
        with pytest.raises(TransientSendError):
            await sender.send("u1", Reply.text("hello"))


async def test_a_notice_with_buttons_can_be_answered_by_number(
    zalo: FakeZaloApi, engine: AsyncEngine
) -> None:
    async with aiohttp.ClientSession() as session:
        sender = await make_sender(zalo, engine, session)
        notice = Reply.text("Nghỉ lễ 2/9", [[Button("Hủy nhận tin", "unsubscribe")]])
        await sender.send("u1", notice)

    [sent] = zalo.sent
    assert sent.text == f"Nghỉ lễ 2/9\n\n1. Hủy nhận tin\n{texts.ZALO_CHOICE_HINT}"
    [choice] = await ZaloChoiceStore(engine).recall("u1")
    assert (choice.number, choice.action) == (1, "unsubscribe")


def test_buttons_are_numbered_across_the_replies_of_a_turn() -> None:
    replies = [
        Reply.text("Thứ nhất", [[Button("A", "a"), Button("Web", url="https://x.vn")]]),
        Reply.text("Thứ hai", [[Button("B", "b")]]),
    ]

    messages, choices = render_turn(replies)

    assert messages == [
        "Thứ nhất\n\n1. A\nWeb: https://x.vn",
        f"Thứ hai\n\n2. B\n{texts.ZALO_CHOICE_HINT}",
    ]
    assert [(c.number, c.label, c.action) for c in choices] == [(1, "A", "a"), (2, "B", "b")]


async def test_the_fake_enforces_its_flood_limit(zalo: FakeZaloApi, engine: AsyncEngine) -> None:
    zalo.set_flood_limit(2, per_seconds=60)
    async with aiohttp.ClientSession() as session:
        sender = await make_sender(zalo, engine, session)
        await sender.send("u1", Reply.text("one"))
        await sender.send("u2", Reply.text("two"))
        with pytest.raises(RateLimited):
            await sender.send("u3", Reply.text("three"))

    assert [m.user_id for m in zalo.sent] == ["u1", "u2"]
    assert zalo.max_rate(window=60) == 2
