"""The catalogue the bot ships in procedures/: complete, checkable, faithful to the portal.

The files are written by hand from the national portal's facts, so these tests guard what a
hand edit can break: a missing fee or time, a topic that silently disappeared, a code or a
level that no longer matches the national catalogue, a file in the wrong folder.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalogue.dated import dated_problems, entries
from bot.catalogue.files import Severity, procedure_relative_path, read_catalogue
from bot.catalogue.model import Catalogue, Procedure
from bot.catalogue.slug import fold_diacritics
from bot.config import CenterConfig
from bot.dialogue.actions import Part
from bot.dialogue.procedure_answers import procedure_answer

PROCEDURES = Path(__file__).resolve().parent.parent / "procedures"
NATIONAL_FILE = "catalogues/dvcqg-7-ministries-2642.jsonl"
TODAY = dt.date(2026, 12, 5)

# The topics issue 2 asks for, each proven by a code (one specific procedure) or by a
# field (a family of procedures). A code is used where the issue names one procedure.
REQUIRED_CODES = {
    "đăng ký khai sinh": "1.001193",
    "khai sinh có yếu tố nước ngoài": "2.000528",
    "đăng ký kết hôn": "1.000894",
    "đăng ký khai tử": "1.000656",
    "cấp bản sao trích lục hộ tịch": "2.000635",
    "xác nhận tình trạng hôn nhân": "1.004873",
    "thay đổi, cải chính hộ tịch": "1.004859",
    "nhận cha, mẹ, con": "1.001022",
    "đăng ký giám hộ": "1.004837",
    "đăng ký thường trú": "1.004222",
    "đăng ký tạm trú": "1.004194",
    "cấp thẻ căn cước": "1.014061",
    "cấp đổi thẻ căn cước": "1.014063",
    "cấp lại thẻ căn cước": "1.014064",
    "chứng thực bản sao từ bản chính": "2.000815",
    "chứng thực chữ ký": "2.000884",
    "chứng thực hợp đồng, giao dịch": "2.001035",
    "cấp giấy chứng nhận đất lần đầu": "1.013978",
    "chuyển nhượng, sang tên đất": "1.013831",
    "cấp lại giấy chứng nhận đất": "1.012786",
    "cấp đổi giấy chứng nhận đất": "1.012783",
    "tách thửa, hợp thửa": "1.012784",
    "chuyển mục đích sử dụng đất": "1.013949",
    "giấy phép xây dựng nhà ở riêng lẻ": "1.013225",
    "đăng ký thành lập hộ kinh doanh": "1.001612",
    "cấp phiếu lý lịch tư pháp": "3.000333",
    "đổi giấy phép lái xe": "3.000347",
    "đăng ký xe lần đầu": "1.013067",
    "sang tên xe": "1.013076",
    "cấp hộ chiếu trong nước": "1.001456",
    "cấp lại, đổi thẻ bảo hiểm y tế": "1.002759",
    "hưởng bảo hiểm xã hội một lần": "1.001613",
    "nuôi con nuôi trong nước": "2.001263",
}
REQUIRED_FIELDS = {
    "Hộ tịch": 15,
    "Cư trú": 6,
    "Căn cước": 4,
    "Chứng thực": 5,
    "Đất đai": 8,
    "Xây dựng": 3,
    "Hộ kinh doanh": 4,
    "Lý lịch tư pháp": 1,
    "Giấy phép lái xe": 2,
    "Đăng ký xe": 3,
    "Xuất nhập cảnh": 1,
    "Bảo hiểm xã hội": 2,
    "Bảo hiểm y tế": 1,
    "Thuế": 1,
}


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    catalogue, problems = read_catalogue(PROCEDURES)
    assert [str(p) for p in problems] == []
    return catalogue


def each(catalogue: Catalogue) -> Iterator[tuple[str, Procedure]]:
    """Each procedure with the file it came from."""
    for procedure in catalogue:
        yield catalogue.locations[procedure.code].path, procedure


def test_at_least_80_procedures_load_without_problems(shipped: Catalogue) -> None:
    assert len(shipped) >= 80


def test_every_procedure_answers_the_citizens_basic_questions(shipped: Catalogue) -> None:
    gaps: list[str] = []
    for where, p in each(shipped):
        checks = {
            "field": bool(p.field),
            "levels": bool(p.levels),
            "documents": any(d.name for d in p.documents),
            "processing time": bool(p.time.text) or any(c.time.text for c in p.channels),
            "fee statement": bool(p.fee_summary),
            "alias": bool(p.aliases),
            "where to submit": bool(p.where),
            "steps": 3 <= len(p.steps) <= 6,
            "legal basis": bool(p.legal_basis),
            "source url": p.source_url.startswith("https://dichvucong.gov.vn/"),
        }
        gaps.extend(f"{where}: no {what}" for what, ok in checks.items() if not ok)
    assert gaps == []


def test_numbers_agree_with_their_text(shipped: Catalogue) -> None:
    """A stated working-day figure must appear in the text next to it; a fee amount must
    appear in its fee text (0 only for free ones), so the two never drift apart."""
    drift: list[str] = []
    for where, p in each(shipped):
        days = p.time.working_days
        if days is not None and str(int(days)) not in p.time.text:
            drift.append(f"{where}: working_days {days} not in {p.time.text!r}")
        for fee in p.fees:
            if fee.amount_vnd is None:
                continue
            if fee.amount_vnd == 0:
                if not re.search(r"miễn|không có phí|không thu", fee.text, re.IGNORECASE):
                    drift.append(f"{where}: amount 0 but fee text {fee.text!r}")
            elif f"{fee.amount_vnd:,}".replace(",", ".") not in fee.text:
                drift.append(f"{where}: amount {fee.amount_vnd} not in {fee.text!r}")
    assert drift == []


def test_files_live_at_field_slug_and_code(shipped: Catalogue) -> None:
    misplaced = [
        f"{where} should be {procedure_relative_path(p)}"
        for where, p in each(shipped)
        if Path(where).relative_to(PROCEDURES) != procedure_relative_path(p)
    ]
    assert misplaced == []


def test_aliases_are_distinct_between_procedures(shipped: Catalogue) -> None:
    """An everyday phrase that names two procedures would make the matcher guess."""
    owner: dict[str, str] = {}
    clashes: list[str] = []
    for procedure in shipped:
        for alias in procedure.aliases:
            key = fold_diacritics(alias).lower()
            if key in owner and owner[key] != procedure.code:
                clashes.append(f"{alias!r}: {owner[key]} and {procedure.code}")
            owner.setdefault(key, procedure.code)
    assert clashes == []


@pytest.mark.parametrize("topic", sorted(REQUIRED_CODES))
def test_required_topic_is_present(shipped: Catalogue, topic: str) -> None:
    assert shipped.get(REQUIRED_CODES[topic]) is not None, topic


@pytest.mark.parametrize("field", sorted(REQUIRED_FIELDS))
def test_required_field_is_covered(shipped: Catalogue, field: str) -> None:
    count = sum(1 for p in shipped if p.field == field)
    assert count >= REQUIRED_FIELDS[field], f"{field}: {count} procedures"


@pytest.mark.shared
def test_codes_levels_and_sources_match_the_national_portal(
    shipped: Catalogue, shared_dir: Path
) -> None:
    national: dict[str, dict[str, str]] = {}
    with (shared_dir / NATIONAL_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            national[row["ma_thu_tuc"]] = row
    mismatches: list[str] = []
    for where, p in each(shipped):
        row = national.get(p.code)
        if row is None:
            mismatches.append(f"{where}: code {p.code} not in the national file")
            continue
        portal_levels = {level.strip() for level in row["cap_thuc_hien"].split(",")}
        ours = {level.value for level in p.levels}
        if not ours <= portal_levels:
            mismatches.append(f"{where}: levels {sorted(ours)} not in {sorted(portal_levels)}")
        if p.source_url != row["detail_url"]:
            mismatches.append(f"{where}: source_url is not the portal's page for {p.code}")
        if p.decision != row["so_quyet_dinh"]:
            mismatches.append(f"{where}: decision {p.decision} != {row['so_quyet_dinh']}")
    assert mismatches == []


def run_check(path: Path, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # Run the real command in a fresh interpreter, from a directory without config.toml,
    # so that exit status and output are exactly what staff would see.
    return subprocess.run(
        [sys.executable, "-m", "bot", "catalogue", "check", str(path), *options],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_check_command_passes_on_the_shipped_catalogue(tmp_path: Path) -> None:
    # A fixed day, so that the test does not start failing when a shipped fee ends: that
    # is what the dated tests below and staff's own `bot catalogue check` are for.
    result = run_check(PROCEDURES, tmp_path, "--today", "2026-12-05")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\d+ procedures checked: 0 errors, 0 warnings$", result.stdout, re.M)


def test_check_command_reports_broken_copies_with_file_and_line(tmp_path: Path) -> None:
    source = PROCEDURES / "ho-tich" / "1.000894.toml"
    text = source.read_text(encoding="utf-8")
    folder = tmp_path / "broken"
    (folder / "ho-tich").mkdir(parents=True)
    shutil.copy(source, folder / "ho-tich" / "1.000894.toml")

    lines = text.splitlines(keepends=True)
    name_line = next(i for i, line in enumerate(lines) if line.startswith("name = "))
    # Bad TOML: an unterminated string on the name line (1-based line name_line + 1).
    bad = [*lines]
    bad[name_line] = 'name = "Đăng ký kết hôn\n'
    (folder / "bad-toml.toml").write_text("".join(bad), encoding="utf-8")
    no_name = [line for i, line in enumerate(lines) if i != name_line]
    (folder / "no-name.toml").write_text("".join(no_name), encoding="utf-8")
    # Sorted after the original, so the copy is the one reported and skipped.
    (folder / "ho-tich" / "copy.toml").write_text(text, encoding="utf-8")
    malformed = text.replace('code = "1.000894"', 'code = "1.0894"', 1)
    (folder / "malformed.toml").write_text(malformed, encoding="utf-8")

    result = run_check(folder, tmp_path)
    assert result.returncode == 1
    out = result.stdout
    code_line = next(i for i, line in enumerate(lines) if line.startswith("code = ")) + 1
    assert re.search(rf"^{folder}/bad-toml.toml:{name_line + 1}: not valid TOML", out, re.M)
    assert f"{folder}/no-name.toml:1: missing required field 'name'" in out
    assert f"{folder}/ho-tich/copy.toml:{code_line}: duplicate code 1.000894" in out
    assert f"{folder}/malformed.toml:{code_line}: malformed code '1.0894'" in out
    assert re.search(r"^1 procedures checked: 4 errors, 0 warnings$", out, re.M)
    # Every problem line has the file:line: message shape staff can click on.
    problem_lines = [line for line in out.splitlines() if "procedures checked" not in line]
    assert len(problem_lines) == 4
    assert all(re.match(r"^/\S+\.toml:\d+: \S", line) for line in problem_lines)


def test_broken_copy_problems_are_errors_not_warnings(tmp_path: Path) -> None:
    text = (PROCEDURES / "cu-tru" / "1.004222.toml").read_text(encoding="utf-8")
    (tmp_path / "a.toml").write_text(text.replace('name = "', 'nam = "', 1), encoding="utf-8")
    _, problems = read_catalogue(tmp_path)
    severities = {p.message: p.severity for p in problems}
    assert severities["missing required field 'name'"] is Severity.ERROR
    assert severities["unknown key 'nam'"] is Severity.WARNING


# --- dated content: nothing expired is ever given as current ------------------------------


def valid_untils(catalogue: Catalogue) -> list[dt.date]:
    return sorted({e.valid_until for p in catalogue for e in entries(p) if e.valid_until})


def test_the_shipped_catalogue_dates_its_temporary_fees(shipped: Catalogue) -> None:
    """The 50% reductions of Thông tư 64/2025/TT-BTC end on 31/12/2026; the full fee that
    follows is in the catalogue already, from 01/01/2027."""
    assert dt.date(2026, 12, 31) in valid_untils(shipped)
    for code in ("1.014063", "1.014064", "2.001583"):
        procedure = shipped.get(code)
        assert procedure is not None
        starts = {fee.valid_from for fee in procedure.fees}
        assert dt.date(2027, 1, 1) in starts, code


def test_no_entry_is_shown_after_its_last_day(shipped: Catalogue) -> None:
    """With the clock set to the day after each valid_until, no answer shows the entry."""
    shown_late: list[str] = []
    for day in valid_untils(shipped):
        after = day + dt.timedelta(days=1)
        for procedure in shipped:
            ended = [e for e in entries(procedure) if e.valid_until == day]
            if not ended:
                continue
            text = "\n".join(
                procedure_answer(procedure, part, CenterConfig(), today=after).plain_text()
                for part in Part
            )
            shown_late.extend(
                f"{procedure.code} on {after}: {e.label}"
                for e in ended
                if e.label and e.label in text
            )
    assert shown_late == []


@pytest.mark.parametrize(
    ("code", "gone"),
    [
        ("3.000346", "115.000"),
        ("3.000347", "115.000"),
        ("3.000348", "115.000"),
        ("3.000353", "115.000"),
        ("1.001456", "160.000"),
        ("1.001456", "31/12/2023"),
    ],
)
def test_reductions_that_ended_before_today_are_gone(
    shipped: Catalogue, code: str, gone: str
) -> None:
    """The driving licence's online fee (until 31/12/2025) and the passport's (until
    31/12/2023) were given as current."""
    procedure = shipped.get(code)
    assert procedure is not None
    for part in Part:
        assert (
            gone not in procedure_answer(procedure, part, CenterConfig(), today=TODAY).plain_text()
        )


@pytest.mark.parametrize("day", [TODAY, dt.date(2027, 1, 1), dt.date(2027, 7, 1)])
def test_no_undated_text_speaks_of_a_period_already_over(shipped: Catalogue, day: dt.date) -> None:
    """What `bot catalogue check` finds in a text that says "đến hết <day>" without a
    valid_until: on these days, nothing in the shipped catalogue."""
    undated = [
        str(p) for p in dated_problems(shipped, day, soon_days=0) if "speaks of a period" in str(p)
    ]
    assert undated == []


def test_no_answer_calls_a_citizens_procedure_a_ministrys(shipped: Catalogue) -> None:
    said = {
        procedure.code: procedure_answer(procedure, Part.GENERAL, CenterConfig(), today=TODAY)
        .sections[0]
        .lines[0]
        for procedure in shipped
    }
    assert [code for code, line in said.items() if "Cấp bộ" in line or "trung ương" in line] == []
    assert "Công an tỉnh" in said["3.000347"]  # đổi giấy phép lái xe
