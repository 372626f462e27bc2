"""Recovering the national portal's tables from text that lost its cell separators.

The crawler of Cổng Dịch vụ công quốc gia kept each table as one string: the header cells,
then every cell glued to the next (`Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn
phí...`). Each parser here finds the cells again from what the portal always writes in a
given column (a quantity such as `1 bản chính`, a submission method followed by a time and a
fee, a document number such as `123/2015/NĐ-CP`) and returns the items together with
`complete`: False when some text could not be placed with confidence, so that the caller
keeps the original text beside the recovered items. No parser drops text it does not
understand: such text still ends up in an item.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from bot.catalogue.importers.cleaning import NO_INFORMATION, clean_text, one_line
from bot.catalogue.model import (
    Document,
    DocumentKind,
    LegalReference,
    ProcessingTime,
    SubmissionChannel,
)
from bot.catalogue.slug import fold_diacritics

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    items: tuple[T, ...]
    complete: bool  # False: keep the original text too, the items may be cut wrongly


def _vietnamese_letters(category: str) -> str:
    """Every accented Latin letter of one case (Unicode category "Ll" or "Lu") that folds
    to a plain letter: what Vietnamese writes. A range such as "à-ỹ" would not do, as the
    two cases are interleaved in Unicode."""
    letters = (chr(point) for point in range(0xC0, 0x1EFA))
    return "".join(
        ch
        for ch in letters
        if unicodedata.category(ch) == category and fold_diacritics(ch).isascii()
    )


_LOWER = "a-z" + _vietnamese_letters("Ll")
_UPPER = "A-Z" + _vietnamese_letters("Lu")
_BULLET = re.compile(r"^(?:[-+•*\uf0a7\uf0b7\uf0fc]\s*)+")


def _strip_bullet(text: str) -> str:
    return _BULLET.sub("", text).strip()


# --- thành phần hồ sơ (required documents) ---------------------------------------------

DOCUMENTS_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"

# The "Số lượng" cell is always `N bản chính`, `N bản chính,M bản sao` or `M bản sao`, glued
# to the next row's first cell. Inside a document's name the same words are followed by a
# space or punctuation ("01 bản chính hoặc bản sao", "(02 bản chính)"), never glued, which is
# what tells the two apart. The count is one digit: a longer run is the end of the name
# ("... năm 2026" + "1 bản chính").
_QUANTITY = re.compile(
    r"(?P<originals>\d) bản chính(?:,(?P<copies>\d) bản sao)?(?![ ,.;:)/\]])"
    r"|(?P<only_copies>\d) bản sao(?![ ,.;:)/\]])"
)
_FORM_FILE = re.compile(r"(?i:\.(?:docx?|pdf|xlsx?|rar|zip))(?![a-z])")
_FORM_MAX = 150  # longest form file name seen in the portal's data is about 90 characters
_SECTION_KINDS = {
    "giay to phai nop": DocumentKind.SUBMIT,
    "giay to phai xuat trinh": DocumentKind.PRESENT,
    "luu y": DocumentKind.NOTE,
}


def parse_documents(raw: str) -> Parsed[Document]:
    """The required documents: one `Document` per table row, section titles kept.

    Sections "Giấy tờ phải nộp", "Giấy tờ phải xuất trình" and "Lưu ý" set the kind of
    their rows; any other section title (e.g. "Trường hợp cấp lại:") becomes a NOTE item so
    that the rows after it keep their context.
    """
    text = clean_text(raw)
    if not text.strip("-"):
        return Parsed((), True)
    if DOCUMENTS_HEADER not in text:
        return Parsed((), False)
    parts = text.split(DOCUMENTS_HEADER)
    documents: list[Document] = []
    sections: list[tuple[int, str]] = []  # (first document of the section, its title)
    complete = True
    title = parts[0]
    for index, body in enumerate(parts[1:], start=1):
        kind, heading = _section(title)
        if heading:
            documents.append(Document(name=heading, kind=DocumentKind.NOTE))
        sections.append((len(documents), heading))
        start = 0
        previous: re.Match[str] | None = None
        for match in _QUANTITY.finditer(body):
            document = _document(body[start : match.start()], match, kind)
            start = match.end()
            if document is not None:
                documents.append(document)
            elif previous is not None and previous.end() == match.start() and documents:
                # Two quantities in a row: the first was text ending the name ("...: 01 bản
                # chính" then the cell "1 bản chính").
                last = documents[-1]
                documents[-1] = _requantified(last, f"{last.name}{previous.group(0)}", match)
            else:
                complete = False
            previous = match
        rest = body[start:]
        if index < len(parts) - 1:
            title = rest
        elif _strip_bullet(rest):
            # Text after the last quantity: a row whose quantity cell was empty, or notes.
            documents.append(Document(name=one_line(_strip_bullet(rest)), kind=kind))
            complete = False
    return Parsed(tuple(_with_cases_and_links(documents, sections)), complete)


# --- documents needed only in some case ------------------------------------------------

# "a) Đối với trường hợp ...", "2. Trường hợp ..." : the words that open a case.
_ENUMERATION = re.compile(r"^(?:[a-zđ]|\d{1,2})[.)]\s+", re.IGNORECASE)
_CASE_CUE = re.compile(
    r"^(?:(?:đối với|riêng)\s+)?(?:(?:các\s+)?trường hợp|nếu|khi)\s+", re.IGNORECASE
)
# Section titles that name the whole list, not a case.
_GENERIC_TITLE = re.compile(
    r"thành phần(?: hồ sơ)?|hồ sơ gồm|giấy tờ phải|các giấy tờ|bản chính|bản sao|lưu ý",
    re.IGNORECASE,
)
# A row that opens with its case ("Trường hợp trẻ em bị bỏ rơi thì phải có biên bản ...");
# "thì" ends the case more surely than a colon, which may open a list inside it.
_CASE_OPENING = r"^(?:(?:đối với|riêng)\s+)?(?:trường hợp|nếu)\s+(?P<case>[^;]{3,150}?)"
_LEADING_CASES = (
    re.compile(
        _CASE_OPENING + r"(?:\s+thì\s+|\s+(?=phải (?:có|nộp|kèm)))(?P<rest>.{3,})$",
        re.IGNORECASE | re.DOTALL,
    ),
    re.compile(_CASE_OPENING + r":\s*(?P<rest>.{3,})$", re.IGNORECASE | re.DOTALL),
)
# A row that ends with it ("Văn bản ủy quyền ... trong trường hợp ủy quyền thực hiện ...").
_TRAILING_CASE = re.compile(
    r"^(?P<rest>.{10,}?)[\s,]+(?:trong|đối với)\s+(?:các\s+)?trường hợp\s+"
    r"(?P<case>[^:;]{3,150}?)[.;]?$",
    re.IGNORECASE | re.DOTALL,
)
_MUST = re.compile(
    r"^(?:(?:thì\s+)?(?:phải|cần)\s+"
    r"(?:có|nộp|bổ sung|gửi kèm theo|gửi kèm|kèm theo|xuất trình)?\s*)",
    re.IGNORECASE,
)
_CASE_MAX = 150
# Case-sensitive after the extension: "vCOP8.docMẫu tờ khai" is the file and the next cell.
_FORM_URL = re.compile(r"https?://\S+?(?i:\.(?:docx?|pdf|xlsx?|zip|rar))(?![a-z])")


def _with_cases_and_links(
    documents: Sequence[Document], sections: Sequence[tuple[int, str]]
) -> list[Document]:
    """Each document with the case it is needed in, from its section's title (when the
    titles name cases) or from its own words, and with its form's address when given."""
    titles = [title for _start, title in sections if title]
    several = len([t for t in titles if not _GENERIC_TITLE.search(t)]) >= 2
    starts = [start for start, _title in sections]
    result: list[Document] = []
    for position, document in enumerate(documents):
        if document.kind is DocumentKind.NOTE:
            result.append(document)
            continue
        section = max((i for i, start in enumerate(starts) if start <= position), default=-1)
        title = sections[section][1] if section >= 0 else ""
        case = _title_case(title, several)
        name = document.name
        if not case:
            case, name = _row_case(name)
        # The form splitter may cut an address at its "http:" colon: read the two glued.
        link = _FORM_URL.search(f"{document.name}{document.form}")
        result.append(
            replace(document, name=name, case=case, form_url=link.group(0) if link else "")
        )
    return result


