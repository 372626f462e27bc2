"""Receipt code recognition: what citizens actually type, valid and malformed."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.dossiers.receipt_codes import (
    CodeForm,
    CodePart,
    CodeProblem,
    InvalidCodePattern,
    MalformedReceiptCode,
    ReceiptCode,
    ReceiptCodeRecognizer,
)

RECOGNIZER = ReceiptCodeRecognizer()

VALID = [
    # (what was typed, canonical code)
    ("000.00.12.H58-251120-0001", "000.00.12.H58-251120-0001"),
    ("000.17.22.H56-210531-0001", "000.17.22.H56-210531-0001"),
    ("G09.20-20260609-0092637", "G09.20-20260609-0092637"),
    ("000.00.12.h58-251120-0001", "000.00.12.H58-251120-0001"),
    ("g09.20-20260609-0092637", "G09.20-20260609-0092637"),
    ("000.00.12.H58 - 251120 - 0001", "000.00.12.H58-251120-0001"),
    ("000.00.12.H58–251120–0001", "000.00.12.H58-251120-0001"),  # en dashes
    ("000.00.12.H58—251120—0001", "000.00.12.H58-251120-0001"),  # em dashes
    ("000.00.12.H58 251120 0001", "000.00.12.H58-251120-0001"),  # spaces for dashes
    ("000.00.12H58-251120-0001", "000.00.12.H58-251120-0001"),  # a missing dot
    ("00000.12.H58-251120-0001", "000.00.12.H58-251120-0001"),  # another missing dot
    ("000.00,12.H58-251120-0001", "000.00.12.H58-251120-0001"),  # comma for a dot
    ("000. 00. 12. H58-251120-0001", "000.00.12.H58-251120-0001"),  # spaces after dots
    ("000.00.12.H58-2511200001", "000.00.12.H58-251120-0001"),  # dash before counter lost
    ("000.00.12.H58-251120-0001.", "000.00.12.H58-251120-0001"),  # trailing full stop
    ("Mã hồ sơ: 000.00.12.H58-251120-0001", "000.00.12.H58-251120-0001"),
    (
        "cho em hỏi hồ sơ 000.00.12.H58-251120-0001 của em đến đâu rồi ạ?",
        "000.00.12.H58-251120-0001",
    ),
    ("hs số 000.20.31.h57-240229-0153, nộp hôm thứ 5", "000.20.31.H57-240229-0153"),  # leap day
    ("(000.00.12.H58-251120-0001)", "000.00.12.H58-251120-0001"),
    ("“000.00.12.H58-251120-0001”", "000.00.12.H58-251120-0001"),
    ("G09.20 – 20260609 – 0092637 ạ", "G09.20-20260609-0092637"),
    ("G0920-20260609-0092637", "G09.20-20260609-0092637"),
    ("mã:G22.99-20251231-0000001", "G22.99-20251231-0000001"),
    ("000.00.12.H58_251120_0001", "000.00.12.H58-251120-0001"),
    ("000.00.12.H58/251120/0001", "000.00.12.H58-251120-0001"),
    # Every segment at its length, separated by anything or nothing (issue 10).
    ("000 00 12 H58 261201 0001", "000.00.12.H58-261201-0001"),
    ("000.00.12.H58.261201.0001", "000.00.12.H58-261201-0001"),
    ("00000 12 H58-261201-0001", "000.00.12.H58-261201-0001"),
    ("000 00 12 h58 - 261201 - 0001", "000.00.12.H58-261201-0001"),
    ("0000012H582612010001", "000.00.12.H58-261201-0001"),
    ("000-00-12-H58-261201-0001", "000.00.12.H58-261201-0001"),
    ("mã hồ sơ của em là 000 00 12 H58 261201 0001 ạ", "000.00.12.H58-261201-0001"),
    ("G09 20 20260609 0092637", "G09.20-20260609-0092637"),
    ("G09.20.20260609.0092637", "G09.20-20260609-0092637"),
]


@pytest.mark.parametrize(("typed", "canonical"), VALID)
def test_valid_codes_are_recognised_and_normalised(typed: str, canonical: str) -> None:
    found = RECOGNIZER.find(typed)
    assert isinstance(found, ReceiptCode), found
    assert found.value == canonical
    assert str(found) == canonical


def test_parts_of_a_legal_code() -> None:
    code = ReceiptCode.parse("000.00.12.H58-251120-0001")
    assert code.form is CodeForm.LEGAL
    assert code.agency == "000.00.12.H58"
    assert code.received_on == dt.date(2025, 11, 20)
    assert code.counter == "0001"


def test_parts_of_a_ministry_code() -> None:
    code = ReceiptCode.parse("G09.20-20260609-0092637")
    assert code.form is CodeForm.MINISTRY
    assert code.agency == "G09.20"
    assert code.received_on == dt.date(2026, 6, 9)
    assert code.counter == "0092637"


MALFORMED = [
    # (typed, part, problem, form judged against, wrong value)
    (
        "000.00.12.H58-251320-0001",
        CodePart.DATE,
        CodeProblem.IMPOSSIBLE_DATE,
        CodeForm.LEGAL,
        "251320",
    ),
    (
        "000.00.12.H58-250230-0001",
        CodePart.DATE,
        CodeProblem.IMPOSSIBLE_DATE,
        CodeForm.LEGAL,
        "250230",
    ),  # 30 February
    (
        "000.00.12.H58-250229-0001",
        CodePart.DATE,
        CodeProblem.IMPOSSIBLE_DATE,
        CodeForm.LEGAL,
        "250229",
    ),  # 2025 is not a leap year
    ("000.00.12.H58-25112-0001", CodePart.DATE, CodeProblem.WRONG_LENGTH, CodeForm.LEGAL, "25112"),
    (
        "000.00.12.H58-251120-001",
        CodePart.COUNTER,
        CodeProblem.WRONG_LENGTH,
        CodeForm.LEGAL,
        "001",
    ),
    (
        "000.00.12.H58-251120-00001",
        CodePart.COUNTER,
        CodeProblem.WRONG_LENGTH,
        CodeForm.LEGAL,
        "00001",
    ),
    (
        "000.00.12.H58-251120-0000",
        CodePart.COUNTER,
        CodeProblem.ZERO_COUNTER,
        CodeForm.LEGAL,
        "0000",
    ),
    ("000.00.12.H58-251120", CodePart.COUNTER, CodeProblem.MISSING, CodeForm.LEGAL, ""),
    (
        "000.00.12.58-251120-0001",
        CodePart.AGENCY,
        CodeProblem.WRONG_SHAPE,
        CodeForm.LEGAL,
        "000.00.12.58",
    ),
    (
        "000.00.H58-251120-0001",
        CodePart.AGENCY,
        CodeProblem.WRONG_SHAPE,
        CodeForm.LEGAL,
        "000.00.H58",
    ),
    (
        "G09.20-20261309-0092637",
        CodePart.DATE,
        CodeProblem.IMPOSSIBLE_DATE,
        CodeForm.MINISTRY,
        "20261309",
    ),
    (
        "G09.20-20260609-009263",
        CodePart.COUNTER,
        CodeProblem.WRONG_LENGTH,
        CodeForm.MINISTRY,
        "009263",
    ),
    (
        "G09.20-2026069-0092637",
        CodePart.DATE,
        CodeProblem.WRONG_LENGTH,
        CodeForm.MINISTRY,
        "2026069",
    ),
]


@pytest.mark.parametrize(("typed", "part", "problem", "form", "wrong"), MALFORMED)
def test_malformed_codes_say_which_part_is_wrong(
    typed: str, part: CodePart, problem: CodeProblem, form: CodeForm, wrong: str
) -> None:
    found = RECOGNIZER.find(f"hồ sơ {typed} ạ")
    assert isinstance(found, MalformedReceiptCode), found
    assert (found.part, found.problem, found.form, found.wrong_value) == (
        part,
        problem,
        form,
        wrong,
    )
    expected_shape = {
        CodeForm.LEGAL: "AAA.BB.CC.HNN-YYMMDD-NNNN",
        CodeForm.MINISTRY: "GNN.NN-YYYYMMDD-NNNNNNN",
    }[form]
    assert found.expected_shape == expected_shape
    assert isinstance(RECOGNIZER.find(found.example), ReceiptCode)


def test_a_spaced_code_with_an_impossible_date_is_malformed_in_canonical_spelling() -> None:
    found = RECOGNIZER.find("000 00 12 H58 251320 0001")
    assert isinstance(found, MalformedReceiptCode)
    assert (found.part, found.problem, found.typed) == (
        CodePart.DATE,
        CodeProblem.IMPOSSIBLE_DATE,
        "000.00.12.H58-251320-0001",
    )


def test_future_receipt_date_is_malformed_only_when_today_is_given() -> None:
    text = "000.00.12.H58-301120-0001"
    assert isinstance(RECOGNIZER.find(text), ReceiptCode)
    found = RECOGNIZER.find(text, today=dt.date(2025, 11, 20))
    assert isinstance(found, MalformedReceiptCode)
    assert (found.part, found.problem) == (CodePart.DATE, CodeProblem.FUTURE_DATE)
    # Today's receipts, and tomorrow's (time zones), are fine.
    assert isinstance(
        RECOGNIZER.find("000.00.12.H58-251121-0001", today=dt.date(2025, 11, 20)), ReceiptCode
    )


NOT_CODES = [
    "thủ tục 1.001193 cần giấy tờ gì",
    "mã thủ tục 1.000028.000.00.00.H37",
    "số điện thoại của em là 0912 345 678",
    "gọi 0912-345-678 giúp em",
    "hotline 1900-1234-5678",
    "em nộp ngày 20-11-2025 rồi",
    "ngày 20/11/2025 lúc 08:30",
    "hạn 2025-11-20",
    "CCCD 001090012345",
    "Quyết định số 163/QĐ-BTP ngày 20/11/2025",
    "Thông tư 01/2018/TT-VPCP",
    "biển số 29A-123.45",
    "lệ phí 100.000 - 200.000 đồng",
    "giờ làm việc 7h30 - 11h30",
    "phòng A12-3456 tầng 2",
    "hs25-001234",
    "số tài khoản 0000 0000 1234 5678 9012",
    "mã số thuế 0101234567-001",
    "",
]


@pytest.mark.parametrize("text", NOT_CODES)
def test_ordinary_sentences_have_no_code(text: str) -> None:
    assert RECOGNIZER.find(text) is None


def test_every_code_in_a_message_in_order_valid_first() -> None:
    text = (
        "hồ sơ 000.00.12.H58-251320-0001 sai, đúng là 000.00.12.H58-251120-0002 và "
        "G09.20-20260609-0092637"
    )
    found = RECOGNIZER.find_all(text)
    assert [type(item).__name__ for item in found] == [
        "ReceiptCode",
        "ReceiptCode",
        "MalformedReceiptCode",
    ]
    assert isinstance(found[0], ReceiptCode)
    assert found[0].value == "000.00.12.H58-251120-0002"
    # `find` prefers a valid code over an earlier malformed one.
    best = RECOGNIZER.find(text)
    assert isinstance(best, ReceiptCode)
    assert best.value == "000.00.12.H58-251120-0002"


def test_the_same_code_twice_is_reported_once() -> None:
    found = RECOGNIZER.find_all("000.00.12.H58-251120-0001 hay 000.00.12.h58 - 251120 - 0001")
    assert len(found) == 1


def test_configured_patterns_add_shapes() -> None:
    recognizer = ReceiptCodeRecognizer([r"(?<![A-Z0-9])(?P<code>HS\d{2}-\d{6})(?!\d)"])
    found = recognizer.find("em hỏi hồ sơ hs25-001234 ạ")
    assert isinstance(found, ReceiptCode)
    assert (found.value, found.form) == ("HS25-001234", CodeForm.CONFIGURED)
    assert RECOGNIZER.find("em hỏi hồ sơ hs25-001234 ạ") is None


def test_a_configured_match_beats_a_malformed_standard_candidate() -> None:
    # A province whose system uses a 2-segment agency code with a 6-digit date.
    recognizer = ReceiptCodeRecognizer([r"H\d{2}\.\d{2}-\d{6}-\d{4}"])
    found = recognizer.find("h56.22-230915-0012")
    assert isinstance(found, ReceiptCode)
    assert found.value == "H56.22-230915-0012"
    assert isinstance(RECOGNIZER.find("h56.22-230915-0012"), MalformedReceiptCode)


def test_an_invalid_configured_pattern_is_reported() -> None:
    with pytest.raises(InvalidCodePattern, match="extra_code_patterns"):
        ReceiptCodeRecognizer(["HS(\\d+"])


def test_parse_rejects_malformed() -> None:
    with pytest.raises(ValueError, match="not a valid receipt code"):
        ReceiptCode.parse("000.00.12.H58-251320-0001")


def test_variant_count() -> None:
    # The issue asks for at least 30 real-looking variants, valid and malformed.
    assert len(VALID) + len(MALFORMED) >= 30
