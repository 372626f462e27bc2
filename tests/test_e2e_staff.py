"""The whole bot on Telegram for notices: citizens subscribe and opt out, staff broadcast
with a preview and a self-updating progress message, non-staff are refused, statistics
come as text and a chart, and a dossier subscriber hears of a change and rates the
result. Everything goes through python-telegram-bot and the fake Bot API over HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from e2e_support import TelegramCitizen, base_config, demo_dossier
from fakes import FakeTelegramBotApi
from sqlalchemy import func, insert, select, update

from bot import staff_texts, texts
from bot.app import running_bot
from bot.config import Config, TelegramConfig
from bot.dossiers import bundled
from bot.dossiers.model import DossierStatus
from bot.messages import Channel, ChatRef, Incoming
from bot.storage.database import create_engine
from bot.storage.stats_tables import ratings

STAFF_ID = 9001
NOTICE = "Trung tâm nghỉ lễ Quốc khánh từ 31/8 đến hết 3/9; hồ sơ trực tuyến vẫn nhận."


def telegram_config(api: FakeTelegramBotApi) -> TelegramConfig:
    return TelegramConfig(
        token=api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        staff_ids=(STAFF_ID,),
    )


@pytest.fixture
def config(tmp_path: Path, project_root: Path) -> Config:
    config = base_config(tmp_path, project_root)
    return dataclasses.replace(
        config,
        dossiers=dataclasses.replace(config.dossiers, watch_interval_seconds=0.2),
    )


async def test_subscribe_broadcast_with_progress_and_opt_out(config: Config) -> None:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        async with running_bot(dataclasses.replace(config, telegram=telegram_config(api))) as bot:
            assert bot.telegram is not None
            await bot.telegram.wait_running()
            lan, minh, staff = (TelegramCitizen(api, n) for n in (501, 502, STAFF_ID))
            for citizen in (lan, minh):
                offer = await citizen.say("/thongbao", texts.NOTICES_MENU)
                await citizen.press(offer, texts.NOTICES_ALL, texts.NOTICES_ON_ALL)

            # Not staff: refused.
            refused = await lan.say(f"/guithongbao {NOTICE}", staff_texts.STAFF_ONLY)
            assert NOTICE not in refused.plain_text

            preview = await staff.say(
                f"/guithongbao {NOTICE}", staff_texts.BROADCAST_PREVIEW_HEADING
            )
            assert NOTICE in preview.plain_text
            assert "Sẽ gửi tới 2 người" in preview.plain_text
            assert not api.messages_to(501)[-1].plain_text.startswith("📢")  # nothing sent yet

            progress = await staff.press(preview, staff_texts.BUTTON_CONFIRM_SEND, "Thông báo #")
            heading = texts.NOTICE_HEADING.format(center_name=config.center.name)

            def notice_reached(chat: int) -> bool:
                return any(
                    m.plain_text.startswith(heading) and NOTICE in m.plain_text
                    for m in api.messages_to(chat)
                )

            await api.wait_until(lambda: notice_reached(501) and notice_reached(502))
            # The progress message edits itself until the job is done.
            done = staff_texts.BROADCAST_DONE.split(":")[0].format(job=1)
            await api.wait_until(
                lambda: any(
                    m.method == "editMessageText"
                    and m.message_id == progress.message_id
                    and m.plain_text.startswith(done)
                    for m in api.messages_to(STAFF_ID)
                )
            )

            # Opting out wins: the next notice does not reach Minh.
            await minh.say("/huythongbao", texts.NOTICES_OFF)
            second = await staff.say(
                "/guithongbao Giờ làm việc mới từ 1/12", staff_texts.BROADCAST_PREVIEW_HEADING
            )
            assert "Sẽ gửi tới 1 người" in second.plain_text
            await staff.press(second, staff_texts.BUTTON_CONFIRM_SEND, "Thông báo #")
            await api.wait_until(
                lambda: any("Giờ làm việc mới" in m.plain_text for m in api.messages_to(501))
            )
            assert not any("Giờ làm việc mới" in m.plain_text for m in api.messages_to(502))

            # Pressing "send" on an old preview again never sends twice.
            await staff.press(
                preview, staff_texts.BUTTON_CONFIRM_SEND, staff_texts.BROADCAST_DRAFT_EXPIRED
            )

            stats = await staff.say("/thongke 7", "Thống kê 7 ngày")
            assert stats.method == "sendPhoto" or any(
                m.method == "sendPhoto" for m in api.messages_to(STAFF_ID)
            )
            await lan.say("/thongke", staff_texts.STAFF_ONLY)


async def test_dossier_subscriber_is_told_of_changes_and_rates_the_result(
    config: Config,
) -> None:
    dossier = await demo_dossier(config, DossierStatus.COMPLETED)
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        async with running_bot(dataclasses.replace(config, telegram=telegram_config(api))) as bot:
            assert bot.telegram is not None
            await bot.telegram.wait_running()
            citizen = TelegramCitizen(api, 777)
            await citizen.say("/start", texts.MENU_ASK)
            await citizen.say(dossier.code, texts.VERIFY_PHONE.format(code=dossier.code))
            found = await citizen.say(
                dossier.phone_last4, texts.DOSSIER_HEADING.format(code=dossier.code)
            )
            await citizen.press(
                found, texts.BUTTON_WATCH, texts.WATCH_ON.format(code=dossier.code)
            )

            # The one-stop system hands the result over: a new history row.
            engine = create_engine(config.dossiers.sql.url)
            # The bundled schema stores the center's local time (UTC+7), without a zone.
            zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
            now = dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
            async with engine.begin() as connection:
                await connection.execute(
                    update(bundled.dossiers)
                    .where(bundled.dossiers.c.code == dossier.code)
                    .values(status=10, returned_at=now)
                )
                await connection.execute(
                    insert(bundled.dossier_history).values(
                        dossier_code=dossier.code, at=now, status=10, step="Trả kết quả"
                    )
                )
            await engine.dispose()

            notice = await citizen._answer(
                0, texts.DOSSIER_UPDATE_HEADING.format(code=dossier.code)
            )
            assert texts.STATUS_PLAIN[10] in notice.plain_text
            assert texts.RATING_QUESTION.format(code=dossier.code) in notice.plain_text
            thanks = await citizen.press(notice, "5", texts.RATING_THANKS.split("!")[0][:20])
            assert "★★★★★" in thanks.plain_text
            await citizen.say("Cán bộ hướng dẫn rất tận tình", texts.RATING_COMMENT_THANKS)

        engine = create_engine(config.storage.url)
        async with engine.connect() as connection:
            row = (await connection.execute(select(ratings))).one()
            count = await connection.scalar(select(func.count()).select_from(ratings))
        await engine.dispose()
        assert count == 1
        assert (row.dossier_code, row.score) == (dossier.code, 5)
        assert row.comment == "Cán bộ hướng dẫn rất tận tình"


async def test_in_a_staff_group_only_staff_can_drop_a_draft(config: Config) -> None:
    """Everyone in the staff group sees the preview's buttons; a member who is not staff
    pressing "Hủy" neither drops the draft nor stops staff from sending it."""
    group, member = -100_777, 4242
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        async with running_bot(dataclasses.replace(config, telegram=telegram_config(api))) as bot:
            assert bot.telegram is not None
            await bot.telegram.wait_running()
            lan = TelegramCitizen(api, 501)
            offer = await lan.say("/thongbao", texts.NOTICES_MENU)
            await lan.press(offer, texts.NOTICES_ALL, texts.NOTICES_ON_ALL)
            in_group = TelegramCitizen(api, group)

            seen = len(api.messages_to(group))
            api.add_message(group, f"/guithongbao {NOTICE}", user_id=STAFF_ID, chat_type="group")
            preview = await in_group._answer(seen, staff_texts.BROADCAST_PREVIEW_HEADING)
            buttons = {b["text"]: b["callback_data"] for row in preview.buttons for b in row}

            seen = len(api.messages_to(group))
            api.add_callback_query(
                group, buttons[staff_texts.BUTTON_CANCEL], message=preview, user_id=member
            )
            await in_group._answer(seen, staff_texts.STAFF_ONLY)

            seen = len(api.messages_to(group))
            api.add_callback_query(
                group, buttons[staff_texts.BUTTON_CONFIRM_SEND], message=preview, user_id=STAFF_ID
            )
            await in_group._answer(seen, "Thông báo #")
            await lan._answer(0, NOTICE[:30])


async def test_staff_teach_a_missed_question_with_buttons(config: Config) -> None:
    missed = "cho hỏi giấy tím xin ở đâu"
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        async with running_bot(dataclasses.replace(config, telegram=telegram_config(api))) as bot:
            assert bot.telegram is not None
            await bot.telegram.wait_running()
            lan, minh, staff = (TelegramCitizen(api, n) for n in (501, 502, STAFF_ID))
            await lan.say("/start", "Xin chào")
            await lan.say(missed, "chưa tìm được thủ tục")
            await bot.core.recorder.flush()

            # Not staff: refused, on Telegram and with a forged button on the web chat.
            await minh.say("/day", staff_texts.STAFF_ONLY)
            forged = await bot.core.dialogue.handle(
                Incoming(ChatRef(Channel.WEB, "w"), "w", "", action="tq:1:-")
            )
            assert staff_texts.STAFF_ONLY in forged[0].plain_text()
            assert await bot.core.lessons.stored() == []

            # Staff: one message per missed question, the bot's guesses as buttons.
            question = await staff.say("/day", missed)
            labels = [b["text"] for row in question.buttons for b in row]
            assert staff_texts.BUTTON_NOT_OURS in labels and len(labels) >= 2
            # A guess pressed by mistake is corrected by typing the right code.
            await staff.press(question, labels[0], "Đã ghi")
            row = question.plain_text.split()[0]  # "#12"
            await staff.say(f"/day {row} 9.999999", "Không có thủ tục mã 9.999999")
            await staff.say(f"/day {row} 3.000333", "Đã ghi")
            [stored] = await bot.core.lessons.stored()
            assert stored.lesson.target == "3.000333"
            assert stored.lesson.taught_by == f"telegram:{STAFF_ID}"

            # The citizen asks again, typed otherwise: answered now.
            await lan.say("cho hoi giay tim xin o dau", "Lý lịch tư pháp")
            # And staff are not asked about it again.
            await staff.say("/day", "Không có câu hỏi nào cần dạy")
