"""`bot catalogue import PROVINCE --details NATIONAL --into DIR`: a province's list completed
with the national catalogue's details, joined by base code."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from import_support import by_code

from bot import texts
from bot.__main__ import main
from bot.catalogue.check import check_catalogue
from bot.catalogue.files import Severity, read_catalogue
from bot.catalogue.importers import import_source
from bot.catalogue.importers.details import LOCAL_CODE, NOT_IN_NATIONAL, add_national_details
from bot.catalogue.model import Level, OnlineLevel
from bot.commands.catalogue import NOT_ENRICHED_LIST, run_import
from bot.config import CenterConfig
from bot.dialogue.actions import Part
from bot.dialogue.procedure_answers import procedure_answer

PROVINCE_LIST = """\ufeffUBND TỈNH MẪU THỬ,,,,,
DANH SÁCH THỦ TỤC HÀNH CHÍNH,,,,,
STT,Mã thủ tục,Tên thủ tục,Lĩnh vực,Mức độ,Số quyết định
1,1.001193.000.00.00.H37,Đăng ký khai sinh,Hộ tịch,Toàn trình,1200/QĐ-UBND
2,1.004567.000.00.00.H37,Đăng ký biến động đất đai (Cấp xã),Đất đai,Một phần,
3,2.001234.000.00.00.H37,Cấp giấy phép lữ hành nội địa,Du lịch,Mức độ 2,
4,DLLS_01,Công nhận điểm du lịch (mẫu thử),Du lịch,Mức độ 1,
5,9.999999.000.00.00.H37,Thủ tục chỉ tỉnh có (mẫu thử),Khác,Toàn trình,
"""
CENTER = CenterConfig(hotline="0205 3812 345")
TODAY = dt.date(2026, 12, 5)


@pytest.fixture
def province_file(tmp_path: Path) -> Path:
    path = tmp_path / "province.csv"
    path.write_text(PROVINCE_LIST, encoding="utf-8")
    return path


@pytest.fixture
def national_file(fixtures_dir: Path) -> Path:
    return fixtures_dir / "import" / "national-sample.jsonl"


def run(source: Path, into: Path, details: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_import(source, into, out, err, details=details)
    return status, out.getvalue(), err.getvalue()


def test_details_are_joined_by_base_code(province_file: Path, national_file: Path) -> None:
    enrichment = add_national_details(import_source(province_file), import_source(national_file))
    assert sorted(enrichment.enriched) == [
        "1.001193.000.00.00.H37",
        "1.004567.000.00.00.H37",
        "2.001234.000.00.00.H37",
    ]
    assert {(m.code, m.reason) for m in enrichment.not_enriched} == {
        ("DLLS_01", LOCAL_CODE),
        ("9.999999.000.00.00.H37", NOT_IN_NATIONAL),
    }
    result = enrichment.result
    birth = by_code(result, "1.001193.000.00.00.H37")
    # The province's own: code, name, field, online level, decision.
    assert (birth.name, birth.field, birth.online) == (
        "Đăng ký khai sinh",
        "Hộ tịch",
        OnlineLevel.FULL,
    )
    assert birth.decision == "1200/QĐ-UBND"
    # The national record's: documents, time, fees, steps, legal basis, page.
    assert any("Giấy chứng sinh" in d.name for d in birth.documents)
    assert birth.channels and birth.steps and birth.legal_basis
    assert birth.source_url == "https://dichvucong.gov.vn/thu-tuc/1.001193"
    assert "Thủ tục đăng ký khai sinh" in birth.aliases  # the portal's wording, searchable
    # The list did not say a level; the national record does (commune).
    assert birth.levels == (Level.COMMUNE,)
    # "(Cấp xã)" in the province's name is the province's word: kept.
    land = by_code(result, "1.004567.000.00.00.H37")
    assert land.levels == (Level.COMMUNE,)
    assert {d.case for d in land.documents if d.case} == {
        "Chuyển nhượng",
        "Cấp đổi giấy chứng nhận",
    }
    # Nationally "Cấp bộ, Cấp tỉnh": the province's default stays, never the ministry.
    travel = by_code(result, "2.001234.000.00.00.H37")
    assert travel.levels == (Level.PROVINCE,)
    alone = by_code(result, "9.999999.000.00.00.H37")
    assert not alone.documents and not alone.channels and not alone.source_url


def test_import_with_details_writes_a_checked_catalogue_and_lists_the_rest(
    province_file: Path, national_file: Path, tmp_path: Path
) -> None:
    into = tmp_path / "catalogue"
    status, out, _err = run(province_file, into, national_file)
    assert status == 0, out
    assert "Imported 5 procedures from province.csv" in out
    assert (
        "National details from national-sample.jsonl: 3 of 5 procedures enriched "
        "(joined by base code)" in out
    )
    assert f"Not enriched: 2 (names only; answers give the hotline), all listed in {into}" in out
    assert f"1 x {NOT_IN_NATIONAL}" in out and f"1 x {LOCAL_CODE}" in out
    listing = (into / NOT_ENRICHED_LIST).read_text(encoding="utf-8").splitlines()
    assert listing[0] == "code\tname\treason"
    assert sorted(line.split("\t")[0] for line in listing[1:]) == [
        "9.999999.000.00.00.H37",
        "DLLS_01",
    ]
    catalogue, problems = check_catalogue(into, TODAY)
    assert [str(p) for p in problems if p.severity is Severity.ERROR] == []
    name_only = [p for p in problems if "name only" in p.message]
    assert len(name_only) == 2
    assert len(catalogue) == 5
    # Re-importing the same pair changes nothing.
    status, out, _err = run(province_file, into, national_file)
    assert status == 0 and "0 new, 0 changed, 5 unchanged, 0 removed" in out


def test_the_bot_answers_from_the_details_and_says_where_to_ask_for_the_rest(
    province_file: Path, national_file: Path, tmp_path: Path
) -> None:
    into = tmp_path / "catalogue"
    assert run(province_file, into, national_file)[0] == 0
    catalogue, _problems = read_catalogue(into)
    birth = catalogue.get("1.001193.000.00.00.H37")
    assert birth is not None
    documents = procedure_answer(birth, Part.DOCUMENTS, CENTER, today=TODAY)
    assert "Giấy chứng sinh" in documents.plain_text()
    assert "Nộp tại UBND cấp xã" in documents.sections[0].lines[0]
    assert any(b.url == birth.source_url for b in documents.all_buttons)
    assert "Miễn phí" in procedure_answer(birth, Part.FEE, CENTER, today=TODAY).plain_text()
    alone = catalogue.get("9.999999.000.00.00.H37")
    assert alone is not None
    overview = procedure_answer(alone, Part.GENERAL, CENTER, today=TODAY).plain_text()
    assert alone.name in overview
    assert texts.GAP_NAME_ONLY.format(hotline=CENTER.hotline, url=CENTER.online_portal) in overview


def test_details_must_be_the_national_export(province_file: Path, tmp_path: Path) -> None:
    status, _out, err = run(province_file, tmp_path / "c", province_file)
    assert status == 1
    assert "--details takes the national portal's export (.jsonl, .json)" in err
    assert not (tmp_path / "c").exists()


def test_the_command_line_takes_details(
    province_file: Path, national_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    into = tmp_path / "catalogue"
    argv = ["catalogue", "import", str(province_file), "--details", str(national_file)]
    assert main([*argv, "--into", str(into)]) == 0
    assert "3 of 5 procedures enriched" in capsys.readouterr().out
    assert 'details = "national-sample.jsonl"' in (into / "_import.toml").read_text()


@pytest.mark.shared
def test_the_shared_province_list_with_national_details(shared_dir: Path, tmp_path: Path) -> None:
    """Lạng Sơn's 1,842-row list and the 7-ministry national file share 483 base codes:
    those procedures answer documents, fee and time; the others say where to ask."""
    into = tmp_path / "langson"
    status, out, err = run(
        shared_dir / "catalogues" / "langson-province-1842.xlsx",
        into,
        shared_dir / "catalogues" / "dvcqg-7-ministries-2642.jsonl",
    )
    assert status == 0, err
    assert "483 of 1752 procedures enriched" in out
    catalogue, problems = check_catalogue(into, TODAY)
    assert [str(p) for p in problems if p.severity is Severity.ERROR] == []
    listed = (into / NOT_ENRICHED_LIST).read_text(encoding="utf-8").splitlines()
    assert len(listed) == 1 + 1752 - 483
    enriched = [p for p in catalogue if p.source_url]
    assert len(enriched) == 483
    gaps: dict[Part, list[str]] = {Part.DOCUMENTS: [], Part.TIME: [], Part.FEE: []}
    for procedure in enriched:
        for part, gap in (
            (Part.DOCUMENTS, texts.GAP_DOCUMENTS),
            (Part.TIME, texts.GAP_TIME),
            (Part.FEE, texts.GAP_FEE),
        ):
            text = procedure_answer(procedure, part, CENTER, today=TODAY).plain_text()
            if gap.format(hotline=CENTER.hotline, url=procedure.source_url) in text:
                gaps[part].append(procedure.code)
    # Every enriched procedure lists its documents; time and fee are missing only where
    # the national record itself has none (then the answer says where to ask).
    assert gaps[Part.DOCUMENTS] == []
    enriched_by_code = {p.code: p for p in enriched}
    for code in gaps[Part.TIME]:
        timeless = enriched_by_code[code]
        assert not timeless.time.text and not any(c.time.text for c in timeless.channels)
    for code in gaps[Part.FEE]:
        feeless = enriched_by_code[code]
        stated = [f.text for f in feeless.fees] + [c.fee for c in feeless.channels]
        assert not any(re.search(r"\d", text) for text in stated), code
    # 26 times and 47 fees of 483 procedures when this was written.
    assert len(gaps[Part.TIME]) + len(gaps[Part.FEE]) < 0.1 * 2 * len(enriched)
    # A citizen's procedure is never said to be a ministry's.
    subtitles = [
        procedure_answer(p, Part.GENERAL, CENTER, today=TODAY).sections[0].lines[0]
        for p in catalogue
    ]
    assert not [line for line in subtitles if "Cấp bộ" in line]
