"""Dated content in catalogue files: valid_from / valid_until read and written, and what
`bot catalogue check` says about expired, soon-ending and undated entries."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from test_shipped_catalogue import run_check

from bot.catalogue.files import read_catalogue, read_procedure_file, write_catalogue
from bot.catalogue.model import Validity, validity_on

HEADER = """code = "1.000001"
name = "Cấp đổi thẻ mẫu"
field = "Căn cước"
levels = ["Cấp xã"]
steps = ["Nộp hồ sơ", "Nhận kết quả"]

[time]
text = "7 ngày làm việc"
working_days = 7

[[documents]]
name = "Tờ khai"
quantity = "1 bản chính"
"""

FEES = """
[[fees]]
text = "Lệ phí: 25.000 đồng/thẻ (giảm 50%)"
amount_vnd = 25000
valid_from = 2025-07-01
valid_until = 2026-12-31

[[fees]]
text = "Lệ phí khi nộp trực tuyến: 20.000 đồng/thẻ"
valid_until = "31/12/2025"

[[fees]]
text = "Cước trả kết quả: theo bảng giá bưu chính đến hết 30/06/2026"

[[channels]]
method = "Trực tiếp"
time = "7 ngày làm việc"
fee = "Giảm 50% đến hết ngày 31/12/2026"
"""


def write(folder: Path, text: str, name: str = "1.000001.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


def test_validity_is_inclusive_of_the_last_day() -> None:
    start, end = dt.date(2025, 7, 1), dt.date(2026, 12, 31)
    assert validity_on(dt.date(2025, 6, 30), start, end) is Validity.UPCOMING
    assert validity_on(start, start, end) is Validity.CURRENT
    assert validity_on(end, start, end) is Validity.CURRENT
    assert validity_on(dt.date(2027, 1, 1), start, end) is Validity.EXPIRED
    assert validity_on(dt.date(2000, 1, 1), None, None) is Validity.CURRENT


def test_dates_are_read_as_toml_dates_or_as_staff_write_them(tmp_path: Path) -> None:
    procedure, problems = read_procedure_file(write(tmp_path, HEADER + FEES))
    assert procedure is not None and problems == []
    assert procedure.fees[0].valid_from == dt.date(2025, 7, 1)
    assert procedure.fees[0].valid_until == dt.date(2026, 12, 31)
    assert procedure.fees[1].valid_until == dt.date(2025, 12, 31)  # "31/12/2025"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('valid_until = "sắp hết"', "'fees.valid_until' must be a date such as 2025-12-31"),
        ('valid_until = "31/02/2026"', "'fees.valid_until' must be a date"),
        (
            "valid_from = 2027-01-01\nvalid_until = 2026-12-31",
            "'fees.valid_from' (2027-01-01) is after valid_until (2026-12-31)",
        ),
    ],
)
def test_a_wrong_date_names_the_key_and_the_line(tmp_path: Path, entry: str, message: str) -> None:
    text = HEADER + f'\n[[fees]]\ntext = "Lệ phí 10.000 đồng"\n{entry}\n'
    path = write(tmp_path, text)
    procedure, problems = read_procedure_file(path)
    assert procedure is None
    assert problems[0].message.startswith(message)
    assert problems[0].location.line == line_of(path, "[[fees]]")


def test_writing_keeps_dates_cases_and_form_addresses(tmp_path: Path) -> None:
    extra = """
[[documents]]
name = "Biên bản về việc trẻ bị bỏ rơi"
case = "Trẻ bị bỏ rơi"
form = "Mẫu 01"
form_url = "https://example.gov.vn/mau-01.docx"
valid_from = 2026-01-01
"""
    catalogue, problems = read_catalogue(write(tmp_path / "in", HEADER + extra + FEES).parent)
    assert problems == []
    write_catalogue(catalogue, tmp_path / "out")
    again, problems = read_catalogue(tmp_path / "out")
    assert problems == []
    assert again.procedures == catalogue.procedures
    written = next((tmp_path / "out").rglob("*.toml")).read_text(encoding="utf-8")
    assert "valid_until = 2026-12-31" in written
    assert 'case = "Trẻ bị bỏ rơi"' in written


def test_a_page_address_must_be_a_web_address(tmp_path: Path) -> None:
    text = HEADER.replace(
        'levels = ["Cấp xã"]', 'levels = ["Cấp xã"]\nsource_url = "javascript:x"'
    )
    procedure, problems = read_procedure_file(write(tmp_path, text))
    assert procedure is None
    assert "'source_url' must be a web address" in problems[0].message


def test_check_warns_about_expired_ending_and_undated_entries(tmp_path: Path) -> None:
    path = write(tmp_path / "catalogue", HEADER + FEES)
    result = run_check(path.parent, tmp_path, "--today", "2026-12-05")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    reduced = line_of(path, "25.000 đồng/thẻ")
    online = line_of(path, "20.000 đồng/thẻ")
    postal = line_of(path, "Cước trả kết quả")
    channel = line_of(path, "Giảm 50% đến hết")
    assert re.search(
        rf"^{path}:{reduced}: warning: fees 'Lệ phí: 25.000 đồng/thẻ \(giảm 50%\)' ends on "
        r"31/12/2026, in 26 days: add what applies from 01/01/2027",
        out,
        re.M,
    )
    assert f"{path}:{online}: warning: fees 'Lệ phí khi nộp trực tuyến" in out
    assert "expired on 31/12/2025 (valid_until): answers no longer show it" in out
    assert f"{path}:{postal}: warning: fees 'Cước trả kết quả" in out
    assert "speaks of a period that ended on 30/06/2026 but has no valid_until" in out
    assert f"{path}:{channel}: warning: channels 'Giảm 50% đến hết" in out
    assert "speaks of a period that ends on 31/12/2026, in 26 days, but has no valid_until" in out
    assert "1 procedures checked: 0 errors, 4 warnings" in out
    assert run_check(path.parent, tmp_path, "--today", "2026-12-05", "--strict").returncode == 1


def test_an_ending_entry_with_its_successor_needs_no_warning(tmp_path: Path) -> None:
    successor = """
[[fees]]
text = "Lệ phí: 25.000 đồng/thẻ (giảm 50%)"
amount_vnd = 25000
valid_until = 2026-12-31

[[fees]]
text = "Lệ phí: 50.000 đồng/thẻ"
amount_vnd = 50000
valid_from = 2027-01-01
"""
    path = write(tmp_path / "catalogue", HEADER + successor)
    soon = run_check(path.parent, tmp_path, "--today", "2026-12-05")
    assert "0 errors, 0 warnings" in soon.stdout, soon.stdout
    # Once the day has passed, the old entry is cruft to remove.
    late = run_check(path.parent, tmp_path, "--today", "2027-01-02")
    assert "expired on 31/12/2026" in late.stdout
    # Further ahead than --soon-days, nothing yet.
    early = run_check(path.parent, tmp_path, "--today", "2026-06-01", "--soon-days", "30")
    assert "0 errors, 0 warnings" in early.stdout


def test_a_wrong_today_is_refused_with_the_expected_form(tmp_path: Path) -> None:
    result = run_check(tmp_path, tmp_path, "--today", "31/12/2026")
    assert result.returncode == 2
    assert "'31/12/2026' is not a date such as 2027-01-01" in result.stderr
