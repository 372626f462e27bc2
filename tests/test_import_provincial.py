"""A provincial portal's procedure list, as XLSX or CSV: header search, skipped rows, codes."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from import_support import by_code

from bot.catalogue.files import read_catalogue, write_catalogue
from bot.catalogue.importers import ImportResult, SourceFormatError, import_source
from bot.catalogue.importers.codes import RepairedCode, repair_code
from bot.catalogue.model import Level, OnlineLevel, code_shape

PROVINCIAL_FILE = "langson-province-1842.xlsx"
REPAIRED_SHAPE = re.compile(r"^\d\.\d{6}$|^\d\.\d{6}(\.[0-9A-Z]{2,3})+$")


@pytest.fixture(scope="module")
def workbook(fixtures_dir: Path) -> ImportResult:
    return import_source(fixtures_dir / "import" / "provincial-sample.xlsx")


@pytest.fixture(scope="module")
def csv_list(fixtures_dir: Path) -> ImportResult:
    return import_source(fixtures_dir / "import" / "provincial-sample.csv")


# --- the team's XLSX --------------------------------------------------------------------


def test_workbook_codes_are_repaired_and_kept_in_sheet_order(workbook: ImportResult) -> None:
    assert [p.code for p in workbook.procedures] == [
        "CCCX_01",
        "1.000110",  # the number 1.00011: trailing zero restored
        "2.001944",  # the number 2.001944
        "1.000028.000.00.00.H37",
        "2.001157.000.00.00.H37",  # " 2.001157 .000.00.00.H37"
        "2.000908.000.00.00.H37",  # ".H": the district's mark, moved to the level
        "2.002516.000.00.00.H37",  # trailing dot
        "2.000027.000.00.00.H37",  # "2000027...": missing dot
        "3.000098.000.00.00.H37",  # lower-case "h37"
    ]


def test_workbook_skips_are_reported_with_row_and_reason(workbook: ImportResult) -> None:
    assert [(s.where, s.reason) for s in workbook.skipped] == [
        ("row 1", "title row before the header"),
        ("row 2", "title row before the header"),
        ("row 4", "title row before the header"),
        ("row 5", "title row before the header"),
        ("row 7", "test row"),
        ("row 8", "test row"),
        ("row 15", "duplicate code"),
        ("row 19", "malformed code"),
        ("row 20", "no name"),
        ("row 21", "no code"),
        ("row 22", "duplicate code"),
        ("row 25", "signature or note row after the data"),
        ("row 26", "signature or note row after the data"),
        ("row 27", "signature or note row after the data"),
    ]
    malformed = workbook.skipped[7]
    assert "1.01299.000.00.00.H37" in malformed.detail  # five digits: not guessed


def test_workbook_warnings_name_the_row_and_the_repair(workbook: ImportResult) -> None:
    warnings = "\n".join(workbook.warnings)
    assert "row 9: local code CCCX_01 is not a national code (kept)" in warnings
    assert "row 10: code 1.00011 read as 1.000110" in warnings
    assert "row 18: code '2000027.000.00.00.H37' read as 2.000027.000.00.00.H37" in warnings
    assert "row 23: unknown online service level 'Chưa xác định'" in warnings


def test_old_and_new_online_levels_are_mapped(workbook: ImportResult) -> None:
    online = {p.code: p.online for p in workbook.procedures}
    assert online["CCCX_01"] is OnlineLevel.OFFLINE  # Mức độ 2
    assert online["1.000110"] is OnlineLevel.PARTIAL  # Mức độ 3
    assert online["2.001944"] is OnlineLevel.FULL  # Mức độ 4
    assert online["2.000027.000.00.00.H37"] is OnlineLevel.OFFLINE  # Mức độ 1
    assert online["1.000028.000.00.00.H37"] is OnlineLevel.FULL  # Toàn trình
    assert online["2.001157.000.00.00.H37"] is OnlineLevel.PARTIAL  # Một phần
    assert online["3.000098.000.00.00.H37"] is OnlineLevel.UNKNOWN


def test_fields_and_decisions_are_trimmed(workbook: ImportResult) -> None:
    assert by_code(workbook, "1.000110").field == "Y tế"  # "  Y tế "
    assert by_code(workbook, "CCCX_01").decision == "101/QĐ-UBND"  # trailing space
    assert by_code(workbook, "2.001157.000.00.00.H37").decision == "2083/QĐ-UBND"
    shelter = by_code(workbook, "2.000027.000.00.00.H37")
    assert shelter.field == "Phòng, chống tệ nạn xã hội"  # "[SVH] - " prefix removed
    assert shelter.original == {"field": "[SVH] - Phòng, chống tệ nạn xã hội"}


def test_levels_come_from_the_name_the_level_mark_or_default_to_province(
    workbook: ImportResult,
) -> None:
    assert by_code(workbook, "1.000028.000.00.00.H37").levels == (Level.PROVINCE,)
    assert by_code(workbook, "2.002516.000.00.00.H37").levels == (Level.COMMUNE,)
    copies = by_code(workbook, "2.000908.000.00.00.H37")
    # The "(Cấp xã)" row with the same code added its level and wording to the first one.
    assert copies.levels == (Level.DISTRICT, Level.COMMUNE)
    assert copies.aliases == ("Cấp bản sao từ sổ gốc (Cấp xã)",)
    duplicate = workbook.skipped[6]
    assert "first at row 14" in duplicate.detail and "added" in duplicate.detail


def test_workbook_procedures_survive_write_and_read(
    workbook: ImportResult, tmp_path: Path
) -> None:
    write_catalogue(workbook.procedures, tmp_path)
    catalogue, problems = read_catalogue(tmp_path)
    assert [str(p) for p in problems if p.severity.value == "error"] == []
    assert [catalogue.get(p.code) for p in workbook.procedures] == list(workbook.procedures)


# --- the team's CSV ---------------------------------------------------------------------


def test_csv_list_is_read_like_the_workbook(csv_list: ImportResult) -> None:
    assert [p.code for p in csv_list.procedures] == [
        "1.000110",
        "2.000815",
        "1.000028.000.00.00.H37",
        "DLLS_01",
    ]
    assert [(s.where, s.reason) for s in csv_list.skipped] == [
        ("line 1", "title row before the header"),
        ("line 2", "title row before the header"),
        ("line 6", "test row"),
        ("line 9", "duplicate code"),
        ("line 11", "signature or note row after the data"),
    ]
    birth = by_code(csv_list, "1.000110")
    assert birth.name == "Đăng ký khai sinh, đăng ký nhận cha, mẹ, con (mẫu thử)"
    assert birth.decision == "1200/QĐ-UBND"
    assert by_code(csv_list, "2.000815").field == "Chứng thực"
    assert by_code(csv_list, "2.000815").online is OnlineLevel.OFFLINE
    assert by_code(csv_list, "1.000028.000.00.00.H37").online is OnlineLevel.FULL


def test_csv_with_semicolons_and_the_header_further_down(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text(
        "Danh sách;;\n;;\nGhi chú: bản trích;;\n"
        "Mã TTHC;Tên TTHC;Lĩnh vực\n"
        "1.001193;Đăng ký khai sinh;Hộ tịch\n"
        "2.00081;Chứng thực chữ ký;Chứng thực\n",
        encoding="utf-8",
    )
    result = import_source(source)
    assert [(p.code, p.field) for p in result.procedures] == [
        ("1.001193", "Hộ tịch"),
        ("2.000810", "Chứng thực"),
    ]
    assert [s.where for s in result.skipped] == ["line 1", "line 3"]


def test_csv_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    # Windows' Vietnamese code page (cp1258), as an old Excel would save the list.
    source.write_bytes(b"M\xe3 TTHC,T\xean TTHC\n1.001193,\xd0\xe3ng k\xfd khai sinh\n")
    with pytest.raises(SourceFormatError, match=r"list\.csv: not UTF-8 text"):
        import_source(source)


# --- broken workbooks -------------------------------------------------------------------


def test_workbook_without_a_header_row_is_a_clear_error(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH"])
    sheet.append(["1", "1.001193", "Đăng ký khai sinh"])
    source = tmp_path / "no-header.xlsx"
    book.save(source)
    with pytest.raises(SourceFormatError, match=r"no-header\.xlsx: no header row"):
        import_source(source)


def test_the_header_is_looked_for_in_every_sheet(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Ghi chú"])
    sheet = book.create_sheet("Thủ tục")
    sheet.append(["Mã TTHC", "Tên TTHC", "Lĩnh vực", "Cấp thực hiện"])
    sheet.append(["1.001193", "Đăng ký khai sinh", "Hộ tịch", "Cấp xã"])
    source = tmp_path / "two-sheets.xlsx"
    book.save(source)
    result = import_source(source)
    assert [(p.code, p.levels) for p in result.procedures] == [("1.001193", (Level.COMMUNE,))]
    assert result.locations["1.001193"].line == 2


def test_a_file_that_is_not_a_workbook_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "fake.xlsx"
    source.write_text("Mã TTHC,Tên TTHC\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"fake\.xlsx: not a readable \.xlsx workbook"):
        import_source(source)


# --- code repair ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (2.000815, "2.000815"),
        (1.00011, "1.000110"),
        ("1.00011", "1.000110"),
        (1.1, "1.100000"),
        ("1.000028.000.00.00.H37", "1.000028.000.00.00.H37"),
        ("1.007939.000.00,00,H37", "1.007939.000.00.00.H37"),
        ("2.000843..000.00.00.H37", "2.000843.000.00.00.H37"),
        ("1.010804000.00.00.H37", "1.010804.000.00.00.H37"),
        ("2.000227.00000.00.H37", "2.000227.000.00.00.H37"),
        ("1.000028.000.00.00.H37.AB", "1.000028.000.00.00.H37.AB"),
        ("CCCX_01", "CCCX_01"),
        ("'1.001193", "1.001193"),
        ("1.01299.000.00.00.H37", ""),  # a digit is missing: not guessed
        (12.5, ""),
        (1.0000001, ""),
        (None, ""),
        (True, ""),
        ("", ""),
    ],
)
def test_repair_code(value: object, code: str) -> None:
    assert repair_code(value).code == code


def test_repair_code_says_what_it_changed() -> None:
    assert repair_code("1.001193") == RepairedCode("1.001193")
    assert repair_code("2.000908.000.00.00.H37.X") == RepairedCode(
        "2.000908.000.00.00.H37", ("level mark '.X' moved out of the code",), "X"
    )
    assert repair_code(1.00011).changes == (
        "stored as the number 1.00011, trailing zeros restored",
    )


# --- the real export (../shared) --------------------------------------------------------


@pytest.fixture(scope="module")
def provincial(shared_dir: Path) -> ImportResult:
    return import_source(shared_dir / "catalogues" / PROVINCIAL_FILE)


@pytest.mark.shared
def test_shared_provincial_codes_are_all_clean(provincial: ImportResult) -> None:
    shapes = {code_shape(p.code) for p in provincial.procedures}
    assert shapes <= {"national", "suffixed", "local"}
    repaired = [p.code for p in provincial.procedures if code_shape(p.code) != "local"]
    assert all(REPAIRED_SHAPE.match(code) for code in repaired)
    # The two codes that Excel stored as numbers.
    assert {"2.001944", "1.001881"} <= {p.code for p in provincial.procedures}
    assert len({p.code for p in provincial.procedures}) == len(provincial.procedures)


@pytest.mark.shared
def test_shared_provincial_rows_are_all_accounted_for(provincial: ImportResult) -> None:
    reasons: dict[str, int] = {}
    for skipped in provincial.skipped:
        reasons[skipped.reason] = reasons.get(skipped.reason, 0) + 1
    assert reasons.get("test row") == 2
    assert reasons.get("title row before the header") == 3
    assert reasons.get("signature or note row after the data") == 1
    data_rows = len(provincial.procedures) + sum(
        n
        for reason, n in reasons.items()
        if reason not in {"title row before the header", "signature or note row after the data"}
    )
    assert data_rows == 1842
    # 1,842 rows hold about 1,750 distinct codes: the same national procedure is listed once
    # per level or department. Those rows are merged into the first (see the report), so
    # the ">= 1,800" cannot be met with one procedure per code.
    assert len(provincial.procedures) >= 1750


@pytest.mark.shared
def test_shared_provincial_levels_and_online_levels(provincial: ImportResult) -> None:
    online = {p.online for p in provincial.procedures}
    assert online == {OnlineLevel.FULL, OnlineLevel.PARTIAL, OnlineLevel.OFFLINE}
    communes = [p for p in provincial.procedures if Level.COMMUNE in p.levels]
    assert communes  # "(Cấp xã)" names and ".X" marks
    assert all(p.field == p.field.strip() and p.field for p in provincial.procedures)
