"""Procedure answers: the asked part first, buttons for the rest, long lists cut."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot import texts
from bot.catalogue.files import read_procedure_file
from bot.catalogue.model import (
    Document,
    OnlineLevel,
    Procedure,
    ProcessingTime,
    SubmissionChannel,
)
from bot.config import CenterConfig
from bot.dialogue.actions import MAX_ACTION_BYTES, Action, Part
from bot.dialogue.procedure_answers import MAX_DOCUMENTS, choices_reply, procedure_answer

EXAMPLE = Path(__file__).resolve().parent.parent / "procedures" / "ho-tich" / "1.001193.toml"
CENTER = CenterConfig(hotline="0205 3812 345")


@pytest.fixture(scope="module")
def khai_sinh() -> Procedure:
    procedure, problems = read_procedure_file(EXAMPLE)
    assert procedure is not None and not problems
    return procedure


def test_documents_answer_lists_each_document(khai_sinh: Procedure) -> None:
    reply = procedure_answer(khai_sinh, Part.DOCUMENTS, CENTER)
    assert reply.sections[0].heading == khai_sinh.name
    documents = reply.sections[1]
    assert documents.heading == texts.HEADING_DOCUMENTS
    assert documents.lines[0].startswith("1. Tờ khai đăng ký khai sinh")
    assert "1 bản chính" in documents.lines[0]
    assert reply.sections[2].heading == texts.HEADING_PRESENT
    labels = [b.label for b in reply.all_buttons]
    assert texts.BUTTON_DOCUMENTS not in labels
    assert {texts.BUTTON_FEE, texts.BUTTON_TIME, texts.BUTTON_NOT_THIS} <= set(labels)
    assert texts.BUTTON_HELPFUL in labels


@pytest.mark.parametrize(
    ("part", "heading", "needle"),
    [
        (Part.FEE, texts.HEADING_FEE, "Miễn lệ phí"),
        (Part.TIME, texts.HEADING_TIME, "Ngay trong ngày"),
        (Part.WHERE, texts.HEADING_WHERE, "Trung tâm Phục vụ hành chính công"),
        (Part.STEPS, texts.HEADING_STEPS, "1. Nộp tờ khai"),
        (Part.ONLINE, texts.HEADING_ONLINE, texts.ONLINE_FULL),
    ],
)
def test_each_part(khai_sinh: Procedure, part: Part, heading: str, needle: str) -> None:
    reply = procedure_answer(khai_sinh, part, CENTER)
    assert reply.sections[1].heading == heading
    assert needle in "\n".join(reply.sections[1].lines)


def test_general_answer_is_an_overview(khai_sinh: Procedure) -> None:
    reply = procedure_answer(khai_sinh, Part.GENERAL, CENTER)
    headings = [s.heading for s in reply.sections]
    assert headings[1] == texts.HEADING_DOCUMENTS
    assert {texts.HEADING_TIME, texts.HEADING_FEE, texts.HEADING_WHERE} <= set(headings)


def test_long_document_lists_are_cut_with_a_link(khai_sinh: Procedure) -> None:
    many = tuple(Document(f"Giấy tờ số {i}", "1 bản sao") for i in range(30))
    procedure = dataclasses.replace(khai_sinh, documents=many)
    lines = procedure_answer(procedure, Part.DOCUMENTS, CENTER).sections[1].lines
    assert len(lines) == MAX_DOCUMENTS + 1
    assert lines[-1] == texts.DOCUMENTS_MORE.format(
        count=30 - MAX_DOCUMENTS, url=khai_sinh.source_url
    )


def test_missing_parts_say_so_and_give_the_hotline(khai_sinh: Procedure) -> None:
    bare = Procedure(code="1.000001", name="Thủ tục mẫu", field="Khác", levels=khai_sinh.levels)
    docs = procedure_answer(bare, Part.DOCUMENTS, CENTER).plain_text()
    assert CENTER.hotline in docs
    assert texts.FEE_NONE in procedure_answer(bare, Part.FEE, CENTER).plain_text()
    assert texts.ONLINE_UNKNOWN in procedure_answer(bare, Part.ONLINE, CENTER).plain_text()
    original = dataclasses.replace(bare, original={"documents": "Tờ khai; Giấy chứng sinh"})
    assert "Giấy chứng sinh" in procedure_answer(original, Part.DOCUMENTS, CENTER).plain_text()


def test_offline_procedure_has_no_online_button(khai_sinh: Procedure) -> None:
    offline = dataclasses.replace(khai_sinh, online=OnlineLevel.OFFLINE)
    assert not [b for b in procedure_answer(offline, Part.ONLINE, CENTER).all_buttons if b.url]
    online = procedure_answer(khai_sinh, Part.FEE, CENTER)
    assert [b.url for b in online.all_buttons if b.url] == [khai_sinh.online_url]


def test_every_action_fits_telegram_and_decodes(khai_sinh: Procedure) -> None:
    long_name = dataclasses.replace(khai_sinh, code="1.000028.000.00.00.H37", name="X" * 200)
    reply = choices_reply(texts.CLARIFY, [khai_sinh, long_name], Part.FEE)
    for button in reply.all_buttons + procedure_answer(long_name, Part.FEE, CENTER).all_buttons:
        if button.action:
            assert len(button.action.encode()) <= MAX_ACTION_BYTES
            assert Action.decode(button.action).encode() == button.action
    assert len(reply.all_buttons[1].label) <= 60
    with pytest.raises(ValueError):
        Action("p", ("x" * 70,)).encode()


def test_bare_number_times_read_as_working_days(khai_sinh: Procedure) -> None:
    channels = (
        SubmissionChannel("Trực tiếp", ProcessingTime("1", 1)),
        SubmissionChannel("Trực tuyến", ProcessingTime("0.5", 0.5)),
    )
    procedure = dataclasses.replace(khai_sinh, time=ProcessingTime(""), channels=channels)
    lines = procedure_answer(procedure, Part.TIME, CENTER).sections[1].lines
    assert lines == ("• Trực tiếp: 1 ngày làm việc", "• Trực tuyến: 0,5 ngày làm việc")
