"""The national portal's JSONL export: recovering tables that lost their cell separators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_support import by_code

from bot.catalogue.files import read_catalogue, write_catalogue
from bot.catalogue.importers import (
    ImportResult,
    SourceFormatError,
    SourceUnreadable,
    import_source,
    load_catalogue_source,
)
from bot.catalogue.importers.portal_tables import (
    DOCUMENTS_HEADER,
    parse_channels,
    parse_documents,
    parse_legal_basis,
    parse_result,
    parse_steps,
)
from bot.catalogue.model import (
    Document,
    DocumentKind,
    LegalReference,
    Level,
    ProcessingTime,
    SubmissionChannel,
)

NATIONAL_FILE = "dvcqg-7-ministries-2642.jsonl"


@pytest.fixture(scope="module")
def sample(fixtures_dir: Path) -> ImportResult:
    return import_source(fixtures_dir / "import" / "national-sample.jsonl")


# --- the team's fixture ---------------------------------------------------------------


def test_fixture_imports_the_good_records_in_file_order(sample: ImportResult) -> None:
    codes = [p.code for p in sample.procedures]
    assert codes == ["1.001193", "2.001234", "1.002345", "2.000777", "1.004567", "3.000123"]


def test_broken_lines_are_skipped_with_their_line_and_reason(sample: ImportResult) -> None:
    reported = [(s.where, s.reason) for s in sample.skipped]
    assert reported == [
        ("line 3", "not valid JSON"),
        ("line 6", "no code or name"),
        ("line 7", "not a JSON object"),
        ("line 9", "duplicate code"),
        ("line 10", "malformed code"),
    ]
    duplicate = sample.skipped[3]
    assert "2.001234" in duplicate.detail and "line 2" in duplicate.detail


def test_birth_registration_documents_are_separate_items(sample: ImportResult) -> None:
    birth = by_code(sample, "1.001193")
    submit = [d for d in birth.documents if d.kind is DocumentKind.SUBMIT]
    present = [d for d in birth.documents if d.kind is DocumentKind.PRESENT]
    notes = [d for d in birth.documents if d.kind is DocumentKind.NOTE]
    assert [d.name for d in submit] == [
        "Tờ khai đăng ký khai sinh theo mẫu quy định.",
        "Giấy chứng sinh do cơ sở y tế cấp; nếu không có thì văn bản của người làm chứng "
        "xác nhận việc sinh.",
        "Văn bản ủy quyền có chứng thực khi nhờ người khác nộp thay (01 bản chính hoặc bản "
        "sao có chứng thực).",
        # "Trường hợp cơ quan hộ tịch đã có ... thì không phải nộp bản giấy.": under its case.
        "Không phải nộp bản giấy.",
    ]
    assert [d.case for d in submit] == [
        "",
        "",
        "",
        "Cơ quan hộ tịch đã có Giấy chứng sinh điện tử",
    ]
    assert [(d.quantity, d.copies) for d in submit] == [
        ("1 bản chính", 1),
        ("1 bản chính", 1),
        ("1 bản chính", 1),
        ("", None),  # "0 bản chính": a note among the documents, no count shown
    ]
    assert submit[0].form == "To khai khai sinh.docx"
    assert [(d.quantity, d.copies) for d in present] == [("1 bản chính", 1), ("1 bản sao", 1)]
    assert len(notes) == 1 and notes[0].name.startswith("Có thể nộp bản chụp")
    assert "documents" not in birth.original


def test_section_titles_that_name_cases_put_their_rows_under_them(sample: ImportResult) -> None:
    land = by_code(sample, "1.004567")
    rows = [(d.case, d.name) for d in land.documents if d.kind is not DocumentKind.NOTE]
    assert [case for case, _name in rows] == [
        "Chuyển nhượng",
        "Chuyển nhượng",
        "Cấp đổi giấy chứng nhận",
        "Cấp đổi giấy chứng nhận",
    ]
    # The titles stay too, as notes, so nothing the portal said is lost.
    notes = [d.name for d in land.documents if d.kind is DocumentKind.NOTE]
    assert notes == ["Trường hợp chuyển nhượng", "Trường hợp cấp đổi giấy chứng nhận"]


@pytest.mark.parametrize(
    ("row", "case", "name"),
    [
        (
            "Trường hợp trẻ em bị bỏ rơi thì phải có biên bản về việc trẻ bị bỏ rơi.",
            "Trẻ em bị bỏ rơi",
            "Biên bản về việc trẻ bị bỏ rơi.",
        ),
        (
            "Trường hợp khai sinh cho trẻ sinh ra do mang thai hộ phải có văn bản xác nhận.",
            "Khai sinh cho trẻ sinh ra do mang thai hộ",
            "Văn bản xác nhận.",
        ),
        (
            "Trường hợp gửi hồ sơ qua bưu chính thì phải gửi kèm theo bản sao có chứng thực.",
            "Gửi hồ sơ qua bưu chính",
            "Bản sao có chứng thực.",
        ),
        (
            "Mảnh trích đo bản đồ địa chính đối với trường hợp người sử dụng đất muốn đo lại",
            "Người sử dụng đất muốn đo lại",
            "Mảnh trích đo bản đồ địa chính",
        ),
        ("Giấy chứng sinh; trường hợp không có thì giấy cam đoan", "", ""),
    ],
)
def test_a_row_that_names_its_case_is_put_under_it(row: str, case: str, name: str) -> None:
    parsed = parse_documents(f"{DOCUMENTS_HEADER}{row}1 bản chính")
    [document] = parsed.items
    assert (document.case, document.name) == (case, name or row)


def test_a_form_address_in_the_table_is_kept() -> None:
    cell = (
        "Thông báo theo mẫu của Công ước Basel tại địa chỉ: http://www.basel.int/docs/vCOP8.doc"
        "Mẫu tờ khai.docx1 bản chính"
    )
    [document] = parse_documents(DOCUMENTS_HEADER + cell).items
    assert document.form_url == "http://www.basel.int/docs/vCOP8.doc"


def test_birth_registration_channels_are_structured(sample: ImportResult) -> None:
    birth = by_code(sample, "1.001193")
    assert birth.channels == (
        SubmissionChannel("Trực tuyến", ProcessingTime("1", 1.0), "Miễn phí"),
        SubmissionChannel("Dịch vụ bưu chính", ProcessingTime("1", 1.0), "Miễn phí"),
        SubmissionChannel("Trực tiếp", ProcessingTime("1", 1.0), "Miễn phí"),
    )
    assert birth.time == ProcessingTime("1", 1.0)  # every channel says the same
    assert birth.shortest_working_days == 1.0


def test_birth_registration_legal_basis_result_and_steps(sample: ImportResult) -> None:
    birth = by_code(sample, "1.001193")
    assert birth.legal_basis == (
        LegalReference("Luật 60/2014/QH13", "60/2014/QH13"),
        LegalReference(
            "Nghị định số 123/2015/NĐ-CP ngày 15/11/2015 quy định chi tiết Luật Hộ tịch",
            "123/2015/NĐ-CP",
        ),
        LegalReference(
            "Thông tư 04/2020/TT-BTP hướng dẫn thi hành Luật Hộ tịch", "04/2020/TT-BTP"
        ),
    )
    assert birth.result == "Giấy khai sinh"  # no result code, no agency picker
    assert birth.steps == (
        "Bước 1: Người đi khai sinh nộp hồ sơ tại bộ phận một cửa hoặc trên Cổng dịch vụ công.",
        "Bước 2: Công chức hộ tịch kiểm tra hồ sơ.",
        "Hồ sơ đủ thì ghi vào Sổ hộ tịch và cập nhật cơ sở dữ liệu.",
        "Bước 3: Trả Giấy khai sinh cho người đi khai sinh.",
    )
    assert birth.levels == (Level.COMMUNE,)
    assert birth.field == "Hộ tịch"
    assert birth.decision == "163/QĐ-BTP"
    assert birth.source_url == "https://dichvucong.gov.vn/thu-tuc/1.001193"
    assert birth.original == {}


def test_channels_with_units_fee_details_and_descriptions(sample: ImportResult) -> None:
    travel = by_code(sample, "2.001234")
    direct, online, post = travel.channels
    assert direct == SubmissionChannel(
        "Trực tiếp",
        ProcessingTime("10 Ngày làm việc", 10.0),
        "3,000,000 Việt Nam Đồng (Phí thẩm định: 3.000.000 đồng/giấy phép)",
        "Nộp hồ sơ tại Sở Văn hóa, Thể thao và Du lịch.",
    )
    assert online.description == "Nộp qua Cổng dịch vụ công."
    # Calendar days are not working days; "(1)" after "no information" starts the description.
    assert post.time == ProcessingTime("15 Ngày", None)
    assert post.fee == ""
    assert post.description.startswith("(1) Gửi hồ sơ qua bưu điện")
    assert travel.time == ProcessingTime("")  # channels disagree: each keeps its own


def test_forms_quantities_and_agencies(sample: ImportResult) -> None:
    travel = by_code(sample, "2.001234")
    assert travel.documents == (
        Document("Đơn đề nghị cấp giấy phép theo mẫu", "1 bản chính", 1, "Mẫu số 01.docx"),
        Document("Bản sao giấy chứng nhận đăng ký doanh nghiệp có chứng thực", "1 bản sao", 1),
        Document(
            "Giấy tờ chứng minh đã ký quỹ theo Nghị định số 94/2021/NĐ-CP ngày 01/11/2021",
            "1 bản chính, 1 bản sao",
            None,
        ),
    )
    assert travel.agency == "Sở Văn hóa, Thể thao và Du lịch; Ủy ban nhân dân cấp tỉnh"
    assert travel.levels == (Level.MINISTRY, Level.PROVINCE)
    assert travel.conditions == (
        "- Là doanh nghiệp đã đăng ký kinh doanh dịch vụ lữ hành.\n- Đã ký quỹ."
    )
    # "Thông tư số " written before the number belongs to the number column.
    assert travel.legal_basis[-1] == LegalReference(
        "Thông tư quy định mức thu phí thẩm định cấp giấy phép lữ hành", "33/2018/TT-BTC"
    )


def test_result_keeps_every_result_and_its_description_and_keywords(
    sample: ImportResult,
) -> None:
    travel = by_code(sample, "2.001234")
    assert travel.result == (
        "Giấy phép kinh doanh dịch vụ lữ hành nội địa; "
        "Giấy phép kinh doanh dịch vụ lữ hành quốc tế\nGiấy phép không có thời hạn."
    )
    assert travel.aliases == ("Cấp giấy phép lữ hành",)


def test_time_without_unit_glued_to_a_fee_and_hours(sample: ImportResult) -> None:
    residence = by_code(sample, "1.002345")
    online, direct = residence.channels
    # "Trực tuyến120,000 VNĐ": a time of 1 and a fee of 20,000, not 12 and 0,000.
    assert online.time == ProcessingTime("1", 1.0)
    assert online.fee == "20,000 VNĐ (20.000 đồng/lần)"
    assert direct.time == ProcessingTime("8 Giờ", 1.0)  # an 8-hour working day
    assert direct.description == "Không thu phí khi nộp trực tiếp tại trụ sở."


def test_empty_markers_are_empty_and_agency_falls_back(sample: ImportResult) -> None:
    residence = by_code(sample, "1.002345")
    assert residence.documents == ()
    assert residence.legal_basis == ()
    assert residence.result == ""
    assert residence.conditions == ""  # "Không có thông tin"
    assert residence.agency == "Công an cấp xã"
    assert residence.original == {}  # "--" and "Không có thông tin" are empty, not unparsed


def test_unknown_and_missing_levels_are_warned_about(sample: ImportResult) -> None:
    assert by_code(sample, "1.002345").levels == (Level.COMMUNE,)
    assert by_code(sample, "3.000123").levels == (Level.OTHER,)
    assert sample.warnings == (
        "line 4: 1.002345: unknown level 'Cấp thôn' ignored",
        "line 12: 3.000123: no known level, filed under 'Cơ quan khác'",
    )


def test_text_that_is_not_a_table_is_kept_as_original(sample: ImportResult) -> None:
    pension = by_code(sample, "2.000777")
    assert pension.documents == ()
    assert pension.original["documents"] == (
        "); nộp hồ sơ cho cơ quan bảo hiểm xã hội.\n"
        "Bước 2. Cơ quan bảo hiểm xã hội tiếp nhận và giải quyết."
    )
    # A legal basis with text after its last number: parsed as far as it goes, original kept.
    assert pension.legal_basis[0] == LegalReference(
        "Luật Bảo hiểm xã hội năm 2024", "41/2024/QH15"
    )
    assert pension.original["legal_basis"].endswith("Hướng dẫn thi hành về chế độ một lần")
    assert pension.original["coordinating_agency"] == "Bưu điện tỉnh"
    assert [c.time.text for c in pension.channels] == ["Không phải trả kết quả cho người nộp"] * 2


def test_section_titles_multiple_forms_and_a_row_without_quantity(sample: ImportResult) -> None:
    land = by_code(sample, "1.004567")
    assert [(d.kind, d.name) for d in land.documents] == [
        (DocumentKind.NOTE, "Trường hợp chuyển nhượng"),
        (DocumentKind.SUBMIT, "Đơn đăng ký biến động theo Mẫu số 11/ĐK;"),
        (DocumentKind.SUBMIT, "Hợp đồng chuyển nhượng đã công chứng"),
        (DocumentKind.NOTE, "Trường hợp cấp đổi giấy chứng nhận"),
        (DocumentKind.SUBMIT, "Giấy chứng nhận đã cấp"),
        (DocumentKind.SUBMIT, "Sơ đồ thửa đất (nếu có)"),
    ]
    assert land.documents[1].form == "Mau11DK.docx; Mau11DK-huong-dan.pdf"
    assert "Sơ đồ thửa đất (nếu có)" in land.original["documents"]
    assert land.time == ProcessingTime("10 Ngày làm việc", 10.0)
    assert land.where == "Bộ phận một cửa cấp xã hoặc Văn phòng đăng ký đất đai"


def test_every_imported_procedure_survives_write_and_read(
    sample: ImportResult, tmp_path: Path
) -> None:
    write_catalogue(sample.procedures, tmp_path)
    catalogue, problems = read_catalogue(tmp_path)
    assert [str(p) for p in problems if p.severity.value == "error"] == []
    assert [catalogue.get(p.code) for p in sample.procedures] == list(sample.procedures)


def test_progress_is_reported_up_to_the_total(fixtures_dir: Path) -> None:
    calls: list[tuple[int, int]] = []
    import_source(
        fixtures_dir / "import" / "national-sample.jsonl", lambda d, t: calls.append((d, t))
    )
    assert calls and calls[-1] == (11, 11)  # 11 non-blank lines


# --- file-level cases -------------------------------------------------------------------


def test_a_json_array_is_read_like_json_lines(tmp_path: Path, fixtures_dir: Path) -> None:
    lines = (fixtures_dir / "import" / "national-sample.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines()[:2]]
    source = tmp_path / "export.json"
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = import_source(source)
    assert [p.code for p in result.procedures] == ["1.001193", "2.001234"]


def test_a_json_file_that_is_not_json_is_a_format_error(tmp_path: Path) -> None:
    source = tmp_path / "export.json"
    source.write_text('[{"ma_thu_tuc": ', encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"export\.json: not valid JSON at line 1"):
        import_source(source)


def test_a_line_that_is_not_utf8_is_skipped(tmp_path: Path, fixtures_dir: Path) -> None:
    good = (fixtures_dir / "import" / "national-sample.jsonl").read_bytes().split(b"\n")[0]
    source = tmp_path / "export.jsonl"
    source.write_bytes(b"\xff\xfe broken\n" + good + b"\n")
    result = import_source(source)
    assert [(s.where, s.reason) for s in result.skipped] == [("line 1", "not valid UTF-8")]
    assert [p.code for p in result.procedures] == ["1.001193"]


def test_unknown_extension_and_missing_file_are_typed_errors(tmp_path: Path) -> None:
    odd = tmp_path / "catalogue.txt"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"catalogue\.txt: unknown file type '\.txt'"):
        import_source(odd)
    with pytest.raises(SourceUnreadable, match=r"missing\.jsonl: no such file"):
        import_source(tmp_path / "missing.jsonl")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(SourceUnreadable, match=r"folder\.jsonl: not a file"):
        import_source(folder)


def test_load_catalogue_source_reads_files_and_folders(
    sample: ImportResult, fixtures_dir: Path, tmp_path: Path
) -> None:
    from_file = load_catalogue_source(fixtures_dir / "import" / "national-sample.jsonl")
    assert [p.code for p in from_file] == [p.code for p in sample.procedures]
    assert from_file.locations["2.001234"].line == 2
    write_catalogue(sample.procedures, tmp_path / "tree")
    from_folder = load_catalogue_source(tmp_path / "tree")
    assert sorted(p.code for p in from_folder) == sorted(p.code for p in sample.procedures)


# --- the parsers on short pieces of the portal's text -----------------------------------


def test_a_quantity_inside_a_name_then_the_quantity_cell() -> None:
    parsed = parse_documents(
        "--Tên giấy tờMẫu đơn, tờ khaiSố lượngCông văn đề nghị theo Mẫu số 08: 01 bản chính"
        "1 bản chínhBản kê hàng hóa1 bản sao"
    )
    assert [(d.name, d.quantity) for d in parsed.items] == [
        ("Công văn đề nghị theo Mẫu số 08: 01 bản chính", "1 bản chính"),
        ("Bản kê hàng hóa", "1 bản sao"),
    ]
    assert parsed.complete


def test_a_year_at_the_end_of_a_name_is_not_a_count() -> None:
    parsed = parse_documents("--Tên giấy tờMẫu đơn, tờ khaiSố lượngBáo cáo năm 20251 bản chính")
    assert parsed.items == (Document("Báo cáo năm 2025", "1 bản chính", 1),)


def test_legal_numbers_glued_to_lower_case_and_capital_titles() -> None:
    parsed = parse_legal_basis(
        "Tên văn bản pháp lýMã văn bảnLuật 54/2014/QH1354/2014/QH13"
        "Nghị định về hải quan08/2015/NĐ-CPquy định chi tiết thi hành08/2015/TT-BTC"
        "73/2025/TT-NHNNSố 73/2025/TT-NHNN"
    )
    assert parsed.items == (
        LegalReference("Luật 54/2014/QH13", "54/2014/QH13"),
        LegalReference("Nghị định về hải quan", "08/2015/NĐ-CP"),
        LegalReference("quy định chi tiết thi hành", "08/2015/TT-BTC"),
        LegalReference("73/2025/TT-NHNN", "73/2025/TT-NHNN"),
    )
    assert parsed.complete


def test_legal_basis_with_an_unrecognised_number_is_incomplete() -> None:
    parsed = parse_legal_basis("Tên văn bản pháp lýMã văn bảnQuyết định về mẫu hồ sơ24/2024")
    assert not parsed.complete
    assert parsed.items == (LegalReference("Quyết định về mẫu hồ sơ24/2024"),)


def test_channels_text_that_does_not_start_with_a_row_is_incomplete() -> None:
    parsed = parse_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếpHệ thống tự phản hồi.Không có thông tin"
        "Tại Trung tâmTrực tuyến3 Ngày làm việcMiễn phí"
    )
    assert not parsed.complete
    assert [c.method for c in parsed.items] == ["Trực tuyến"]


def test_result_and_steps_helpers() -> None:
    outcome = parse_result(
        "Thẻ căn cướcMã: KQ.G01.000023Từ khóaCấp lại thẻ căn cướcMô tả"
        "Không có thông tinChọn cơ quan thực hiệnTỉnh/ Thành phố"
    )
    assert outcome.result == "Thẻ căn cước"
    assert outcome.keywords == ("Cấp lại thẻ căn cước",)
    assert parse_steps("Bước 1. Nộp hồ sơ. Bước 2. Nhận kết quả.") == (
        "Bước 1. Nộp hồ sơ.",
        "Bước 2. Nhận kết quả.",
    )
    assert parse_steps("Không có thông tin") == ()


# --- the real export (../shared) --------------------------------------------------------


@pytest.fixture(scope="module")
def national(shared_dir: Path) -> ImportResult:
    return import_source(shared_dir / "catalogues" / NATIONAL_FILE)


@pytest.mark.shared
def test_shared_national_file_imports_every_procedure(national: ImportResult) -> None:
    assert len(national.procedures) >= 2600
    assert national.skipped == ()
    assert len({p.code for p in national.procedures}) == len(national.procedures)


@pytest.mark.shared
def test_shared_birth_registration_is_structured(national: ImportResult) -> None:
    birth = by_code(national, "1.001193")
    submit = [d for d in birth.documents if d.kind is DocumentKind.SUBMIT]
    present = [d for d in birth.documents if d.kind is DocumentKind.PRESENT]
    assert len(submit) >= 5 and len(present) >= 3
    certificate = [d for d in submit if d.name.startswith("Giấy chứng sinh")]
    assert len(certificate) == 1 and certificate[0].quantity == "1 bản chính"
    assert all("bản chính" not in d.name[-12:] for d in birth.documents)  # no glued quantity
    assert {c.method for c in birth.channels} == {"Trực tuyến", "Trực tiếp", "Dịch vụ bưu chính"}
    assert all(c.time.working_days == 1.0 and c.fee == "Miễn phí" for c in birth.channels)
    assert birth.result == "Giấy khai sinh"
    numbers = {ref.number for ref in birth.legal_basis}
    assert {"60/2014/QH13", "123/2015/NĐ-CP", "04/2020/TT-BTP"} <= numbers
    assert "documents" not in birth.original and "channels" not in birth.original


@pytest.mark.shared
def test_shared_tables_are_mostly_recovered(national: ImportResult) -> None:
    with_channels = sum(1 for p in national.procedures if p.channels)
    with_documents = sum(1 for p in national.procedures if p.documents)
    legal_kept = sum(1 for p in national.procedures if "legal_basis" in p.original)
    assert with_channels >= 2600
    assert with_documents >= 2550
    assert legal_kept <= 400  # about one in ten legal bases needs its original text
