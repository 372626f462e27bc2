"""What a question asks: documents, fee, time, place, steps, online, or general."""

from __future__ import annotations

import pytest

from bot.search import Intent, detect_intent
from bot.search.intent import intents_of_tokens, question_cue_spans
from bot.search.normalize import tokens


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("làm giấy khai sinh cần những giấy tờ gì", Intent.DOCUMENTS),
        ("dang ky ket hon can mang gi", Intent.DOCUMENTS),
        ("hồ sơ gồm những gì", Intent.DOCUMENTS),
        ("lệ phí đăng ký kết hôn bao nhiêu", Intent.FEE),
        ("lam passport het bao nhieu tien", Intent.FEE),
        ("co mat phi khong ad", Intent.FEE),
        ("làm căn cước mất bao lâu", Intent.TIME),
        ("lam KT3 mat may ngay", Intent.TIME),
        ("xin lý lịch tư pháp ở đâu", Intent.WHERE),
        ("nộp hồ sơ tại cơ quan nào", Intent.WHERE),
        ("đăng ký tạm trú như thế nào", Intent.STEPS),
        ("gia han tam tru ntn", Intent.STEPS),
        ("gia hạn tạm trú làm online được không", Intent.ONLINE),
        ("đăng ký kết hôn", Intent.GENERAL),
        ("", Intent.GENERAL),
    ],
)
def test_detect_intent(text: str, intent: Intent) -> None:
    assert detect_intent(text) is intent


def test_the_last_strong_cue_wins() -> None:
    # "có phải ... không" is a yes/no question, then the documents question comes last.
    text = "Có bắt buộc phải cấp đổi thẻ căn cước không? Hồ sơ gồm những gì?"
    assert detect_intent(text) is Intent.DOCUMENTS
    assert detect_intent("hồ sơ đăng ký biến động thì nộp tại cơ quan nào") is Intent.WHERE


def test_a_fee_named_anywhere_is_the_question() -> None:
    assert detect_intent("lệ phí trước bạ khi sang tên tính thế nào") is Intent.FEE


def test_words_that_only_look_like_cues_are_not_cues() -> None:
    # "phi" in "đất phi nông nghiệp" is not a fee.
    assert detect_intent("thuế sử dụng đất phi nông nghiệp") is Intent.GENERAL


def test_cue_spans_strip_question_words_but_keep_name_words() -> None:
    words = tokens("lệ phí trước bạ nhà đất mất bao lâu")
    spans = question_cue_spans(words)
    stripped = [" ".join(words[a:b]) for a, b, kept in spans if not kept]
    kept = [" ".join(words[a:b]) for a, b, kept in spans if kept]
    assert stripped == ["mat bao lau"]
    assert kept == ["le phi"]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("làm khai sinh nộp ở đâu, bao nhiêu tiền", (Intent.WHERE, Intent.FEE)),
        ("doi bang lai can giay to gi, het bao lau", (Intent.DOCUMENTS, Intent.TIME)),
        ("lệ phí trước bạ tính thế nào", (Intent.FEE,)),  # how the fee is computed
        ("hồ sơ nộp ở đâu", (Intent.WHERE,)),  # "hồ sơ" is weak beside a strong cue
        ("làm sao để đổi bằng lái", (Intent.STEPS,)),
        ("đăng ký tạm trú được không", (Intent.GENERAL,)),
    ],
)
def test_every_part_asked_in_order(text: str, parts: tuple[Intent, ...]) -> None:
    assert intents_of_tokens(tokens(text)) == parts
