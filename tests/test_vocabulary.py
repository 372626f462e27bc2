"""The domain vocabulary file: loaded into typed data, checked with file:line problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalogue.files import Severity, read_catalogue
from bot.search import VocabularyError, check_vocabulary, load_vocabulary


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "_vocabulary.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_vocabulary_loads_and_checks_clean(project_root: Path) -> None:
    path = project_root / "procedures" / "_vocabulary.toml"
    catalogue, _problems = read_catalogue(project_root / "procedures")
    vocabulary = load_vocabulary(path)
    assert len(vocabulary.terms) > 100
    assert vocabulary.qualifiers["how"] and vocabulary.qualifiers["what"]
    assert vocabulary.decline["greeting"] and vocabulary.fillers and vocabulary.context
    # Warnings too: `bot catalogue check --strict` must pass on what the project ships.
    assert check_vocabulary(path, catalogue) == []


def test_terms_map_phrases_to_one_or_several_meanings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[terms]\n"sổ đỏ" = "giấy chứng nhận quyền sử dụng đất"\n'
        '"sang tên" = ["chuyển nhượng", "sang tên"]\n',
    )
    vocabulary = load_vocabulary(path)
    assert [(t.phrase, t.meanings, t.line) for t in vocabulary.terms] == [
        ("sổ đỏ", ("giấy chứng nhận quyền sử dụng đất",), 2),
        ("sang tên", ("chuyển nhượng", "sang tên"), 3),
    ]


def test_unknown_section_and_key_are_reported_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[terms]\ncccd = "thẻ căn cước"\n\n[synonyms]\na = "b"\n\n[fillers]\nwords = ["ạ"]\n',
    )
    problems = [str(p) for p in check_vocabulary(path)]
    assert f"{path}:4: unknown section 'synonyms' (known: [terms], [aliases], " in problems[0]
    assert any(p.startswith(f"{path}:8: unknown key 'words' in [fillers]") for p in problems)


def test_malformed_entries_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[terms]\n"
        'ok = "được"\n'
        "number = 3\n"
        "empty = []\n"
        '"!!!" = "dấu chấm than"\n'
        '"so do" = "a"\n'
        '"sổ đỏ" = "b"\n'
        "\n[decline]\n"
        'greeting = ["chào", 5]\n'
        'advice = ["nên (mua|chọn hay"]\n',
    )
    problems = check_vocabulary(path)
    messages = {(p.location.line, p.severity): p.message for p in problems}
    assert "must be a non-empty string or a list of them" in messages[(3, Severity.ERROR)]
    assert "must be a non-empty string or a list of them" in messages[(4, Severity.ERROR)]
    assert "no letters or digits" in messages[(5, Severity.ERROR)]
    assert "same words as 'so do'" in messages[(7, Severity.WARNING)]
    assert "must be a list of strings" in messages[(10, Severity.ERROR)]
    assert "advice: 'nên (mua|chọn hay' is malformed" in messages[(11, Severity.ERROR)]


def test_alias_codes_are_checked_against_the_catalogue(tmp_path: Path, project_root: Path) -> None:
    catalogue, _problems = read_catalogue(project_root / "procedures")
    path = write(
        tmp_path,
        "[aliases]\n"
        '"1.001193" = ["làm khai sinh"]\n'
        '"9.999999" = ["không có"]\n'
        '"khai sinh" = ["x"]\n',
    )
    problems = [str(p) for p in check_vocabulary(path, catalogue)]
    assert f"{path}:4: [aliases] 'khai sinh' is not a procedure code (e.g. 1.001193)" in problems
    assert (
        f"{path}:3: [aliases] names procedure 9.999999, which is not in the catalogue" in problems
    )
    assert not any(":2:" in p for p in problems)
    # Without a catalogue the codes cannot be checked, only their shape.
    assert len(check_vocabulary(path)) == 1


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[terms]\ncccd = "thẻ căn cước"\nbroken = \n')
    with pytest.raises(VocabularyError) as caught:
        load_vocabulary(path)
    assert str(caught.value).startswith(f"{path}:3: not valid TOML")


def test_load_stops_at_the_first_error_but_ignores_warnings(tmp_path: Path) -> None:
    warning_only = write(tmp_path, '[terms]\n"so do" = "a"\n"sổ đỏ" = "b"\n')
    assert len(load_vocabulary(warning_only).terms) == 2
    broken = write(tmp_path, "[terms]\nx = 1\n")
    with pytest.raises(VocabularyError, match=r":2: \[terms\] 'x' must be"):
        load_vocabulary(broken)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="cannot read vocabulary"):
        load_vocabulary(tmp_path / "absent.toml")
