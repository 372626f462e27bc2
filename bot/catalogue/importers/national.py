"""Importer of the national portal's export (Cổng Dịch vụ công quốc gia): JSON Lines, one
procedure per line, with the portal's Vietnamese keys (ma_thu_tuc, ten_thu_tuc, ...).

A `.json` file holding one array of such objects is read the same way. Table fields are
recovered by `portal_tables`; whatever could not be recovered with confidence is also kept,
as the portal wrote it, in `Procedure.original`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.catalogue.importers import portal_tables
from bot.catalogue.importers.cleaning import clean_text, one_line
from bot.catalogue.importers.result import ImportResult, Skipped, SourceFormatError
from bot.catalogue.model import Level, Procedure, SourceLocation, code_shape
from bot.catalogue.slug import fold_diacritics

Progress = Callable[[int, int], None]

_LEVELS = {fold_diacritics(level.value).lower(): level for level in Level}
# Source fields the model has no place for, kept in `original` under these names when set.
_KEPT_AS_ORIGINAL = {
    "co_quan_duoc_uy_quyen": "delegated_agency",
    "co_quan_phoi_hop": "coordinating_agency",
    "thu_tuc_lien_quan": "related_procedures",
}
_PROGRESS_EVERY = 50


def import_national(path: Path, raw: bytes, progress: Progress | None = None) -> ImportResult:
    """Turn the bytes of a national export into procedures; bad records are skipped.

    Records are parsed one at a time and dropped once turned into a procedure: the raw
    portal records (with their full page text) are several times the size of the file,
    and holding them all at once pushed the process over 200 MB on the national file.
    """
    records = _records(path, raw)
    total = _record_count(raw)
    procedures: list[Procedure] = []
    skipped: list[Skipped] = []
    warnings: list[str] = []
    locations: dict[str, SourceLocation] = {}
    first_seen: dict[str, str] = {}
    for done, (where, line, value) in enumerate(records, start=1):
        if isinstance(value, Skipped):
            skipped.append(value)
        elif not isinstance(value, dict):
            kind = type(value).__name__
            skipped.append(Skipped(where, "not a JSON object", f"a JSON {kind}"))
        else:
            procedure = _procedure(value, where, skipped, warnings)
            if procedure is not None:
                first = first_seen.get(procedure.code)
                if first is not None:
                    detail = f"{procedure.code}, first at {first}"
                    skipped.append(Skipped(where, "duplicate code", detail))
                else:
                    first_seen[procedure.code] = where
                    locations[procedure.code] = SourceLocation(str(path), line)
                    procedures.append(procedure)
        if progress is not None and (done % _PROGRESS_EVERY == 0 or done == total):
            progress(done, max(total, done))
    return ImportResult(tuple(procedures), tuple(skipped), tuple(warnings), locations)


def _record_count(raw: bytes) -> int:
    """Records in the file, for the progress bar: non-blank lines, or 0 for a JSON array."""
    if raw.lstrip()[:1] == b"[":
        return 0
    return sum(1 for line in io.BytesIO(raw) if line.strip())


def _records(path: Path, raw: bytes) -> Iterator[tuple[str, int, object]]:
    """(where, line, parsed value or Skipped) for every record of the file."""
    text_start = raw.lstrip()[:1]
    if text_start == b"[":
        yield from _array_records(path, raw)
        return
    for number, line in enumerate(io.BytesIO(raw), start=1):
        where = f"line {number}"
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield where, number, Skipped(where, "not valid UTF-8")
            continue
        try:
            yield where, number, json.loads(text)
        except json.JSONDecodeError as exc:
            yield where, number, Skipped(where, "not valid JSON", exc.msg)


def _array_records(path: Path, raw: bytes) -> Iterator[tuple[str, int, object]]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceFormatError(path, f"not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            path, f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, list):
        raise SourceFormatError(path, "expected a JSON array of procedures or JSON Lines")
    for index, item in enumerate(data, start=1):
        yield f"item {index}", 1, item


def _procedure(
    record: Mapping[str, Any], where: str, skipped: list[Skipped], warnings: list[str]
) -> Procedure | None:
    code = _line(record, "ma_thu_tuc")
    name = _line(record, "ten_thu_tuc")
    if not code or not name:
        missing = " and ".join(
            key for key, value in (("ma_thu_tuc", code), ("ten_thu_tuc", name)) if not value
        )
        skipped.append(Skipped(where, "no code or name", f"{missing} missing ({code or name})"))
        return None
    if code_shape(code) == "malformed":
        skipped.append(Skipped(where, "malformed code", f"'{code}' ({name[:60]})"))
        return None
    field = _line(record, "linh_vuc")
    if not field:
        skipped.append(Skipped(where, "no field", f"{code}: linh_vuc missing"))
        return None
    original: dict[str, str] = {}
    documents = portal_tables.parse_documents(_text(record, "thanh_phan_ho_so"))
    channels = portal_tables.parse_channels(_text(record, "cach_thuc_thuc_hien"))
    legal = portal_tables.parse_legal_basis(_text(record, "can_cu_phap_ly"))
    for part, parsed, key in (
        ("documents", documents, "thanh_phan_ho_so"),
        ("channels", channels, "cach_thuc_thuc_hien"),
        ("legal_basis", legal, "can_cu_phap_ly"),
    ):
        if not parsed.complete:
            original[part] = _paragraphs(record, key)
    for key, part in _KEPT_AS_ORIGINAL.items():
        value = _paragraphs(record, key)
        if value:
            original[part] = value
    outcome = portal_tables.parse_result(_text(record, "ket_qua_xu_ly"))
    aliases = tuple(dict.fromkeys(k for k in outcome.keywords if k.casefold() != name.casefold()))
    return Procedure(
        code=code,
        name=name,
        field=field,
        levels=_levels(_text(record, "cap_thuc_hien"), where, code, warnings),
        agency=_agency(record),
        applicants=_line(record, "doi_tuong_thuc_hien"),
        documents=documents.items,
        time=portal_tables.common_time(channels.items),
        channels=channels.items,
        where=_paragraphs(record, "dia_chi_tiep_nhan"),
        steps=portal_tables.parse_steps(_text(record, "trinh_tu_thuc_hien")),
        conditions=_paragraphs(record, "yeu_cau_dieu_kien"),
        result=outcome.result,
        legal_basis=legal.items,
        decision=_line(record, "so_quyet_dinh"),
        aliases=aliases,
        source_url=_line(record, "detail_url"),
        original=original,
    )


def _text(record: Mapping[str, Any], key: str) -> str:
    """The field as the portal wrote it ("" when absent)."""
    value = record.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _paragraphs(record: Mapping[str, Any], key: str) -> str:
    """The field cleaned, line breaks kept; "Không có thông tin" is ""."""
    return clean_text(_text(record, key))


def _line(record: Mapping[str, Any], key: str) -> str:
    """The field cleaned, on one line."""
    return one_line(_paragraphs(record, key))


def _levels(raw: str, where: str, code: str, warnings: list[str]) -> tuple[Level, ...]:
    """The levels of "Cấp bộ, Cấp tỉnh": (MINISTRY, PROVINCE). A procedure needs a level, so
    one with none that is known is filed under OTHER, with a warning."""
    levels: list[Level] = []
    for part in raw.split(","):
        folded = fold_diacritics(one_line(part)).lower()
        if not folded:
            continue
        level = _LEVELS.get(folded)
        if level is None:
            warnings.append(f"{where}: {code}: unknown level '{part.strip()}' ignored")
        elif level not in levels:
            levels.append(level)
    if not levels:
        warnings.append(f"{where}: {code}: no known level, filed under '{Level.OTHER.value}'")
        levels.append(Level.OTHER)
    return tuple(levels)


def _agency(record: Mapping[str, Any]) -> str:
    """The handling agency (cơ quan thực hiện), and the competent authority (cơ quan có
    thẩm quyền) when it is a different one."""
    agencies = [_line(record, key) for key in ("co_quan_thuc_hien", "co_quan_co_tham_quyen")]
    return "; ".join(dict.fromkeys(a for a in agencies if a))
