"""Receipt codes and verification digits as citizens actually send them: codes spaced or
dotted everywhere, phone digits said in words, a bare "5633" before the code; and none of
those digits kept readable in the staff statistics. End to end through Telegram (the
fake Bot API) with the whole bot."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import (
    DemoDossier,
    TelegramCitizen,
    base_config,
    bot_on_telegram,
    demo_dossier,
)
from fakes import FakeTelegramBotApi

from bot import texts
from bot.config import Config
from bot.dialogue.dossier_flow import bare_number, spoken_verification_digits
from bot.stats.report import collect_statistics, format_statistics

WORDS = {"0": "không", "1": "một", "2": "hai", "3": "ba", "4": "bốn"}
WORDS |= {"5": "năm", "6": "sáu", "7": "bảy", "8": "tám", "9": "chín"}


def said(digits: str) -> str:
    return " ".join(WORDS[digit] for digit in digits)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("số cuối là không ba năm tám", "0358"),
        ("không ba năm tám", "0358"),
        ("khong ba nam tam a", "0358"),
        ("4 số cuối: chín hai lăm bảy", "9257"),
        ("sđt 0903 125 tư một sáu chín", "4169"),
        ("0903 125 633", "5633"),
        ("số cuối 56-33 ạ", "5633"),
        # Digit words elsewhere in a sentence are not digits ("ba": father, "năm": year).
        ("ba tôi nộp hồ sơ năm 2025", "2025"),
        ("không nhớ ạ", None),
        ("không ba năm", None),
    ],
)
def test_verification_digits_typed_or_said(text: str, digits: str | None) -> None:
    assert spoken_verification_digits(text) == digits


def test_a_bare_number_is_only_a_number() -> None:
    assert bare_number("5633") == "5633"
    assert bare_number("không ba năm tám") == "0358"
    assert bare_number("0903.125.633") == "0903125633"
    assert bare_number("số 5633") is None
    assert bare_number("") is None


@pytest.fixture
async def config(tmp_path: Path, project_root: Path) -> Config:
    return base_config(tmp_path, project_root)


async def test_codes_and_digits_as_people_send_them_through_telegram(
    config: Config,
) -> None:
    dossier: DemoDossier = await demo_dossier(config)
    agency, date, counter = dossier.code.split("-")
    spaced = f"{agency.replace('.', ' ')} {date} {counter}"  # "000 00 12 H58 261201 0001"
    dotted = f"{agency}.{date}.{counter}"
    squeezed = f"{agency[:3]}{agency[4:6]} {agency[7:9]} {agency[10:]}-{date}-{counter}"
    asked = texts.VERIFY_PHONE.format(code=dossier.code)
    shown = texts.DOSSIER_HEADING.format(code=dossier.code)
    async with FakeTelegramBotApi() as api, bot_on_telegram(config, api) as running:
        citizen = TelegramCitizen(api, 5151)
        await citizen.say("/start", texts.MENU_DOSSIER)
        # The digits first: asked for the code, and not searched as a question.
        before = await citizen.say(dossier.phone_last4, texts.VERIFY_NEEDS_CODE[:40])
        assert before.plain_text == texts.VERIFY_NEEDS_CODE
        await citizen.say(f"hồ sơ của tôi {spaced} ạ", asked)
        found = await citizen.say(f"số cuối là {said(dossier.phone_last4)}", shown)
        assert dossier.procedure in found.plain_text

        for code_as_typed in (dotted, squeezed):
            again = TelegramCitizen(api, 5152 if code_as_typed == dotted else 5153)
            await again.say(code_as_typed, asked)
            # Something else than the digits while they are awaited: a new question,
            # counted in the statistics but its words not kept.
            await again.say("tôi không nhớ số điện thoại của chồng tôi", "")

        await running.core.recorder.flush()
        stats = await collect_statistics(running.core.engine, 1)
    report = format_statistics(stats)
    assert stats.questions == 2
    assert dossier.phone_last4 not in report
    assert "không nhớ" not in report
    assert [q.text for q in stats.unanswered] == []
