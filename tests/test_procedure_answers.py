"""Procedure answers: the asked part first, buttons for the rest, long lists cut."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bot import texts
from bot.catalogue.files import read_procedure_file
from bot.catalogue.model import (
    Document,
    Fee,
    Level,
    OnlineLevel,
    Procedure,
    ProcessingTime,
    SubmissionChannel,
)
from bot.config import CenterConfig
from bot.dialogue.actions import MAX_ACTION_BYTES, Action, Part
from bot.dialogue.procedure_answers import (
    MAX_DOCUMENTS,
    choices_reply,
    handled_at,
    procedure_answer,
)
from bot.messages import Reply

EXAMPLE = Path(__file__).resolve().parent.parent / "procedures" / "ho-tich" / "1.001193.toml"
CENTER = CenterConfig(hotline="0205 3812 345")
TODAY = dt.date(2026, 12, 5)


BARE = Procedure(
    code="1.000001",
    name="Thủ tục mẫu",
    field="Khác",
    levels=(Level.COMMUNE,),
    source_url="https://dichvucong.gov.vn/thu-tuc-hanh-chinh/mau",
)


def answer(procedure: Procedure, part: Part, today: dt.date = TODAY) -> Reply:
    return procedure_answer(procedure, part, CENTER, today=today)


@pytest.fixture(scope="module")
def khai_sinh() -> Procedure:
    procedure, problems = read_procedure_file(EXAMPLE)
    assert procedure is not None and not problems
    return procedure


def test_documents_answer_lists_each_document(khai_sinh: Procedure) -> None:
    reply = procedure_answer(khai_sinh, Part.DOCUMENTS, CENTER, today=TODAY)
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
    reply = procedure_answer(khai_sinh, part, CENTER, today=TODAY)
    assert reply.sections[1].heading == heading
    assert needle in "\n".join(reply.sections[1].lines)


def test_general_answer_is_an_overview(khai_sinh: Procedure) -> None:
    reply = procedure_answer(khai_sinh, Part.GENERAL, CENTER, today=TODAY)
    headings = [s.heading for s in reply.sections]
    assert headings[1] == texts.HEADING_DOCUMENTS
    assert {texts.HEADING_TIME, texts.HEADING_FEE, texts.HEADING_WHERE} <= set(headings)


def test_long_document_lists_are_cut_with_a_link(khai_sinh: Procedure) -> None:
    many = tuple(Document(f"Giấy tờ số {i}", "1 bản sao") for i in range(30))
    procedure = dataclasses.replace(khai_sinh, documents=many)
    lines = answer(procedure, Part.DOCUMENTS).sections[1].lines
    assert len(lines) == MAX_DOCUMENTS + 1
    assert lines[-1] == texts.DOCUMENTS_MORE.format(
        count=30 - MAX_DOCUMENTS, url=khai_sinh.source_url
    )


def test_missing_parts_say_so_with_the_hotline_and_the_page(khai_sinh: Procedure) -> None:
    bare = dataclasses.replace(
        BARE, channels=(SubmissionChannel("Trực tiếp", ProcessingTime("")),), steps=()
    )
    gaps = {
        Part.DOCUMENTS: texts.GAP_DOCUMENTS,
        Part.FEE: texts.GAP_FEE,
        Part.TIME: texts.GAP_TIME,
        Part.STEPS: texts.GAP_STEPS,
    }
    for part, gap in gaps.items():
        text = answer(bare, part).plain_text()
        assert gap.format(hotline=CENTER.hotline, url=bare.source_url) in text, part
    assert texts.ONLINE_UNKNOWN in answer(bare, Part.ONLINE).plain_text()
    original = dataclasses.replace(bare, original={"documents": "Tờ khai; Giấy chứng sinh"})
    assert "Giấy chứng sinh" in answer(original, Part.DOCUMENTS).plain_text()


def test_a_sentence_that_only_says_there_is_no_figure_gives_way_to_where_to_ask() -> None:
    said_nothing = dataclasses.replace(
        BARE, fees=(Fee("Cổng Dịch vụ công không ghi phí, lệ phí cho thủ tục này."),)
    )
    assert answer(said_nothing, Part.FEE).sections[1].lines == (
        texts.GAP_FEE.format(hotline=CENTER.hotline, url=BARE.source_url),
    )
    vague = dataclasses.replace(
        BARE, fees=(Fee("Phí do HĐND tỉnh quyết định (Cổng Dịch vụ công không ghi mức cụ thể)."),)
    )
    lines = answer(vague, Part.FEE).sections[1].lines
    assert lines[0].startswith("• Phí do HĐND tỉnh quyết định")
    assert lines[1] == texts.GAP_FEE.format(hotline=CENTER.hotline, url=BARE.source_url)
    vague_time = dataclasses.replace(
        BARE, time=ProcessingTime("Cổng Dịch vụ công không ghi thời hạn cụ thể; hỏi cán bộ.")
    )
    assert CENTER.hotline in answer(vague_time, Part.TIME).plain_text()
    # A stated figure needs no such sentence.
    stated = dataclasses.replace(BARE, fees=(Fee("Lệ phí 50.000 đồng/lần", 50000),))
    assert answer(stated, Part.FEE).sections[1].lines == ("• Lệ phí 50.000 đồng/lần",)
    free = dataclasses.replace(BARE, time=ProcessingTime("Giải quyết ngay trong ngày"))
    assert CENTER.hotline not in answer(free, Part.TIME).plain_text()


def test_a_procedure_known_by_name_only_says_where_to_ask_in_one_sentence() -> None:
    name_only = dataclasses.replace(BARE, source_url="", online=OnlineLevel.FULL)
    reply = answer(name_only, Part.GENERAL)
    assert reply.sections[1].lines == (
        texts.GAP_NAME_ONLY.format(hotline=CENTER.hotline, url=CENTER.online_portal),
    )
    # Documents, time, fee and steps would only repeat that: not offered.
    labels = {b.label for b in reply.all_buttons}
    assert {texts.BUTTON_WHERE, texts.BUTTON_ONLINE} <= labels
    assert not {texts.BUTTON_DOCUMENTS, texts.BUTTON_TIME, texts.BUTTON_FEE} & labels


# --- documents needed only in some case --------------------------------------------------


def test_case_documents_come_after_the_common_list_under_their_case(
    khai_sinh: Procedure,
) -> None:
    reply = answer(khai_sinh, Part.DOCUMENTS)
    headings = [s.heading for s in reply.sections]
    assert headings[1:] == [texts.HEADING_DOCUMENTS, texts.HEADING_PRESENT, texts.HEADING_CASES]
    common = "\n".join(reply.sections[1].lines)
    assert "Giấy chứng sinh" in common
    assert "bỏ rơi" not in common and "mang thai hộ" not in common
    cases = reply.sections[3].lines
    assert (
        texts.CASE_ONE.format(
            case="Trẻ bị bỏ rơi",
            document="Biên bản về việc trẻ bị bỏ rơi do cơ quan có thẩm quyền lập — 1 bản chính",
        )
        in cases
    )
    assert any(
        line.startswith("• Trẻ sinh ra do mang thai hộ: Văn bản xác nhận") for line in cases
    )


def test_several_documents_of_one_case_are_listed_under_it() -> None:
    documents = (
        Document("Tờ khai", "1 bản chính"),
        Document("Hợp đồng thuê nhà", "1 bản sao", case="Nhà thuê"),
        Document("Giấy xác nhận diện tích", "1 bản chính", case="Nhà thuê"),
    )
    lines = (
        answer(dataclasses.replace(BARE, documents=documents), Part.DOCUMENTS).sections[2].lines
    )
    assert lines == (
        texts.CASE_HEADING.format(case="Nhà thuê"),
        texts.CASE_DOCUMENT.format(document="Hợp đồng thuê nhà — 1 bản sao"),
        texts.CASE_DOCUMENT.format(document="Giấy xác nhận diện tích — 1 bản chính"),
    )


def test_the_overview_stays_short_and_only_names_the_cases(khai_sinh: Procedure) -> None:
    reply = answer(khai_sinh, Part.GENERAL)
    documents = reply.sections[1].lines
    assert documents[-1] == texts.DOCUMENTS_CASES_BRIEF.format(
        cases="nhờ người khác đi làm; trẻ bị bỏ rơi; trẻ sinh ra do mang thai hộ"
    )
    assert not any("Biên bản về việc trẻ bị bỏ rơi" in line for line in documents)
    # Short enough to read on a phone without scrolling far (about 25 lines of 40 chars).
    assert len(reply.plain_text()) < 1400


# --- dated content -----------------------------------------------------------------------


def test_an_expired_fee_is_never_shown_and_a_coming_one_says_from_when() -> None:
    reduced = Fee(
        "Lệ phí: 25.000 đồng/thẻ",
        25000,
        valid_from=dt.date(2025, 7, 1),
        valid_until=dt.date(2026, 12, 31),
    )
    full = Fee("Lệ phí: 50.000 đồng/thẻ", 50000, valid_from=dt.date(2027, 1, 1))
    procedure = dataclasses.replace(BARE, fees=(full, reduced))
    before = answer(procedure, Part.FEE, dt.date(2026, 12, 31)).sections[1].lines
    assert before == (
        "• " + texts.DATED_UNTIL.format(text="Lệ phí: 25.000 đồng/thẻ", date="31/12/2026"),
        "• " + texts.DATED_FROM.format(text="Lệ phí: 50.000 đồng/thẻ", date="01/01/2027"),
    )
    after = answer(procedure, Part.FEE, dt.date(2027, 1, 1)).plain_text()
    assert "Lệ phí: 50.000 đồng/thẻ" in after
    assert "25.000" not in after and "01/01/2027" not in after


def test_expired_channels_and_documents_leave_every_part() -> None:
    ended = dt.date(2025, 12, 31)
    channels = (
        SubmissionChannel("Trực tiếp", ProcessingTime("5 ngày làm việc", 5), "135.000 đồng"),
        SubmissionChannel(
            "Trực tuyến", ProcessingTime("3 ngày làm việc", 3), "115.000 đồng", valid_until=ended
        ),
    )
    documents = (
        Document("Tờ khai", "1 bản chính"),
        Document("Giấy tờ cũ đã bỏ", "1 bản sao", valid_until=ended),
    )
    procedure = dataclasses.replace(BARE, channels=channels, documents=documents)
    text = "\n".join(
        answer(procedure, part, dt.date(2026, 1, 1)).plain_text()
        for part in (Part.GENERAL, Part.DOCUMENTS, Part.TIME, Part.FEE, Part.WHERE)
    )
    assert "115.000" not in text and "3 ngày" not in text and "Trực tuyến" not in text
    assert "Giấy tờ cũ đã bỏ" not in text
    assert "135.000 đồng" in text and "Tờ khai" in text
    # The day before it ended, the online channel was still there, with its end date.
    still = answer(procedure, Part.FEE, ended).plain_text()
    assert texts.DATED_UNTIL.format(text="115.000 đồng", date="31/12/2025") in still


# --- links, forms and where a citizen goes -----------------------------------------------


def test_the_online_button_opens_the_procedures_own_page(khai_sinh: Procedure) -> None:
    # The shipped online_url is the portal's home page: the button goes to the procedure.
    assert khai_sinh.online_url == "https://dichvucong.gov.vn"
    links = [(b.label, b.url) for b in answer(khai_sinh, Part.FEE).all_buttons if b.url]
    assert links == [(texts.BUTTON_PAGE_ONLINE, khai_sinh.source_url)]
    assert khai_sinh.source_url in answer(khai_sinh, Part.ONLINE).plain_text()
    specific = dataclasses.replace(khai_sinh, online_url="https://dichvucong.gov.vn/p/nop/123")
    links = [(b.label, b.url) for b in answer(specific, Part.FEE).all_buttons if b.url]
    assert links == [
        (texts.BUTTON_OPEN_ONLINE, "https://dichvucong.gov.vn/p/nop/123"),
        (texts.BUTTON_PAGE, khai_sinh.source_url),
    ]


def test_offline_procedure_links_its_page_but_offers_no_online_submission(
    khai_sinh: Procedure,
) -> None:
    offline = dataclasses.replace(khai_sinh, online=OnlineLevel.OFFLINE)
    links = [(b.label, b.url) for b in answer(offline, Part.ONLINE).all_buttons if b.url]
    assert links == [(texts.BUTTON_PAGE, khai_sinh.source_url)]


def test_forms_are_named_and_linked(khai_sinh: Procedure) -> None:
    reply = answer(khai_sinh, Part.DOCUMENTS)
    assert texts.FORMS_BELOW in reply.sections[1].lines
    no_page = dataclasses.replace(khai_sinh, source_url="")
    lines = answer(no_page, Part.DOCUMENTS).sections[1].lines
    assert texts.FORMS_AT.format(url=CENTER.online_portal) in lines
    with_file = dataclasses.replace(
        BARE,
        documents=(
            Document(
                "Đơn đề nghị", "1 bản chính", form="Mẫu 01", form_url="https://x.gov.vn/m01.docx"
            ),
        ),
    )
    links = [(b.label, b.url) for b in answer(with_file, Part.DOCUMENTS).all_buttons if b.url]
    assert (texts.BUTTON_FORM.format(form="Mẫu 01"), "https://x.gov.vn/m01.docx") in links


@pytest.mark.parametrize(
    ("levels", "agency", "said"),
    [
        ((Level.COMMUNE,), "Ủy ban nhân dân cấp xã", "UBND cấp xã"),
        ((Level.COMMUNE,), "Công an cấp xã", "Công an cấp xã"),
        # Filed under the ministry, handed in at the province's police.
        ((Level.MINISTRY,), "Cục Cảnh sát giao thông; Công an tỉnh", "Công an tỉnh"),
        ((Level.MINISTRY, Level.PROVINCE), "Cục Cảnh sát giao thông", CENTER.name),
        ((Level.PROVINCE, Level.COMMUNE), "Bảo hiểm xã hội tỉnh", "Bảo hiểm xã hội tỉnh"),
        ((Level.PROVINCE, Level.COMMUNE), "Cơ quan thuế", "Thuế tỉnh hoặc Thuế cơ sở"),
    ],
)
def test_where_a_citizen_goes_is_said_as_a_citizen_says_it(
    levels: tuple[Level, ...], agency: str, said: str
) -> None:
    procedure = dataclasses.replace(BARE, levels=levels, agency=agency)
    assert said in handled_at(procedure, CENTER)
    assert "Cấp bộ" not in answer(procedure, Part.GENERAL).sections[0].lines[0]


def test_only_a_procedure_with_nothing_local_is_said_to_be_central() -> None:
    central = dataclasses.replace(BARE, levels=(Level.MINISTRY,), agency="Thanh tra Bộ")
    assert handled_at(central, CENTER) == texts.HANDLED_CENTRAL


def test_several_parts_asked_at_once_are_shown_in_the_order_asked(khai_sinh: Procedure) -> None:
    reply = procedure_answer(
        khai_sinh, Part.WHERE, CENTER, today=TODAY, also=(Part.WHERE, Part.FEE)
    )
    assert [s.heading for s in reply.sections[1:]] == [texts.HEADING_WHERE, texts.HEADING_FEE]
    labels = {b.label for b in reply.all_buttons}
    assert texts.BUTTON_WHERE not in labels and texts.BUTTON_FEE not in labels


def test_every_action_fits_telegram_and_decodes(khai_sinh: Procedure) -> None:
    long_name = dataclasses.replace(khai_sinh, code="1.000028.000.00.00.H37", name="X" * 200)
    reply = choices_reply(texts.CLARIFY, [khai_sinh, long_name], Part.FEE)
    for button in (
        reply.all_buttons + procedure_answer(long_name, Part.FEE, CENTER, today=TODAY).all_buttons
    ):
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
    lines = procedure_answer(procedure, Part.TIME, CENTER, today=TODAY).sections[1].lines
    assert lines == ("• Trực tiếp: 1 ngày làm việc", "• Trực tuyến: 0,5 ngày làm việc")
