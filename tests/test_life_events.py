"""Life events: situations citizens describe, read from data files, found in messages, and
offered as the event's procedures by the matcher and the dialogue."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bot import texts
from bot.catalogue.files import Severity, read_catalogue
from bot.config import CatalogueConfig, Config, DossierConfig, StorageConfig
from bot.core import open_core
from bot.messages import Channel, ChatRef, Incoming
from bot.search import Decision, DeclineReason, Matcher, load_vocabulary
from bot.search.events import (
    EventFinder,
    EventPhrase,
    LifeEvent,
    LifeEventError,
    PhraseFinder,
    load_life_events,
    parse_phrase,
    read_life_events,
    written_slots,
)
from bot.search.normalize import tokens, typed_marks, words
from bot.search.vocabulary import check_vocabulary

ROOT = Path(__file__).resolve().parent.parent

EVENTS = """\
# Test events.
[[event]]
id = "test.birth"
title = "Có con mới sinh"
says = ["(mới|vừa) (sinh|sanh|đẻ) (con|em bé|bé)", "vợ (sinh|sanh|đẻ)"]
procedures = ["1.001193", "1.003583"]

[[event]]
id = "test.guest"
title = "Có khách đến ở nhờ"
says = ["(khách|người quen|bà con) (ở nhờ|ngủ lại|ghé ở)", "(ghé|ở nhờ|ngủ lại) (ở nhà|nhà) tui"]
procedures = ["2.001159"]

