"""Importer of a provincial portal's procedure list, exported as XLSX or CSV.

Such a list has title rows, then a header row (`STT | Mã TTHC | MỨC ĐỘ DVC | TÊN TTHC |
LĨNH VỰC | QUYẾT ĐỊNH`, in some order and wording), one row per procedure, then signature
rows. It gives no level (cấp) for most procedures: the list is the province's, so a
procedure is filed under `Level.PROVINCE` unless its name ends with "(Cấp huyện)" or "(Cấp
xã)" (how the province tells apart the same procedure at two levels), its code carries the
province's level mark (".H", ".X"), or the sheet has a level column. The provincial center
receives all of them, which is what the level is used for.
"""

from __future__ import annotations

import csv
import io
import re
import warnings as python_warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.catalogue.importers.cleaning import clean_text, one_line
from bot.catalogue.importers.codes import repair_code
from bot.catalogue.importers.result import (
    ImportResult,
    Skipped,
    SourceFormatError,
    SourceUnreadable,
)
from bot.catalogue.model import Level, OnlineLevel, Procedure, SourceLocation, code_shape
from bot.catalogue.slug import fold_diacritics

Progress = Callable[[int, int], None]
Row = tuple[int, Sequence[object]]  # (1-based row number in the sheet or file, cells)

_HEADER_SEARCH_ROWS = 30
_PROGRESS_EVERY = 50
# Header wordings seen in provincial exports, folded (no diacritics, lower case). A header
# cell matches a column when it is one of these or starts with one and a space.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("ma tthc", "ma thu tuc", "ma so tthc", "ma so thu tuc", "ma dvc"),
    "name": ("ten tthc", "ten thu tuc", "ten dvc"),
    "online": ("muc do", "dvc truc tuyen", "dich vu cong truc tuyen", "hinh thuc dvc"),
    "field": ("linh vuc",),
    "decision": ("quyet dinh", "so quyet dinh", "so qd"),
    "level": ("cap thuc hien", "cap giai quyet"),
    "agency": ("co quan thuc hien", "co quan giai quyet", "don vi thuc hien"),
}
_ONLINE_LEVELS = {
    "toan trinh": OnlineLevel.FULL,
    "mot phan": OnlineLevel.PARTIAL,
    "truc tiep": OnlineLevel.OFFLINE,
    # Decision 45/2020 and Decree 42/2022 replaced levels 1-4: levels 1 and 2 are not online
    # services in the new sense, 3 is a partly online one, 4 a fully online one.
    "muc do 1": OnlineLevel.OFFLINE,
    "muc do 2": OnlineLevel.OFFLINE,
    "muc do 3": OnlineLevel.PARTIAL,
    "muc do 4": OnlineLevel.FULL,
}
_LEVEL_WORDS = {
    "cap bo": Level.MINISTRY,
    "cap tinh": Level.PROVINCE,
    "cap huyen": Level.DISTRICT,
    "cap xa": Level.COMMUNE,
    "co quan khac": Level.OTHER,
}
_LEVEL_MARKS = {"H": Level.DISTRICT, "X": Level.COMMUNE}
_NAME_LEVEL = re.compile(r"\((cấp [^)]+)\)\s*$", re.IGNORECASE)
_FIELD_AGENCY_PREFIX = re.compile(r"^\[[^\]]{1,20}\]\s*-\s*")
# "Thủ tục test", "TEST_MOT_CAP": rows the portal's staff added to try the system.
_TEST = re.compile(r"(?<![a-z])test(?![a-z])", re.IGNORECASE)


def import_provincial_xlsx(path: Path, progress: Progress | None = None) -> ImportResult:
    """Import the first sheet of a workbook that has a recognisable header row."""
    try:
        import openpyxl  # a heavy import, only needed here
        from openpyxl.utils.exceptions import InvalidFileException

        with python_warnings.catch_warnings(record=True) as caught:
            python_warnings.simplefilter("always")
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                sheets = [
                    (sheet.title, list(enumerate(sheet.iter_rows(values_only=True), start=1)))
                    for sheet in workbook.worksheets
                ]
            finally:
                workbook.close()
    except OSError as exc:
        raise SourceUnreadable(path, f"cannot read the file: {exc.strerror or exc}") from None
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise SourceFormatError(path, f"not a readable .xlsx workbook ({exc})") from None
    notes = [f"workbook: {warning.message}" for warning in caught]
    for title, rows in sheets:
        header = _find_header(rows)
        if header is not None:
            # Row numbers are the spreadsheet's; the sheet is named only when there is a choice.
            prefix = f"sheet '{title}' row " if len(sheets) > 1 else "row "
            result = _import_rows(path, rows, header, progress, prefix)
            return _with_warnings(result, notes)
    raise SourceFormatError(path, _NO_HEADER)