def _title_case(title: str, several: bool) -> str:
    """The case a section title names, or "" when it names the whole list."""
    text = _ENUMERATION.sub("", title).rstrip(" :.")
    if not text:
        return ""
    cue = _CASE_CUE.match(text)
    if cue:
        return _case_text(text[cue.end() :])
    if several and not _GENERIC_TITLE.search(text):
        return _case_text(text)
    return ""


def _row_case(name: str) -> tuple[str, str]:
    """(case, name without it) for a row that says its case, else ("", name)."""
    for pattern in (*_LEADING_CASES, _TRAILING_CASE):
        match = pattern.match(name)
        if match:
            rest = _MUST.sub("", match.group("rest").strip()).strip()
            if len(rest) >= 3:
                return _case_text(match.group("case")), rest[:1].upper() + rest[1:]
    return "", name


def _case_text(text: str) -> str:
    text = one_line(text).rstrip(" :.,;")
    if len(text) > _CASE_MAX:
        text = text[: _CASE_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;") + "…"
    return text[:1].upper() + text[1:]


def _section(title: str) -> tuple[DocumentKind, str]:
    """The kind of a section's rows and the title to keep as a NOTE ("" when none)."""
    heading = one_line(_strip_bullet(title)).rstrip(" :").strip()
    if not heading.strip("-"):
        return DocumentKind.SUBMIT, ""
    folded = fold_diacritics(heading).lower().strip()
    if folded in _SECTION_KINDS:
        return _SECTION_KINDS[folded], ""
    kind = DocumentKind.PRESENT if "xuat trinh" in folded else DocumentKind.SUBMIT
    return kind, heading


def _document(cell_text: str, quantity: re.Match[str], kind: DocumentKind) -> Document | None:
    name, form = _split_form(cell_text)
    name = one_line(_strip_bullet(name))
    if not name:
        name, form = form, ""
    if not name:
        return None
    text, copies = _quantity(quantity)
    return Document(name=name, quantity=text, copies=copies, form=form, kind=kind)


def _requantified(document: Document, name: str, quantity: re.Match[str]) -> Document:
    text, copies = _quantity(quantity)
    return Document(name, text, copies, document.form, document.kind)


def _quantity(quantity: re.Match[str]) -> tuple[str, int | None]:
    """The quantity as shown to people, and the count when there is exactly one."""
    if quantity.group("only_copies") is not None:
        counts = [(0, "bản chính"), (int(quantity.group("only_copies")), "bản sao")]
    else:
        copies = quantity.group("copies")
        counts = [
            (int(quantity.group("originals")), "bản chính"),
            (int(copies) if copies else 0, "bản sao"),
        ]
    # "0 bản chính" is how the portal shows a row with no count (a note, or a document
    # checked online); zero parts are not worth showing to anyone.
    parts = [(n, word) for n, word in counts if n]
    text = ", ".join(f"{n} {word}" for n, word in parts)
    return text, parts[0][0] if len(parts) == 1 else None


def _split_form(cell_text: str) -> tuple[str, str]:
    """Split "Tờ khai theo mẫuMẫu TP-LS-02.docx" into the name and the form file(s).

    The form cell holds file names glued after the name; a file name ends with its
    extension, and the first one starts where a lower-case letter, ")" or ";" is directly
    followed by a capital or a digit, the mark of a lost cell separator. When no such place
    is found the name is left whole (the file name stays in it; nothing is lost).
    """
    text = cell_text.rstrip()
    ends = [m.end() for m in _FORM_FILE.finditer(text)]
    if not ends or ends[-1] != len(text):
        return cell_text, ""
    chain = [ends[-1]]
    for end in reversed(ends[:-1]):
        if chain[0] - end > _FORM_MAX or "\n" in text[end : chain[0]]:
            break
        chain.insert(0, end)
    start = _glue_point(text, chain[0])
    while start is None and len(chain) > 1:
        # The first file's start cannot be found: leave it in the name, keep the others.
        start = chain.pop(0)
    if start is None:
        return cell_text, ""
    names = [text[start : chain[0]], *(text[a:b] for a, b in itertools.pairwise(chain))]
    files = [one_line(name.strip(" ;,")) for name in names]
    return text[:start], "; ".join(f for f in files if f)


# Places where a cell separator was lost before a file name. Strong marks first: a capital
# right after a lower-case letter or ")" ("theo mẫuMẫu 01", "(theo mẫu)12.1.docx"), anything
# after ";" or ":" ("hồ sơ giấy;PC21.docx"), a letter after a full stop that ends a word
# ("NĐ-CP.Mau48.docx", not "5.2"), a word after capitals ("NĐ-CPMẫu số 03.docx"). A digit
# right after a lower-case letter is a weaker mark ("theo mẫu12.docx", but also "4x6 cm").
_STRONG_GLUE = re.compile(
    rf"(?<=[{_LOWER}\]])(?=[{_UPPER}])"
    rf"|(?<=\))(?=[{_UPPER}0-9])"
    rf"|(?<=[;:])(?=\S)"
    rf"|(?<=[^\d.]\.)(?=[{_UPPER}{_LOWER}0-9])"
    rf"|(?<=[{_UPPER}]{{2}})(?=[{_UPPER}][{_LOWER}])"
)
_WEAK_GLUE = re.compile(rf"(?<=[{_LOWER}])(?=[0-9])")


def _glue_point(text: str, first_end: int) -> int | None:
    """Where the first form file name starts: the earliest glue mark close enough before
    its extension that leaves no "; " in the file name."""
    window_start = max(0, first_end - _FORM_MAX)
    for glue in (_STRONG_GLUE, _WEAK_GLUE):
        for match in glue.finditer(text, window_start, first_end):
            start = match.start()
            if start == 0 or first_end - start < 5:
                continue
            candidate = text[start:first_end]
            if "; " not in candidate and "\n" not in candidate:
                return start
    return None


# --- cách thức thực hiện (submission channels) -----------------------------------------

CHANNELS_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_METHODS = ("Trực tuyến", "Trực tiếp", "Dịch vụ bưu chính")
# A row starts with the method, then the time cell (a number with an optional unit, "Không
# có thông tin", or a short phrase starting "Không"), then the fee cell. When the unit is
# missing the time's digits run into the fee's ("Trực tuyến120,000 VNĐ"): the lazy number
# and a fee that cannot start with 0 read that as 1 and 20,000.
_TIME_UNITS = "Ngày làm việc|Ngày|Giờ làm việc|Giờ|Tháng|Năm|Tuần|Phút"
_ROW_HEAD = re.compile(
    rf"(?P<method>{'|'.join(_METHODS)})"
    rf"(?P<time>{NO_INFORMATION}"
    rf"|Không(?: [^\W\d][\w ,/]{{0,60}}?)?"
    rf"|(?P<number>\d+?(?:[.,]\d+)?)\s*(?P<unit>{_TIME_UNITS})?)"
    rf"\s*(?P<fee>Miễn phí|{NO_INFORMATION}"
    rf"|(?:[1-9]\d{{0,2}}(?:[,.]\d{{3}})*|0)\s*(?:Việt Nam Đồng|VNĐ|VND|Đồng|đồng|USD|EUR))"
)
# Units counted as working days: the portal's own "Ngày làm việc", and a bare number, which
# is how the portal shows a time whose unit was left at its default (working days; e.g. 1 for
# đăng ký khai sinh, done the same or the next working day). Hours count as 1/8 day (an
# 8-hour working day). Calendar days, months and years are not converted.
_WORKING_DAY_UNITS = {None: 1.0, "Ngày làm việc": 1.0, "Giờ làm việc": 1 / 8, "Giờ": 1 / 8}


def parse_channels(raw: str) -> Parsed[SubmissionChannel]:
    """The rows of the "cách thức thực hiện" table: method, time, fee, description."""
    text = clean_text(raw)
    if text.startswith(CHANNELS_HEADER):
        text = text[len(CHANNELS_HEADER) :]
    elif not text:
        return Parsed((), True)
    text = text.strip()
    if not text:
        return Parsed((), True)
    heads = list(_ROW_HEAD.finditer(text))
    if not heads:
        return Parsed((), False)
    complete = heads[0].start() == 0
    channels = []
    for head, following in zip(heads, [*heads[1:], None], strict=True):
        end = following.start() if following else len(text)
        fee = head.group("fee")
        rest = text[head.end() : end]
        detail, after_detail = _leading_parenthesis(rest)
        # A parenthesis right after the amount explains the fee ("(70.000 đồng/Giấy chứng
        # nhận)"); after "no information", or as "(1)", it starts the description.
        if detail and fee != NO_INFORMATION and not _ENUMERATOR.fullmatch(detail):
            fee, rest = f"{fee} {detail}", after_detail
        channels.append(
            SubmissionChannel(
                method=head.group("method"),
                time=_processing_time(head),
                fee="" if fee == NO_INFORMATION else one_line(fee),
                description=clean_text(rest),
            )
        )
    return Parsed(tuple(channels), complete)


_ENUMERATOR = re.compile(r"\((?:\d{1,2}|[a-zđ]|[ivx]{1,4})\)")


def _processing_time(head: re.Match[str]) -> ProcessingTime:
    text = head.group("time").strip()
    if text == NO_INFORMATION:
        return ProcessingTime("")
    number = head.group("number")
    if number is None:
        return ProcessingTime(text)
    unit = head.group("unit")
    factor = _WORKING_DAY_UNITS.get(unit)
    if factor is None:
        return ProcessingTime(text)
    return ProcessingTime(text, round(float(number.replace(",", ".")) * factor, 3))


def _leading_parenthesis(text: str) -> tuple[str, str]:
    """Split "(a (b) c)rest" into "(a (b) c)" and "rest"; ("", text) when not balanced."""
    if not text.startswith("("):
        return "", text
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[: index + 1], text[index + 1 :]
    return "", text


def common_time(channels: Sequence[SubmissionChannel]) -> ProcessingTime:
    """The processing time when every channel states the same one, else an empty one."""
    times = {channel.time for channel in channels}
    if len(times) == 1:
        return times.pop()
    return ProcessingTime("")


# --- căn cứ pháp lý (legal basis) ------------------------------------------------------

LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
# One part of a document number's issuer code (NĐ, CP, TT, BTC, QH13, UBTVQH14, TTg). A
# capital directly followed by a lower-case letter starts the next title ("NĐ-CPLuật ..."),
# so it is not taken; "TTg" (Thủ tướng) is the one code with a lower-case letter.
_ISSUER = rf"(?:TTg|(?:[{_UPPER}](?![{_LOWER}]))+(?:(?<=QH)\d{{2}})?)"
# The issuers the portal cites most, tried first after a hyphen: with them a title glued in
# lower case or in capitals is cut at the right place ("NĐ-CPquy định", "TT-BTCQUY ĐỊNH").
_KNOWN_ISSUERS = (
    "BLĐTBXH|BNNPTNT|BVHTTDL|VKSNDTC|BNNMT|BGTVT|BTNMT|BKHĐT|BKHCN|BGDĐT|BTTTT|TANDTC|"
    "NHNN|UBND|HĐND|BHXH|TCHQ|VPCP|BTC|BTP|BCA|BXD|BYT|BCT|BQP|BNV|BNG|TTg|CP"
)
_NUMBER = re.compile(
    rf"(?:(?<![\d/])|(?<=QH\d\d))\d{{1,4}}(?:\.\d{{1,2}})?/(?:\d{{4}}/)?"
    rf"{_ISSUER}(?:-(?:{_KNOWN_ISSUERS}|{_ISSUER}))*"
)
_ACCENTED_CAPITAL = re.compile(f"[{_vietnamese_letters('Lu').replace('Đ', '')}]")
_ANY_NUMBER = re.compile(rf"\d/(?:\d{{4}}/)?[{_UPPER}]")
# A date or year glued to the next number ("ngày 15/11/2015123/2015/NĐ-CP", "năm 202446/").
_DATE_THEN_DIGIT = re.compile(r"((?:\d{1,2}/\d{1,2}/|năm )\d{4})(?=\d)")
_SEPARATOR = "\x00"
# "Luật số ", "Nghị định số ", "Số " written before the number in the number column.
_NUMBER_PREFIX = re.compile(
    r"(?:(?:Luật|Nghị định|Thông tư liên tịch|Thông tư|Quyết định|Nghị quyết|Pháp lệnh)\s+)?"
    r"[Ss]ố\s*:?\s*$"
)


def parse_legal_basis(raw: str) -> Parsed[LegalReference]:
    """Pairs of (title, number) from the "căn cứ pháp lý" table.

    A number that is glued to what follows or to what precedes (or ends the text) closes a
    row; one with a space or punctuation on both sides is only mentioned inside a title.
    The result is incomplete when some number-like text was not recognised, text follows
    the last number, or a title in capitals was glued to a number.
    """
    text = clean_text(raw)
    if not text:
        return Parsed((), True)
    if not text.startswith(LEGAL_HEADER):
        return Parsed((LegalReference(title=one_line(text)),), False)
    text = _DATE_THEN_DIGIT.sub(rf"\1{_SEPARATOR}", text[len(LEGAL_HEADER) :])
    numbers = list(_NUMBER.finditer(text))
    covered = {m.start() + i for m in numbers for i in range(m.end() - m.start())}
    complete = all(m.start() in covered for m in _ANY_NUMBER.finditer(text))
    # Issuer codes use plain capitals and Đ; an accented capital means a title written in
    # capitals was glued to the number ("NĐ-CPNGHỊ ĐỊNH ...") and the cut is uncertain.
    complete = complete and not any(_ACCENTED_CAPITAL.search(m.group(0)) for m in numbers)
    rows: list[tuple[str, str]] = []
    start = 0
    for match in numbers:
        after = text[match.end() : match.end() + 1]
        before = text[match.start() - 1 : match.start()]
        glued_before = before.isalpha() or before in ".)"
        if after and (after.isspace() or after in ",;.:)]/-") and not glued_before:
            continue  # mentioned inside a title
        title = text[start : match.start()]
        prefix = _NUMBER_PREFIX.search(title)
        if prefix and (prefix.start() == 0 or not title[prefix.start() - 1].isspace()):
            title = title[: prefix.start()]
        rows.append((_legal_text(title), match.group(0)))
        start = match.end()
    rest = _legal_text(text[start:])
    if rest:
        rows.append((rest, ""))
        complete = False
    references: list[LegalReference] = []
    for title, number in rows:
        if not title and references and references[-1].number == number:
            # The number column repeats the end of the title ("Luật 54/2014/QH13" then
            # "54/2014/QH13"): the first one belongs to the title.
            previous = references[-1]
            if previous.title != previous.number:
                references[-1] = LegalReference(f"{previous.title} {previous.number}", number)
            continue
        references.append(LegalReference(title=title or number, number=number))
    return Parsed(tuple(references), complete)


def _legal_text(text: str) -> str:
    return one_line(text.replace(_SEPARATOR, " "))


# --- trình tự thực hiện (steps) --------------------------------------------------------

_STEP_MARK = re.compile(r"(?=\bBước\s+\d+\s*[.:])")
# A list bullet that only marks a new item; "+" (a sub-item under the previous one) is kept.
_STEP_BULLET = re.compile(r"^[-*•]\s*")


def parse_steps(raw: str) -> tuple[str, ...]:
    """One item per line; text on a single line is split before "Bước N:" marks."""
    text = clean_text(raw)
    if not text:
        return ()
    lines = text.split("\n") if "\n" in text else _STEP_MARK.split(text)
    steps = (_STEP_BULLET.sub("", line.strip()).strip() for line in lines)
    return tuple(step for step in steps if step)


# --- kết quả (result) -------------------------------------------------------------------

_RESULT_CODE = re.compile(r"\s*Mã:\s*KQ\.[A-Z]\d+\.\d+\s*")
_RESULT_UI = re.compile(r"Chọn cơ quan thực hiện.*\Z", re.DOTALL)
_RESULT_FIELDS = re.compile(r"Từ khóa(?P<keywords>.*?)Mô tả(?P<description>.*)\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a procedure, without the portal's page furniture."""

    result: str
    keywords: tuple[str, ...]  # the portal's "Từ khóa" for the result, when it has some


def parse_result(raw: str) -> Outcome:
    """Result names ("Giấy khai sinh"), its description, and its search keywords.

    The crawler appended the page's agency picker ("Chọn cơ quan thực hiện...Nộp hồ sơ") and
    the result codes (`Mã: KQ.G15.000031`), which are not for citizens; both are removed.
    """
    text = clean_text(_RESULT_UI.sub("", raw or ""))
    keywords: tuple[str, ...] = ()
    description = ""
    fields = _RESULT_FIELDS.search(text)
    if fields:
        text = text[: fields.start()]
        keyword_text = clean_text(fields.group("keywords"))
        keywords = tuple(k for k in (one_line(k) for k in keyword_text.split(";")) if k)
        description = clean_text(fields.group("description"))
    names = [one_line(part) for part in _RESULT_CODE.split(text)]
    result = "; ".join(name.rstrip(" .;") for name in names if name.strip(" .;"))
    if description:
        result = f"{result}\n{description}" if result else description
    return Outcome(result=result, keywords=keywords)