[[event]]
id = "test.divorce"
title = "Ly hôn"
says = ["ly hôn", "(bỏ|ly dị) (chồng|vợ)"]
refer = "Việc ly hôn do Tòa án nhân dân khu vực nơi bạn cư trú giải quyết."
"""


def event(text: str, *phrases: str, codes: tuple[str, ...] = ("1.001193",)) -> LifeEvent:
    parsed = tuple(
        EventPhrase(p, slots, written_slots(p)) for p in phrases if (slots := parse_phrase(p))
    )
    return LifeEvent(text, text, parsed, codes)


def test_phrase_syntax() -> None:
    assert parse_phrase("vợ (sinh|sanh|đẻ)") == ((("vo",),), (("sinh",), ("sanh",), ("de",)))
    slots = parse_phrase("mất (căn cước|cccd) rồi")
    assert slots == ((("mat",),), (("can", "cuoc"), ("cccd",)), (("roi",),))
    assert parse_phrase("(mới|vừa sinh") is None  # unbalanced
    assert parse_phrase("(|con) sinh") is None  # the first word cannot be optional
    assert parse_phrase("(,|con) sinh") is None  # an alternative with no word
    assert parse_phrase("sinh (con|)") == ((("sinh",),), (("con",), ()))
    assert parse_phrase("   ") is None


def test_a_phrase_matches_in_order_with_small_gaps() -> None:
    finder = EventFinder([event("birth", "(mới|vừa) (sinh|sanh|đẻ) (con|em bé|bé)")])
    assert [h.event.id for h in finder.find(tokens("vợ tui mới sanh em bé hôm qua"))] == ["birth"]
    assert finder.find(tokens("moi de be"))  # without diacritics
    assert not finder.find(tokens("mới hôm qua nhà tui có sinh con"))  # 4 words between
    assert finder.find(tokens("mới hôm qua nhà sinh con"))  # 3 words between
    assert not finder.find(tokens("con em bé mới sinh"))  # order matters
    hit = finder.find(tokens("nhà tui vừa đẻ bé"))[0]
    assert (hit.start, hit.end) == (2, 5)


def test_an_optional_word_may_be_there_or_not() -> None:
    finder = EventFinder([event("fire", "rừng (trồng|) bị cháy")])
    assert finder.find(tokens("rừng bị cháy rồi"))
    assert finder.find(tokens("rừng trồng nhà tui bị cháy"))
    assert not finder.find(tokens("rừng trồng nhà tui ở xa bị cháy"))


def test_a_word_typed_with_other_marks_is_another_word() -> None:
    finder = EventFinder(
        [
            event("rent-tax", "(thuế|đóng thuế) (phòng trọ|nhà trọ)"),
            event("copy", "chứng thực bản sao"),
        ]
    )
    spellings = {"thuế", "thuê", "đóng", "phòng", "trọ", "chứng", "thực", "bản", "sao", "tui"}

    def found(text: str) -> list[str]:
        pairs = words(text)
        marks = typed_marks(pairs, spellings)
        return [hit.event.id for hit in finder.find([f for f, _ in pairs], marks)]

    assert found("đóng thuế phòng trọ bao nhiêu") == ["rent-tax"]
    assert found("tui thuê phòng trọ gần trường") == []  # rent, not tax
    assert found("tui thue phong tro gan truong") == ["rent-tax"]  # no marks: may be either
    # Marks no known word has are a slip: "thục" is "thực".
    assert found("chứng thục bản sao ở đâu") == ["copy"]
    # Without the marks typed (the matcher's default), the folded words decide.
    assert finder.find(tokens("tui thuê phòng trọ"))


def test_phrase_lists_tell_words_apart_by_their_marks_too() -> None:
    # The vocabulary's phrase lists ([conversation], [decline] advice) read like events.
    finder = PhraseFinder({"advice": ["dòng nào (tốt|bền)"]})
    spellings = {"dòng", "đồng", "nào", "tốt"}

    def found(text: str) -> tuple[str, int, int] | None:
        pairs = words(text)
        return finder.find([f for f, _ in pairs], typed_marks(pairs, spellings))

    assert found("dòng xe nào tốt") == ("advice", 0, 4)
    assert found("tốn đồng nào tốt") is None  # a coin, not a model
    assert found("ton dong nao tot") == ("advice", 1, 4)  # no marks: may be either


def test_the_longest_phrase_of_an_event_is_its_hit() -> None:
    finder = EventFinder([event("birth", "khai sinh", "vợ (sinh|sanh) (con|em bé)")])
    hit = finder.find(tokens("vợ tui sanh em bé rồi, làm khai sinh"))[0]
    assert hit.phrase.text.startswith("vợ")
    assert hit.phrase.words == 3


def test_a_phrase_of_parts_matches_them_anywhere_in_any_order(tmp_path: Path) -> None:
    folder = tmp_path / "_events"
    folder.mkdir()
    (folder / "parts.toml").write_text(
        '[[event]]\nid = "test.survivor"\ntitle = "x"\nprocedures = ["2.000821"]\n'
        'says = ["(chồng|vợ|ba|má) (mất|qua đời) + (bảo hiểm xã hội|bhxh|đóng bảo hiểm)"]\n\n'
        '[[event]]\nid = "test.broken"\ntitle = "x"\nprocedures = ["2.000821"]\n'
        'says = ["(chồng|vợ) mất + (bảo hiểm"]\n',
        encoding="utf-8",
    )
    events, problems = read_life_events(folder)
    assert [e.id for e in events] == ["test.survivor"]
    assert problems and "malformed" in str(problems[0])
    assert events[0].phrases[0].parts == (2, 1)
    finder = EventFinder(events)

    def found(text: str) -> list[tuple[int, int]]:
        return [(hit.start, hit.end) for hit in finder.find(tokens(text))]

    # One part in the story, the other in the question, far apart.
    story = "Chồng tôi mất tháng trước. Ảnh đóng bảo hiểm ở công ty được 15 năm, giờ làm sao"
    assert found(story) == [(0, 9)]
    assert found("đóng bảo hiểm cho chồng mấy năm, giờ chồng mất rồi") == [(0, 10)]
    # Every part must be there; each part keeps its own order and gaps.
    assert found("chồng tôi đi làm có đóng bảo hiểm") == []
    assert found("mất chồng, có đóng bảo hiểm") == []


def test_reading_the_files_reports_each_problem_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "_events"
    folder.mkdir()
    (folder / "good.toml").write_text(EVENTS, encoding="utf-8")
    (folder / "bad.toml").write_text(
        '[[event]]\nid = "Bad Id"\ntitle = "x"\nsays = ["a b"]\nprocedures = ["1.001193"]\n\n'
        '[[event]]\nid = "bad.phrase"\ntitle = "x"\nsays = ["(a|b c", "đẻ con"]\n'
        'procedures = ["1.001193", "not-a-code"]\n\n'
        '[[event]]\nid = "test.birth"\ntitle = "again"\nsays = ["x y"]\n'
        'procedures = ["1.001193"]\n'
        '\n[[event]]\nid = "no.target"\ntitle = "x"\nsays = ["x y"]\n',
        encoding="utf-8",
    )
    events, problems = read_life_events(folder)
    messages = [str(p) for p in problems]
    assert any(m.startswith(f"{folder / 'bad.toml'}:1: ") and "id" in m for m in messages)
    assert any(":7: " in m and "malformed" in m for m in messages)
    assert any(":7: " in m and "'not-a-code' is not a procedure code" in m for m in messages)
    # Files are read in name order: the second "test.birth" is the one reported.
    assert any("good.toml:2: " in m and "also at" in m and "bad.toml:13" in m for m in messages)
    assert any(":19: " in m and "needs procedures" in m for m in messages)
    # What is sound is kept: the three good events and the phrase that parses.
    assert {e.id for e in events} == {"test.birth", "test.guest", "test.divorce", "bad.phrase"}
    with pytest.raises(LifeEventError, match=r"bad\.toml:1"):
        load_life_events(folder)
    (folder / "broken.toml").write_text("[[event]\n", encoding="utf-8")
    assert any("not valid TOML" in str(p) for p in read_life_events(folder)[1])


@pytest.fixture(scope="module")
def vocabulary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vocabulary")
    shutil.copy(ROOT / "procedures" / "_vocabulary.toml", folder / "_vocabulary.toml")
    (folder / "_events").mkdir()
    (folder / "_events" / "test.toml").write_text(EVENTS, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def matcher(vocabulary_dir: Path) -> Matcher:
    catalogue, _problems = read_catalogue(ROOT / "procedures")
    return Matcher.build(catalogue, load_vocabulary(vocabulary_dir / "_vocabulary.toml"))


def test_a_described_situation_offers_the_events_procedures(matcher: Matcher) -> None:
    result = matcher.search("vợ tui mới sanh em bé hôm qua, giờ phải mần giấy tờ gì vậy")
    assert result.decision in (Decision.CLARIFY, Decision.ANSWER)
    assert result.shown[0].procedure.code == "1.001193"
    if result.decision is Decision.CLARIFY:
        assert result.event is not None and result.event.id == "test.birth"
        assert "1.003583" in [c.procedure.code for c in result.shown]


def test_a_situation_without_the_procedures_words_is_still_understood(matcher: Matcher) -> None:
    question = "đứa em bạn dưới quê lên khám bệnh, ghé ở nhà tui 3 đêm, có phải báo công an hông"
    result = matcher.search(question)
    assert result.decision is not Decision.DECLINE
    assert result.shown[0].procedure.code == "2.001159"


@pytest.mark.parametrize(
    "text",
    [
        "vợ chồng tui muốn ly hôn thì làm ở đâu",
        # A name sharing its other words ("... thỏa thuận vợ chồng ...") may fit well
        # enough to be answered; the matter is still the court's.
        "vợ chồng tôi muốn ly hôn thì làm ở đâu",
    ],
)
def test_a_matter_of_another_body_says_where_it_belongs(matcher: Matcher, text: str) -> None:
    result = matcher.search(text)
    assert result.decision is Decision.DECLINE
    assert result.decline_reason is DeclineReason.REFER
    assert result.event is not None and "Tòa án" in result.event.refer


def test_a_procedure_named_for_the_referred_matter_is_still_answered(matcher: Matcher) -> None:
    # Recording a divorce granted abroad is the commune's: the name says "ly hôn" itself.
    result = matcher.search("đã ly hôn ở Mỹ, về Việt Nam ghi chú ly hôn vào sổ hộ tịch ở đâu")
    assert result.decision is not Decision.DECLINE
    assert result.shown[0].procedure.code == "2.000554"


def test_events_are_checked_with_the_vocabulary(vocabulary_dir: Path, tmp_path: Path) -> None:
    catalogue, _problems = read_catalogue(ROOT / "procedures")
    assert check_vocabulary(vocabulary_dir / "_vocabulary.toml", catalogue) == []
    copy = tmp_path / "v"
    shutil.copytree(vocabulary_dir, copy)
    (copy / "_events" / "other.toml").write_text(
        '[[event]]\nid = "x.y"\ntitle = "x"\nsays = ["(cá sấu|"]\nprocedures = ["9.999999"]\n',
        encoding="utf-8",
    )
    problems = check_vocabulary(copy / "_vocabulary.toml", catalogue)
    assert [p.severity for p in problems] == [Severity.ERROR]
    assert f"{copy / '_events' / 'other.toml'}:1" in str(problems[0])
    assert "malformed" in str(problems[0])


def test_the_catalogue_does_not_read_the_events_folder(
    vocabulary_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(vocabulary_dir, tmp_path / "catalogue")
    (tmp_path / "catalogue" / "ho-tich").mkdir()
    shutil.copy(ROOT / "procedures/ho-tich/1.001193.toml", tmp_path / "catalogue/ho-tich")
    catalogue, problems = read_catalogue(tmp_path / "catalogue")
    assert [p.code for p in catalogue.procedures] == ["1.001193"]
    assert problems == []


async def test_the_dialogue_titles_the_choices_and_refers_elsewhere(
    vocabulary_dir: Path, tmp_path: Path
) -> None:
    config = dataclasses.replace(
        Config(),
        catalogue=CatalogueConfig(ROOT / "procedures", vocabulary_dir / "_vocabulary.toml"),
        storage=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"),
        dossiers=DossierConfig(source="none"),
    )
    chat = ChatRef(Channel.WEB, "c1")
    async with open_core(config) as core:
        await core.dialogue.handle(Incoming(chat, "c1", "/start"))
        replies = await core.dialogue.handle(
            Incoming(chat, "c1", "vợ tui mới sanh em bé hôm qua, giờ phải mần giấy tờ gì vậy")
        )
        text = "\n".join(r.plain_text() for r in replies)
        labels = [b.label for r in replies for b in r.all_buttons]
        if "Có con mới sinh" in text:  # the event's procedures, one button each
            assert labels[0] == "Đăng ký khai sinh"
        else:  # answered outright: the documents are shown
            assert "Đăng ký khai sinh" in text and texts.HEADING_DOCUMENTS in text
        referral = await core.dialogue.handle(Incoming(chat, "c1", "muốn ly hôn thì làm sao"))
        said = "\n".join(r.plain_text() for r in referral)
        assert "Tòa án nhân dân khu vực" in said
        assert core.config.center.hotline in said


@pytest.fixture(scope="module")
def shipped_matcher() -> Matcher:
    """The shipped catalogue with the shipped vocabulary and events."""
    catalogue, _problems = read_catalogue(ROOT / "procedures")
    return Matcher.build(catalogue, load_vocabulary(ROOT / "procedures" / "_vocabulary.toml"))


@pytest.mark.parametrize(
    ("text", "event_id", "code"),
    [
        (
            "nhỏ con tui đậu cao đẳng ở Vĩnh Long, tính thuê phòng gần trường để đi học, có "
            "phải báo công an không",
            "situations.student-renting",
            "1.004194",
        ),
        (
            "ba má tui già yếu, tui về ở với ổng bả để chăm sóc thì có phải làm giấy tờ gì hông",
            "situations.caretaker-moves-in",
            "1.004222",
        ),
        (
            "hang xom xay tuong bit loi di vo nha tui, gio tui thua o dau",
            "situations.blocked-path-water",
            "1.012812",
        ),
    ],
)
def test_the_shipped_situations_are_understood(
    shipped_matcher: Matcher, text: str, event_id: str, code: str
) -> None:
    """procedures/_events/situations.toml: needs told as a story, not a procedure's name."""
    result = shipped_matcher.search(text)
    assert result.decision is Decision.CLARIFY
    assert result.event is not None and result.event.id == event_id
    assert result.shown[0].procedure.code == code


