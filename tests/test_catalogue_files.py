"""The catalogue file format: reading, checking with file:line problems, writing round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.catalogue.files import (
    CatalogueError,
    Severity,
    load_catalogue,
    procedure_to_toml,
    read_catalogue,
    read_procedure_file,
    write_catalogue,
)
from bot.catalogue.model import DocumentKind, Level, OnlineLevel, code_shape

EXAMPLE = Path(__file__).resolve().parent.parent / "procedures" / "ho-tich" / "1.001193.toml"

MINIMAL = """\
code = "{code}"
name = "Chứng thực bản sao từ bản chính"
field = "Chứng thực"
levels = ["Cấp xã"]

[time]
text = "Trong ngày"
working_days = 0.5

[[documents]]
name = "Bản chính giấy tờ"
quantity = "1 bản chính"
"""


def test_example_procedure_reads_fully() -> None:
    procedure, problems = read_procedure_file(EXAMPLE)
    assert problems == []
    assert procedure is not None
    assert procedure.code == "1.001193"
    assert procedure.levels == (Level.COMMUNE,)
    assert procedure.online is OnlineLevel.FULL
    assert len(procedure.documents) >= 5
    assert procedure.documents[-1].kind is DocumentKind.PRESENT
    assert procedure.time.working_days == 1
    assert [c.method for c in procedure.channels][:2] == ["Trực tiếp", "Trực tuyến"]
    assert procedure.fees[0].amount_vnd == 0
    assert any(ref.number == "60/2014/QH13" for ref in procedure.legal_basis)
    assert "làm giấy khai sinh" in procedure.aliases


def test_round_trip_write_then_read_is_identical(tmp_path: Path) -> None:
    procedure, _ = read_procedure_file(EXAMPLE)
    assert procedure is not None
    written = write_catalogue([procedure], tmp_path)
    assert written == [tmp_path / "ho-tich" / "1.001193.toml"]
    again, problems = read_procedure_file(written[0])
    assert problems == [] and again == procedure
    before = written[0].read_bytes()
    write_catalogue([procedure], tmp_path)
    assert written[0].read_bytes() == before == procedure_to_toml(procedure).encode()


def test_write_removes_files_no_longer_in_the_source(tmp_path: Path) -> None:
    procedure, _ = read_procedure_file(EXAMPLE)
    assert procedure is not None
    stale = tmp_path / "cu-tru" / "1.000000.toml"
    stale.parent.mkdir(parents=True)
    stale.write_text(MINIMAL.format(code="1.000000"), encoding="utf-8")
    write_catalogue([procedure], tmp_path)
    assert not stale.exists() and not stale.parent.exists()


def test_problems_carry_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "a-first.toml").write_text(MINIMAL.format(code="2.000815"), encoding="utf-8")
    (tmp_path / "a" / "b-dup.toml").write_text(
        "# comment\n" + MINIMAL.format(code="2.000815"), encoding="utf-8"
    )
    (tmp_path / "a" / "bad-code.toml").write_text(MINIMAL.format(code="2.815"), encoding="utf-8")
    (tmp_path / "a" / "broken.toml").write_text('code = "1.000001"\nname = \n', encoding="utf-8")
    (tmp_path / "a" / "noname.toml").write_text(
        MINIMAL.format(code="1.000002").replace('name = "Chứng thực bản sao từ bản chính"\n', ""),
        encoding="utf-8",
    )
    (tmp_path / "a" / "latin1.toml").write_bytes('name = "Hộ"\n'.encode("utf-16"))
    (tmp_path / "a" / "level.toml").write_text(
        MINIMAL.format(code="1.000003").replace('"Cấp xã"', '"Cấp thôn"'), encoding="utf-8"
    )
    (tmp_path / "_vocabulary.toml").write_text("not = a procedure\n", encoding="utf-8")
    catalogue, problems = read_catalogue(tmp_path)
    assert [p.code for p in catalogue] == ["2.000815"]
    text = {str(p) for p in problems}
    first = f"{tmp_path}/a/a-first.toml:1"
    assert f"{tmp_path}/a/b-dup.toml:2: duplicate code 2.000815 (first defined at {first})" in {
        t.removesuffix("; file skipped") for t in text
    }
    assert any(t.startswith(f"{tmp_path}/a/bad-code.toml:1: malformed code '2.815'") for t in text)
    assert any(t.startswith(f"{tmp_path}/a/broken.toml:2: not valid TOML") for t in text)
    assert f"{tmp_path}/a/noname.toml:1: missing required field 'name'" in text
    assert f"{tmp_path}/a/latin1.toml:1: not valid UTF-8 text" in text
    assert any(t.startswith(f"{tmp_path}/a/level.toml:4: 'levels' must be one of") for t in text)
    assert all(p.severity is Severity.ERROR for p in problems)


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(EXAMPLE, good / "ks.toml")
    assert main(["catalogue", "check", str(good)]) == 0
    assert "1 procedures checked: 0 errors" in capsys.readouterr().out
    (good / "x.toml").write_text(MINIMAL.format(code="1.001193"), encoding="utf-8")
    assert main(["catalogue", "check", str(good)]) == 1
    out = capsys.readouterr().out
    assert f"{good}/x.toml:1: duplicate code 1.001193" in out
    assert main(["catalogue", "check", str(tmp_path / "missing")]) == 1
    assert "catalogue folder not found" in capsys.readouterr().out


def test_local_codes_are_warnings_and_strict_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "l.toml").write_text(MINIMAL.format(code="CCCX_01"), encoding="utf-8")
    assert main(["catalogue", "check", str(tmp_path)]) == 0
    assert "warning: local code 'CCCX_01'" in capsys.readouterr().out
    assert main(["catalogue", "check", "--strict", str(tmp_path)]) == 1


def test_empty_catalogue_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path)


@pytest.mark.parametrize(
    ("code", "shape"),
    [
        ("1.001193", "national"),
        ("1.000028.000.00.00.H37", "suffixed"),
        ("CCCX_01", "local"),
        ("1.00011", "malformed"),
        ("", "malformed"),
    ],
)
def test_code_shapes(code: str, shape: str) -> None:
    assert code_shape(code) == shape