def import_provincial_csv(
    path: Path, raw: bytes, progress: Progress | None = None
) -> ImportResult:
    """Import a CSV export (UTF-8, with or without BOM; comma, semicolon or tab)."""
    # Excel's "Unicode text" is UTF-16 with a byte-order mark; its "CSV UTF-8" has a BOM too.
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceFormatError(
            path, f"not UTF-8 text (byte {exc.start}); save the file as 'CSV UTF-8'"
        ) from None
    for delimiter in (",", ";", "\t"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows: list[Row] = [(reader.line_num, cells) for cells in reader]
        header = _find_header(rows)
        if header is not None:
            return _import_rows(path, rows, header, progress, "line ")
    raise SourceFormatError(path, _NO_HEADER)


_NO_HEADER = (
    f"no header row with a code column ('Mã TTHC') and a name column ('Tên TTHC') in the "
    f"first {_HEADER_SEARCH_ROWS} rows"
)


@dataclass(frozen=True, slots=True)
class _Header:
    index: int  # position of the header in the row list
    columns: dict[str, int]  # column role -> cell index


def _find_header(rows: Sequence[Row]) -> _Header | None:
    for index, (_number, cells) in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for position, cell in enumerate(cells):
            label = " ".join(fold_diacritics(clean_text(cell)).lower().strip(" :*").split())
            for role, names in _COLUMNS.items():
                if role not in columns and any(
                    label == name or label.startswith(f"{name} ") for name in names
                ):
                    columns[role] = position
                    break
        if "code" in columns and "name" in columns:
            return _Header(index, columns)
    return None


@dataclass
class _Import:
    """What the row loop accumulates."""

    path: Path
    prefix: str  # "row ", "line " or "sheet 'Name' row "
    procedures: list[Procedure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    locations: dict[str, SourceLocation] = field(default_factory=dict)
    first_row: dict[str, int] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)  # code -> position in procedures
    guessed_levels: set[str] = field(default_factory=set)  # codes filed under the default

    def where(self, number: int) -> str:
        return f"{self.prefix}{number}"


def _import_rows(
    path: Path, rows: Sequence[Row], header: _Header, progress: Progress | None, prefix: str
) -> ImportResult:
    state = _Import(path, prefix)
    for number, cells in rows[: header.index]:
        text = _row_text(cells)
        if text:
            state.skipped.append(Skipped(state.where(number), "title row before the header", text))
    data = rows[header.index + 1 :]
    # Rows after the last one with a code are the signature block ("Người lập biểu", names),
    # whichever column the text is in.
    last_coded = max(
        (i for i, (_n, cells) in enumerate(data) if _cell(cells, header, "code")), default=-1
    )
    for position, (number, cells) in enumerate(data):
        has_code = bool(_cell(cells, header, "code"))
        if not _row_text(cells):
            pass
        elif not has_code and position > last_coded:
            reason = "signature or note row after the data"
            state.skipped.append(Skipped(state.where(number), reason, _row_text(cells)))
        elif not has_code and not _cell(cells, header, "name"):
            reason = "row without code or name"
            state.skipped.append(Skipped(state.where(number), reason, _row_text(cells)))
        else:
            _import_row(state, number, cells, header)
        done = position + 1
        if progress is not None and (done % _PROGRESS_EVERY == 0 or done == len(data)):
            progress(done, len(data))
    return ImportResult(
        tuple(state.procedures),
        tuple(state.skipped),
        tuple(state.warnings),
        state.locations,
        frozenset(state.guessed_levels),
    )


def _import_row(state: _Import, number: int, cells: Sequence[object], header: _Header) -> None:
    where = state.where(number)
    raw_code = _raw(cells, header, "code")
    code_text = one_line(clean_text(raw_code))
    name = one_line(clean_text(_raw(cells, header, "name")))
    if _TEST.search(f"{code_text} {fold_diacritics(name)}"):
        state.skipped.append(Skipped(where, "test row", f"{code_text} {name}".strip()))
        return
    if not code_text:
        state.skipped.append(Skipped(where, "no code", name[:80]))
        return
    if not name:
        state.skipped.append(Skipped(where, "no name", code_text))
        return
    repaired = repair_code(raw_code)
    code = repaired.code
    if not code or code_shape(code) == "malformed":
        state.skipped.append(Skipped(where, "malformed code", f"'{code_text}' {name[:60]}"))
        return
    if repaired.changes:
        shown = repr(raw_code) if not isinstance(raw_code, str) else f"'{raw_code}'"
        state.warnings.append(
            f"{where}: code {shown} read as {code} ({'; '.join(repaired.changes)})"
        )
    if code_shape(code) == "local":
        state.warnings.append(f"{where}: local code {code} is not a national code (kept)")
    levels, stated = _levels(cells, header, name, repaired.level_mark)
    first = state.first_row.get(code)
    if first is not None:
        if stated:
            state.guessed_levels.discard(code)
        merged = _merge_into_first(state, code, name, levels)
        detail = f"{code}, first at {state.where(first)}{merged}: {name[:60]}"
        state.skipped.append(Skipped(where, "duplicate code", detail))
        return
    raw_field = one_line(clean_text(_raw(cells, header, "field")))
    field_name = _FIELD_AGENCY_PREFIX.sub("", raw_field)
    if not field_name:
        state.skipped.append(Skipped(where, "no field", f"{code} {name[:60]}"))
        return
    original = {"field": raw_field} if field_name != raw_field else {}
    if not stated:
        state.guessed_levels.add(code)
    state.first_row[code] = number
    state.index[code] = len(state.procedures)
    state.locations[code] = SourceLocation(str(state.path), number)
    state.procedures.append(
        Procedure(
            code=code,
            name=name,
            field=field_name,
            levels=levels,
            agency=one_line(clean_text(_raw(cells, header, "agency"))),
            online=_online(cells, header, where, state.warnings),
            decision=one_line(clean_text(_raw(cells, header, "decision"))),
            original=original,
        )
    )


def _merge_into_first(state: _Import, code: str, name: str, levels: tuple[Level, ...]) -> str:
    """Add what a duplicate row says about the same procedure to the first row's procedure.

    The province lists one national procedure once per level, or once per department,
    under the same code ("Xác nhận thông tin hộ tịch (Cấp tỉnh)", "(Cấp xã)"): the first
    row is kept, and the other rows' levels and differently worded names (as aliases) are
    added to it, so that a commune's procedure can still be found. Returns a note for the
    report ("" when nothing was added).
    """
    position = state.index[code]
    first = state.procedures[position]
    new_levels = tuple(level for level in levels if level not in first.levels)
    known = {" ".join(n.casefold().split()) for n in (first.name, *first.aliases)}
    new_alias = () if " ".join(name.casefold().split()) in known else (name,)
    if not new_levels and not new_alias:
        return ""
    state.procedures[position] = replace(
        first, levels=first.levels + new_levels, aliases=first.aliases + new_alias
    )
    added = [what for what, new in (("levels", new_levels), ("name", new_alias)) if new]
    return f", its {' and '.join(added)} added there"


def _levels(
    cells: Sequence[object], header: _Header, name: str, level_mark: str
) -> tuple[tuple[Level, ...], bool]:
    """The row's levels, and whether the row states them (False: the default guess)."""
    written = fold_diacritics(one_line(clean_text(_raw(cells, header, "level")))).lower()
    levels = [level for words, level in _LEVEL_WORDS.items() if words in written]
    if levels:
        return tuple(dict.fromkeys(levels)), True
    in_name = _NAME_LEVEL.search(name)
    if in_name:
        folded = fold_diacritics(in_name.group(1)).lower()
        levels = [level for words, level in _LEVEL_WORDS.items() if folded.startswith(words)]
        if levels:
            return (levels[0],), True
    if level_mark in _LEVEL_MARKS:
        return (_LEVEL_MARKS[level_mark],), True
    return (Level.PROVINCE,), False


def _online(
    cells: Sequence[object], header: _Header, where: str, warnings: list[str]
) -> OnlineLevel:
    written = one_line(clean_text(_raw(cells, header, "online")))
    folded = fold_diacritics(written).lower()
    if not folded:
        return OnlineLevel.UNKNOWN
    if folded in ("1", "2", "3", "4"):
        folded = f"muc do {folded}"
    level = _ONLINE_LEVELS.get(folded)
    if level is None:
        warnings.append(f"{where}: unknown online service level '{written}'")
        return OnlineLevel.UNKNOWN
    return level


def _raw(cells: Sequence[object], header: _Header, role: str) -> object:
    position = header.columns.get(role)
    if position is None or position >= len(cells):
        return None
    return cells[position]


def _cell(cells: Sequence[object], header: _Header, role: str) -> str:
    return one_line(clean_text(_raw(cells, header, role)))


def _row_text(cells: Iterable[object]) -> str:
    """The row's non-empty cells, for reports."""
    text = " | ".join(t for t in (one_line(clean_text(c)) for c in cells) if t)
    return text if len(text) <= 100 else f"{text[:97]}..."


def _with_warnings(result: ImportResult, notes: Sequence[str]) -> ImportResult:
    if not notes:
        return result
    return replace(result, warnings=(*notes, *result.warnings))