@pytest.mark.parametrize(
    ("text", "event_id"),
    [
        ("tờ 200 ngàn bị ngâm nước mặn mục rã gần nửa tờ, ngân hàng có đổi hông", "money-damaged"),
        ("để quên tờ 200 nghìn trong túi quần, giặt máy rách làm hai", "money-damaged"),
        ("khách trả tiền cho tui có tờ 500 nghi giả, mang tới đâu", "money-counterfeit"),
    ],
)
def test_a_banknote_is_told_by_its_value(text: str, event_id: str) -> None:
    # Citizens name a note by its value ("tờ 200 ngàn"), not as "tờ tiền".
    finder = EventFinder(load_life_events(ROOT / "procedures" / "_events"))
    found = [hit.event.id for hit in finder.find(tokens(text))]
    assert f"property-work.{event_id}" in found


def test_going_abroad_without_naming_the_passport_leads_to_it(shipped_matcher: Matcher) -> None:
    # "tháng sau đi du lịch Thái Lan, cần giấy tờ gì": the passport is the paper meant.
    result = shipped_matcher.search("tháng sau đi du lịch Thái Lan, cần giấy tờ gì")
    assert result.event is not None and result.event.id == "family.passport-first"
    assert result.shown[0].procedure.code == "1.001456"


@pytest.mark.parametrize(
    ("text", "event_id"),
    [
        (
            "tòa xử tui thắng rồi mà bên kia hổng chịu trả tiền, giờ làm đơn ở đâu",
            "won-lawsuit-not-paid",
        ),
        ("ghe mục rồi bán sắt vụn, giấy đăng ký ghe xử lý sao", "scrap-rotten-boat"),
        ("tiệm tạp hóa tính đóng cửa mấy tháng đi chữa bệnh thì báo ai", "grocery-pause-months"),
    ],
)
def test_the_shipped_themes_are_understood(text: str, event_id: str) -> None:
    """procedures/_events/themes.toml: situations of daily life told as a need."""
    finder = EventFinder(load_life_events(ROOT / "procedures" / "_events"))
    assert f"themes.{event_id}" in [hit.event.id for hit in finder.find(tokens(text))]


@pytest.mark.parametrize(
    ("text", "event_id"),
    [
        (
            "Chồng tôi mất tháng trước. Ảnh đóng bảo hiểm ở công ty 15 năm, mẹ con tôi được "
            "nhận gì?",
            "death-survivor-benefit",
        ),
        (
            "tui nghỉ hãng ở Bình Dương về quê rồi, giờ muốn rút bảo hiểm một lần thì làm sao",
            "social-insurance-lump-sum",
        ),
        (
            "ông nội mất ở nhà hồi năm 2005, tới giờ chưa ai làm khai tử, giờ cần giấy để chia "
            "đất",
            "death-at-home-unregistered",
        ),
    ],
)
def test_the_shipped_stories_are_understood(text: str, event_id: str) -> None:
    """procedures/_events/concepts.toml: phrases of parts, for situations told as stories."""
    finder = EventFinder(load_life_events(ROOT / "procedures" / "_events"))
    assert f"concepts.{event_id}" in [hit.event.id for hit in finder.find(tokens(text))]
