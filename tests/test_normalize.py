"""Vietnamese text normalisation: the forms phones send all become the same tokens."""

from __future__ import annotations

import unicodedata

import pytest

from bot.search.normalize import (
    canonical_syllable,
    canonical_text,
    clauses,
    fold,
    sound_alike,
    telex_repairs,
    tokens,
    words,
)


def test_nfc_and_nfd_give_the_same_tokens() -> None:
    text = "Đăng ký khai sinh cho con"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert tokens(nfd) == tokens(text) == ["dang", "ky", "khai", "sinh", "cho", "con"]
    assert words(nfd) == words(text)


@pytest.mark.parametrize(
    ("old_style", "new_style"),
    [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"), ("Hòa giải", "Hoà giải")],
)
def test_both_tone_mark_placements_are_one_spelling(old_style: str, new_style: str) -> None:
    assert canonical_text(old_style) == canonical_text(new_style)


def test_tone_mark_rules_keep_real_words_intact() -> None:
    assert canonical_syllable("HOÀNG") == "hoàng"  # closed syllable: tone on the last vowel
    assert canonical_syllable("quý") == "quý"  # "qu" is a consonant
    assert canonical_syllable("người") == "người"  # marked vowel carries the tone
    assert canonical_syllable("ngoài") == "ngoài"


def test_case_and_diacritics_fold_with_d_bar() -> None:
    assert fold("ĐĂNG KÝ Đất Đai") == "dang ky dat dai"
    assert tokens("SỔ ĐỎ") == tokens("so do") == ["so", "do"]


def test_final_i_and_y_are_one_spelling() -> None:
    assert tokens("đăng kí lí lịch") == tokens("đăng ký lý lịch")
    assert words("lí lịch")[0] == ("ly", "lý")


def test_accents_are_kept_only_when_the_citizen_typed_some() -> None:
    assert words("làm thẻ") == [("lam", "làm"), ("the", "thẻ")]
    assert words("lam the") == [("lam", ""), ("the", "")]
    # Staff-written text keeps its spelling even where a word has no marks.
    assert words("do", written=True) == [("do", "do")]


def test_punctuation_starts_a_new_clause() -> None:
    found, starts = clauses("bố em mới mất, làm giấy khai tử cần gì?")
    assert [f for f, _ in found][3:5] == ["mat", "lam"]
    assert starts == frozenset({4})
    # Inside numbers and codes, or between words joined by a hyphen or slash, it does not.
    assert clauses("phí 1.000.000 đồng, tháng/quý")[1] == frozenset({3})
    assert clauses("xe 51G-123.45 bị phạt")[1] == frozenset()
    assert clauses("đăng ký kết hôn")[1] == frozenset()


def test_numbers_are_split_from_units() -> None:
    assert tokens("lên thổ cư 100m2") == ["len", "tho", "cu", "100", "m2"]
    assert tokens("100 m²") == ["100", "m2"]
    assert tokens("2tuần") == ["2", "tuan"]
    assert tokens("1.000.000đ") == ["1.000.000", "d"]
    # Letters followed by digits are names, not a number and a unit.
    assert tokens("KT3 mẫu CT07 bằng A1") == ["kt3", "mau", "ct07", "bang", "a1"]


def test_stretched_letters_and_telex_doubles_collapse() -> None:
    assert tokens("ở đâuuu") == ["o", "dau"]
    assert tokens("ddang kys") == ["dang", "kys"]  # the tone key is handled by telex_repairs
    assert tokens("lltp cccd tthc") == ["lltp", "cccd", "tthc"]  # abbreviations keep theirs


def test_the_rhyme_uu_is_not_a_stretched_word() -> None:
    # "ưu" folds to "uu": lưu, hưu, cứu, hữu keep it, with their marks.
    assert words("lưu trú, nghỉ hưu") == [
        ("luu", "lưu"),
        ("tru", "trú"),
        ("nghi", "nghỉ"),
        ("huu", "hưu"),
    ]
    assert tokens("luu tru nghien cuu uu tien") == ["luu", "tru", "nghien", "cuu", "uu", "tien"]
    assert tokens("đâuuu luuu dauu") == ["dau", "luu", "dau"]


def test_telex_leftovers_are_repaired() -> None:
    assert telex_repairs("kys")[0] == "ky"
    assert "duong" in telex_repairs("dduowngf")
    assert telex_repairs("sinhf") == ["sinh"]
    assert telex_repairs("khai") == []


def test_sound_alike_spellings() -> None:
    assert "tru" in sound_alike("chu")  # tạm chú / tạm trú
    assert "xinh" in sound_alike("sinh")
    assert "chu" not in sound_alike("chu")


def test_emoji_html_and_other_scripts_are_dropped() -> None:
    assert tokens("😀👍 <b>khai sinh</b> 漢字") == ["b", "khai", "sinh", "b"]
    assert tokens("") == []
    assert tokens("!!! ??? ...") == []
