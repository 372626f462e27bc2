"""The dialogue core through the composition root: real catalogue, matcher, SQLite stores,
demo dossier database. Every conversation here is what a citizen would type."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import staff_texts, texts
from bot.broadcast.subscriptions import SubscriberState
from bot.config import (
    CatalogueConfig,
    Config,
    DossierConfig,
    DossierSqlConfig,
    StorageConfig,
)
from bot.core import CoreServices, StartupError, open_core
from bot.dialogue.context import ChatContext, ContextStore
from bot.dialogue.core import Dialogue, DialogueServices
from bot.dossiers.demo import DemoDossier, DemoGenerator, write_demo
from bot.dossiers.model import DossierStatus
from bot.dossiers.working_days import WorkingCalendar
from bot.messages import EVENT_FOLLOW, EVENT_UNFOLLOW, Channel, ChatRef, Incoming, Reply
from bot.storage.context_tables import chat_contexts
from bot.storage.database import create_engine
from bot.storage.stats_tables import answer_feedback, questions, ratings

ROOT = Path(__file__).resolve().parent.parent
CHAT = ChatRef(Channel.WEB, "citizen-1")


def make_config(tmp_path: Path, **dossier_changes: Any) -> Config:
    dossiers = dataclasses.replace(
        DossierConfig(),
        sql=DossierSqlConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'dossiers.sqlite3'}"),
        **dossier_changes,
    )
    return dataclasses.replace(
        Config(),
        catalogue=CatalogueConfig(ROOT / "procedures", ROOT / "procedures" / "_vocabulary.toml"),
        storage=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"),
        dossiers=dossiers,
    )


@pytest.fixture
async def demo(tmp_path: Path) -> list[DemoDossier]:
    config = make_config(tmp_path)
    zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
    now = dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
    made = DemoGenerator(now, WorkingCalendar(())).generate(20)
    engine = create_engine(config.dossiers.sql.url)
    await write_demo(engine, made)
    await engine.dispose()
    return made


@pytest.fixture
async def core(tmp_path: Path, demo: list[DemoDossier]) -> AsyncIterator[CoreServices]:
    async with open_core(make_config(tmp_path)) as services:
        yield services


async def say(
    core: CoreServices, text: str = "", action: str | None = None, chat: ChatRef = CHAT
) -> Sequence[Reply]:
    return await core.dialogue.handle(Incoming(chat, chat.chat_id, text, action=action))


def text_of(replies: Sequence[Reply]) -> str:
    return "\n\n".join(reply.plain_text() for reply in replies)


def button(replies: Sequence[Reply], label: str) -> str:
    for reply in replies:
        for candidate in reply.all_buttons:
            if candidate.label == label:
                return candidate.action
    raise AssertionError(
        f"no button {label!r} in {[b.label for r in replies for b in r.all_buttons]}"
    )


def with_status(demo: list[DemoDossier], status: DossierStatus) -> dict[str, Any]:
    return next(d.row for d in demo if d.row["status"] == int(status))


async def test_first_contact_greets_with_center_details_and_menu(core: CoreServices) -> None:
    replies = await say(core, "xin chào")
    greeting = text_of(replies)
    center = core.config.center
    for detail in (center.name, center.address, center.hours, center.hotline):
        assert detail in greeting
    labels = [b.label for b in replies[0].all_buttons]
    assert labels == [texts.MENU_ASK, texts.MENU_DOSSIER, texts.MENU_NOTICES, texts.MENU_CONTACT]
    # Only once: the next message is answered without the greeting.
    assert texts.GREETING.splitlines()[0].format(center_name=center.name) not in text_of(
        await say(core, "lam giay khai sinh can gi")
    )


async def test_every_part_asked_at_once_is_answered_in_one_reply(core: CoreServices) -> None:
    await say(core, "/start")
    replies = await say(core, "làm giấy khai sinh cho con nộp ở đâu, bao nhiêu tiền")
    assert len(replies) == 1
    headings = [section.heading for section in replies[0].sections]
    assert "Đăng ký khai sinh" in headings[0]
    assert headings[1:] == [texts.HEADING_WHERE, texts.HEADING_FEE]
    # The buttons offer what was not shown yet.
    labels = [b.label for b in replies[0].all_buttons]
    assert texts.BUTTON_DOCUMENTS in labels
    assert texts.BUTTON_WHERE not in labels and texts.BUTTON_FEE not in labels
    # A two-part follow-up about the same procedure.
    followup = await say(core, "còn giấy tờ gì, mất bao lâu")
    headings = [s.heading for s in followup[0].sections]
    assert "Đăng ký khai sinh" in headings[0]
    assert headings.index(texts.HEADING_DOCUMENTS) < headings.index(texts.HEADING_TIME)


async def test_question_followups_and_not_this_one(core: CoreServices) -> None:
    await say(core, "/start")
    answer = await say(core, "lam giay khai sinh cho con can giay to gi")
    assert "Đăng ký khai sinh" in answer[0].sections[0].heading
    assert answer[0].sections[1].heading == texts.HEADING_DOCUMENTS
    assert "Giấy chứng sinh" in text_of(answer)

    fee = await say(core, "còn lệ phí thì sao?")
    assert fee[0].sections[0].heading == answer[0].sections[0].heading
    assert fee[0].sections[1].heading == texts.HEADING_FEE

    time = await say(core, "mat bao lau")
    assert time[0].sections[1].heading == texts.HEADING_TIME

    others = await say(core, "không phải")
    assert text_of(others).startswith(texts.CLARIFY_OTHERS)
    assert "Đăng ký khai sinh" not in [b.label for b in others[0].all_buttons]
    chosen = await say(core, action=others[0].all_buttons[0].action)
    assert chosen[0].sections[0].heading == others[0].all_buttons[0].label

    part = await say(core, action=button(chosen, texts.BUTTON_WHERE))
    assert part[0].sections[1].heading == texts.HEADING_WHERE


async def test_not_this_one_moves_on_to_siblings_and_never_repeats(core: CoreServices) -> None:
    await say(core, "/start")
    answer = await say(core, "đăng ký xe")
    assert answer[0].sections[0].heading == "Đăng ký, cấp biển số xe lần đầu"
    others = await say(core, "không phải")
    labels = [b.label for b in others[0].all_buttons]
    assert "Sang tên xe (đăng ký xe khi thay đổi chủ xe)" in labels
    # Other fields only when they fit nearly as well: no tax code, no land for "đăng ký xe".
    chosen = [core.catalogue.get(b.action.split(":")[1]) for b in others[0].all_buttons]
    assert {p.field for p in chosen if p is not None} == {"Đăng ký xe"}
    again = await say(core, "không phải")
    assert not set(labels) & {b.label for b in again[0].all_buttons}
    assert text_of(again) == texts.NO_OTHER_CANDIDATES.format(hotline=core.config.center.hotline)
    # Staff see what was turned down, with the question, to teach the bot.
    await core.recorder.flush()
    async with core.engine.connect() as connection:
        rejected = (
            await connection.execute(
                select(questions.c.text, questions.c.procedure_code).where(
                    questions.c.decision == "rejected"
                )
            )
        ).all()
    assert ("đăng ký xe", "1.013067") in [tuple(row) for row in rejected]
    assert len(rejected) == 1 + len(labels)


async def test_context_survives_a_restart(tmp_path: Path, demo: list[DemoDossier]) -> None:
    config = make_config(tmp_path)
    async with open_core(config) as first:
        await say(first, "/start")
        answer = await say(first, "dang ky ket hon can giay to gi")
    async with open_core(config) as second:
        fee = await say(second, "lệ phí bao nhiêu")
    assert fee[0].sections[0].heading == answer[0].sections[0].heading
    assert fee[0].sections[1].heading == texts.HEADING_FEE


async def test_unclear_question_offers_choices(core: CoreServices) -> None:
    await say(core, "/start")
    replies = await say(core, "cấp lại")
    assert 2 <= len(replies[0].all_buttons) <= 5
    assert text_of(replies).startswith(texts.CLARIFY)


async def test_unknown_and_off_topic_questions_are_declined_and_recorded(
    core: CoreServices,
) -> None:
    await say(core, "/start")
    weather = text_of(await say(core, "thời tiết hôm nay thế nào"))
    assert weather == texts.DECLINE_SMALL_TALK.format(center_name=core.config.center.name)
    unknown = text_of(await say(core, "xin cấp phép bay flycam trên biển đảo quốc phòng"))
    assert core.config.center.hotline in unknown
    await core.recorder.flush()  # records are written write-behind
    async with core.engine.connect() as connection:
        rows = (await connection.execute(select(questions.c.text, questions.c.decision))).all()
    assert ("thời tiết hôm nay thế nào", "decline") in [tuple(r) for r in rows]


async def test_feedback_buttons_are_recorded(core: CoreServices) -> None:
    await say(core, "/start")
    answer = await say(core, "đăng ký tạm trú cần giấy tờ gì")
    thanks = await say(core, action=button(answer, texts.BUTTON_HELPFUL))
    assert text_of(thanks) == texts.FEEDBACK_THANKS
    async with core.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(answer_feedback))
    assert count == 1


async def test_dossier_lookup_with_verification(
    core: CoreServices, demo: list[DemoDossier]
) -> None:
    await say(core, "/start")
    row = with_status(demo, DossierStatus.SUPPLEMENT_REQUESTED)
    code = row["code"]
    asked = text_of(await say(core, f"cho em tra hồ sơ {code.lower()} với ạ"))
    assert asked == texts.VERIFY_PHONE.format(code=code)
    wrong = text_of(await say(core, "0000"))
    assert texts.DOSSIER_NOT_FOUND.format(hotline=core.config.center.hotline) in wrong
    assert "còn 2 lần" in wrong
    found = await say(core, row["applicant_phone"][-4:])
    shown = text_of(found)
    assert texts.DOSSIER_HEADING.format(code=code) in shown
    assert texts.STATUS_PLAIN[5] in shown
    assert texts.DOSSIER_MISSING_HEADING in shown
    assert row["applicant_name"] not in shown  # masked
    history = await say(core, action=button(found, texts.BUTTON_HISTORY))
    assert texts.DOSSIER_HISTORY_HEADING.format(code=code) in text_of(history)
    # Verified once: the same chat looks it up again without digits.
    again = text_of(await say(core, code))
    assert texts.DOSSIER_HEADING.format(code=code) in again


async def test_same_answer_for_unknown_dossier_and_wrong_digits(
    core: CoreServices, demo: list[DemoDossier]
) -> None:
    first, second = ChatRef(Channel.WEB, "a"), ChatRef(Channel.WEB, "b")
    await say(core, "/start", chat=first)
    await say(core, "000.00.12.H58-200101-0042", chat=first)
    no_such = text_of(await say(core, "1234", chat=first))
    row = with_status(demo, DossierStatus.IN_PROGRESS)
    await say(core, "/start", chat=second)
    await say(core, row["code"], chat=second)
    digits = "9999" if row["applicant_phone"][-4:] != "9999" else "1111"
    wrong = text_of(await say(core, digits, chat=second))
    assert no_such == wrong


async def test_malformed_code_says_which_part_is_wrong(core: CoreServices) -> None:
    await say(core, "/start")
    reply = text_of(await say(core, "hồ sơ 000.00.12.H58-251340-0001"))
    assert "phần ngày tiếp nhận “251340” không phải là ngày có thật" in reply
    assert "AAA.BB.CC.HNN-YYMMDD-NNNN" in reply


async def test_dossier_system_down_apologises_and_questions_still_work(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    config = dataclasses.replace(
        config,
        dossiers=dataclasses.replace(
            config.dossiers,
            timeout_seconds=1.0,
            sql=DossierSqlConfig(url="postgresql+asyncpg://nobody@127.0.0.1:1/none"),
        ),
    )
    async with open_core(config) as core:
        await say(core, "/start")
        await say(core, "000.00.12.H58-251120-0001")
        down = text_of(await say(core, "1234"))
        assert down == texts.DOSSIER_UNAVAILABLE.format(hotline=config.center.hotline)
        answer = await say(core, "lam can cuoc can gi")
        assert answer[0].sections[1].heading == texts.HEADING_DOCUMENTS


async def test_bad_input_gets_a_clear_answer(core: CoreServices) -> None:
    await say(core, "/start")
    assert text_of(await say(core, "   ")) == texts.EMPTY_MESSAGE
    long = await say(core, "làm giấy khai sinh cần gì " + "a" * 10_000)
    assert text_of(long).startswith(texts.MESSAGE_TOO_LONG)
    assert text_of(await say(core, "/khongco")) == texts.UNKNOWN_COMMAND.format(command="/khongco")
    assert text_of(await say(core, action="p:9.999999:fee")) == texts.UNKNOWN_BUTTON
    assert text_of(await say(core, action="garbage")) == texts.UNKNOWN_BUTTON
    html = text_of(await say(core, "<script>alert(1)</script>' OR 1=1; --"))
    assert html  # answered (declined), never an error
    assert html != texts.ERROR_APOLOGY.format(hotline=core.config.center.hotline)


async def test_a_failure_in_one_conversation_is_an_apology(
    core: CoreServices, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenContexts(ContextStore):
        async def load(self, chat: ChatRef, now: dt.datetime) -> ChatContext:
            raise RuntimeError("boom")

    services = DialogueServices(
        center=core.config.center,
        catalogue=core.catalogue,
        matcher=core.matcher,
        contexts=BrokenContexts(core.engine),
    )
    replies = await Dialogue(services).handle(Incoming(CHAT, "user-1", "khai sinh"))
    assert text_of(replies) == texts.ERROR_APOLOGY.format(hotline=core.config.center.hotline)
    assert "conversation failed: chat=web:citizen-1" in caplog.text


async def test_bot_database_down_still_answers_questions(
    core: CoreServices, caplog: pytest.LogCaptureFixture
) -> None:
    dead = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    services = DialogueServices(
        center=core.config.center,
        catalogue=core.catalogue,
        matcher=core.matcher,
        contexts=ContextStore(dead),
    )
    dialogue = Dialogue(services)
    for _ in range(3):
        replies = await dialogue.handle(Incoming(CHAT, "user-1", "lam giay khai sinh can gi"))
        assert replies[0].sections[1].heading == texts.HEADING_DOCUMENTS
    assert caplog.text.count("is unavailable") == 1  # once per outage (bot.storage.outage)
    await dead.dispose()


async def test_missing_catalogue_stops_start_up_with_a_clear_error(tmp_path: Path) -> None:
    config = dataclasses.replace(
        make_config(tmp_path), catalogue=CatalogueConfig(tmp_path / "nowhere")
    )
    with pytest.raises(StartupError, match="catalogue folder not found"):
        async with open_core(config):
            pass


async def test_a_dossier_query_that_breaks_the_contract_stops_start_up(
    tmp_path: Path, demo: list[DemoDossier]
) -> None:
    no_status = "SELECT code, procedure_name FROM dossiers WHERE code = :code"
    config = make_config(tmp_path)
    config = dataclasses.replace(
        config,
        dossiers=dataclasses.replace(
            config.dossiers,
            sql=dataclasses.replace(config.dossiers.sql, lookup_query=no_status),
        ),
    )
    with pytest.raises(StartupError, match=r"\[dossiers\]: .*no column named status"):
        async with open_core(config):
            pass


async def test_a_dossier_source_that_is_down_does_not_stop_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No demo database: the dossier source is unavailable, the bot still answers.
    async with open_core(make_config(tmp_path)) as services:
        replies = await services.dialogue.handle(
            Incoming(CHAT, "user-1", "lam giay khai sinh can gi")
        )
        headings = [section.heading for reply in replies for section in reply.sections]
        assert texts.HEADING_DOCUMENTS in headings
    assert "starting without dossier lookups" in caplog.text


async def test_notices_on_web_chat_point_to_zalo_and_telegram(core: CoreServices) -> None:
    await say(core, "/start")
    assert text_of(await say(core, "/thongbao")) == texts.NOTICES_NOT_AVAILABLE


async def test_zalo_follow_and_unfollow_change_the_subscriber_state(core: CoreServices) -> None:
    zalo = ChatRef(Channel.ZALO, "zalo-user")
    offer = await say(core, "/thongbao", chat=zalo)
    assert text_of(await say(core, action=button(offer, texts.NOTICES_ALL), chat=zalo)) == (
        texts.NOTICES_ON_ALL
    )
    await core.dialogue.handle(Incoming(zalo, "zalo-user", action=EVENT_UNFOLLOW))
    subscription = await core.subscriptions.get(zalo)
    assert subscription is not None and subscription.state is SubscriberState.BLOCKED
    await core.dialogue.handle(Incoming(zalo, "zalo-user", action=EVENT_FOLLOW))
    subscription = await core.subscriptions.get(zalo)
    assert subscription is not None and subscription.state is SubscriberState.ACTIVE
    # Opting out is kept through a later follow.
    assert text_of(await say(core, "/huythongbao", chat=zalo)) == texts.NOTICES_OFF
    await core.dialogue.handle(Incoming(zalo, "zalo-user", action=EVENT_FOLLOW))
    subscription = await core.subscriptions.get(zalo)
    assert subscription is not None and subscription.state is SubscriberState.OPTED_OUT


async def test_staff_commands_are_refused_to_citizens(core: CoreServices) -> None:
    telegram = ChatRef(Channel.TELEGRAM, "12345")
    assert (
        text_of(await say(core, "/guithongbao Nghỉ lễ", chat=telegram)) == staff_texts.STAFF_ONLY
    )
    assert text_of(await say(core, "/thongke", chat=telegram)) == staff_texts.STAFF_ONLY
    assert text_of(await say(core, action="bc:send:abcd", chat=telegram)) == staff_texts.STAFF_ONLY


@pytest.mark.parametrize(
    "question",
    [
        "tra cứu hồ sơ",
        "tra cuu ho so",
        "kiểm tra hồ sơ giúp tôi",
        "hồ sơ của tôi tới đâu rồi",
        "hồ sơ sổ đỏ của tôi xong chưa vậy",
    ],
)
async def test_asking_about_ones_dossier_without_a_code_asks_for_it(
    core: CoreServices, question: str
) -> None:
    await say(core, "/start")
    assert text_of(await say(core, question)) == texts.DOSSIER_ASK_CODE


async def test_what_people_ask_of_the_center_itself(core: CoreServices) -> None:
    center = core.config.center
    await say(core, "/start")
    for question in ("địa chỉ trung tâm ở đâu", "thứ bảy có làm việc không", "số hotline"):
        reply = text_of(await say(core, question))
        assert center.address in reply and center.hours in reply, question
    assert text_of(await say(core, "cảm ơn nhiều nha")) == texts.THANKS_REPLY
    # Thanks with a question is a question.
    assert "căn cước" in text_of(await say(core, "cảm ơn, cho hỏi làm căn cước ở đâu")).lower()
    complaint = text_of(await say(core, "cán bộ làm chậm quá, tôi muốn khiếu nại"))
    assert complaint == texts.DECLINE_COMPLAINT.format(hotline=center.hotline)
    private = text_of(await say(core, "xem giúp hồ sơ của hàng xóm tôi"))
    assert private == texts.DECLINE_PRIVATE_DATA
    for question in ("gặp cán bộ", "cho tôi nói chuyện với người thật"):
        reply = text_of(await say(core, question))
        assert center.hotline in reply and center.hours in reply, question
    # A procedure question that says "hồ sơ" is still a procedure question.
    answer = await say(core, "hồ sơ đăng ký kết hôn gồm những gì")
    assert "Đăng ký kết hôn" in answer[0].sections[0].heading


async def test_a_new_chat_typing_something_vague_is_told_what_to_type(
    core: CoreServices,
) -> None:
    replies = {}
    for number, text in enumerate(
        ("làm giấy tờ", "mất bao lâu", "còn lệ phí?", "không phải", "hỏi chút")
    ):
        chat = ChatRef(Channel.WEB, f"new-{number}")
        await say(core, "/start", chat=chat)
        replies[text] = text_of(await say(core, text, chat=chat))
    assert texts.EMPTY_MESSAGE not in replies.values()
    assert replies["mất bao lâu"] == texts.FOLLOWUP_NEEDS_PROCEDURE
    assert replies["còn lệ phí?"] == texts.FOLLOWUP_NEEDS_PROCEDURE
    assert replies["không phải"] == texts.NOTHING_TO_REJECT
    assert replies["hỏi chút"] == texts.VAGUE_QUESTION


async def test_a_web_chat_that_only_said_hello_is_not_stored(
    tmp_path: Path, demo: list[DemoDossier]
) -> None:
    """Anyone can open web chats by the thousand: one that said nothing but hello (or a
    greeting of its own) leaves no row; the first real question does, greeted once."""
    config = make_config(tmp_path)

    async def stored(services: CoreServices) -> int:
        async with services.engine.connect() as connection:
            count = select(func.count()).select_from(chat_contexts)
            return int((await connection.execute(count)).scalar_one())

    async def page_says(services: CoreServices, chat: ChatRef, text: str) -> Sequence[Reply]:
        message = Incoming(chat, chat.chat_id, text, greeting_shown=True)
        return await services.dialogue.handle(message)

    greeting_line = texts.GREETING.splitlines()[0].format(center_name=config.center.name)
    async with open_core(config) as services:
        for number in range(20):
            chat = ChatRef(Channel.WEB, f"flood-{number:04d}-abcdefgh")
            assert greeting_line in text_of(await page_says(services, chat, "/start"))
            await page_says(services, chat, "xin chào")
        asker = ChatRef(Channel.WEB, "asker-0000-abcdefgh")
        await page_says(services, asker, "/start")
        answer = await page_says(services, asker, "dang ky ket hon can giay to gi")
    assert greeting_line not in text_of(answer)
    assert "kết hôn" in answer[0].sections[0].heading.lower()
    async with open_core(config) as services:
        assert await stored(services) == 1
        # The question is remembered: a follow-up after a restart still knows it.
        fee = await page_says(services, asker, "lệ phí bao nhiêu")
    assert fee[0].sections[1].heading == texts.HEADING_FEE


async def test_only_a_dossier_the_chat_looked_up_can_be_rated(
    core: CoreServices, demo: list[DemoDossier]
) -> None:
    """A rating button is only a string the page sends back: a forged one (any code, or a
    real code this chat never looked up) is not stored."""

    async def stored_ratings() -> list[tuple[str, str, int]]:
        async with core.engine.connect() as connection:
            rows = await connection.execute(
                select(ratings.c.chat_id, ratings.c.dossier_code, ratings.c.score)
            )
            return [(str(chat), str(code), int(score)) for chat, code, score in rows]

    row = with_status(demo, DossierStatus.RETURNED)
    code = row["code"]
    await say(core, "/start")
    for forged in ("rate:NOT-A-CODE:1", f"rate:{code}:1"):
        refused = text_of(await say(core, action=forged))
        assert refused == texts.RATING_NEEDS_LOOKUP
    await core.recorder.flush()
    assert await stored_ratings() == []

    await say(core, code)
    found = await say(core, row["applicant_phone"][-4:])
    assert texts.DOSSIER_HEADING.format(code=code) in text_of(found)
    thanks = text_of(await say(core, action=f"rate:{code.lower()}:4"))
    assert "★★★★" in thanks
    # Another chat, even with the real code, cannot rate it.
    other = ChatRef(Channel.WEB, "citizen-2")
    assert text_of(await say(core, action=f"rate:{code}:1", chat=other)) == (
        texts.RATING_NEEDS_LOOKUP
    )
    await core.recorder.flush()
    assert await stored_ratings() == [(CHAT.chat_id, code, 4)]


async def test_looked_up_dossiers_outlive_a_stale_context() -> None:
    context = ChatContext(procedure_code="1.001193", greeted=True)
    for number in range(12):
        context = context.with_dossier(f"CODE-{number}")
    context = context.with_dossier("CODE-5")
    assert context.dossier_codes[-1] == "CODE-5"
    assert len(context.dossier_codes) == 10 and "CODE-0" not in context.dossier_codes
    assert ChatContext.from_json(context.to_json()) == context


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://bot:s3cret-pw@db:notaport/bot",
        "postgresql+asyncpg//bot:s3cret-pw@db/bot",
        "bot:s3cret-pw@db/bot",
        "postgresql+nodriver://bot:s3cret-pw@db/bot",
    ],
)
async def test_a_malformed_storage_url_is_named_without_its_password(
    tmp_path: Path, url: str
) -> None:
    config = dataclasses.replace(make_config(tmp_path), storage=StorageConfig(url=url))
    with pytest.raises(StartupError, match=r"^\[storage\] url: ") as refused:
        async with open_core(config):
            pass
    message = str(refused.value)
    assert "s3cret-pw" not in message
    assert "bot:***@db" in message
