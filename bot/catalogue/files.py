"""The catalogue on disk: one TOML file per procedure, in folders by field.

`read_catalogue` turns a folder into a `Catalogue` and a list of `Problem`s, each with a
file and line, so that `bot catalogue check` can point staff at the exact place to fix.
`write_catalogue` is its inverse, used by the importers; it writes stable file names and a
stable key order so that re-importing the same source gives the same tree (a readable diff).

Files and folders whose name starts with "_" (`_vocabulary.toml`, `_events/`) are not
procedures.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from bot.catalogue.model import (
    Catalogue,
    Document,
    DocumentKind,
    Fee,
    LegalReference,
    Level,
    OnlineLevel,
    Procedure,
    ProcessingTime,
    SourceLocation,
    SubmissionChannel,
    code_shape,
)
from bot.catalogue.slug import slugify


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    location: SourceLocation
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.location}: {prefix}{self.message}"


class CatalogueError(Exception):
    """The catalogue cannot be used at all (no folder, or not one procedure loads)."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class _InvalidProcedure(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


_E = TypeVar("_E", bound=StrEnum)

REQUIRED_KEYS = ("code", "name", "field", "levels")
_TOP_LEVEL_KEYS = frozenset(
    {
        "code",
        "name",
        "field",
        "levels",
        "agency",
        "applicants",
        "online",
        "online_url",
        "where",
        "conditions",
        "result",
        "decision",
        "source_url",
        "aliases",
        "steps",
        "time",
        "documents",
        "channels",
        "fees",
        "legal_basis",
        "original",
    }
)
_TOML_LINE = re.compile(r"at line (\d+)")


def procedure_files(root: Path) -> list[Path]:
    """Procedure files under `root` in a stable order (sorted relative paths)."""
    if root.is_file():
        return [root]
    return sorted(
        (
            p
            for p in root.rglob("*.toml")
            if not any(part.startswith("_") for part in p.relative_to(root).parts)
        ),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def read_catalogue(root: Path) -> tuple[Catalogue, list[Problem]]:
    """Read every procedure file under `root`; invalid files are reported and left out."""
    problems: list[Problem] = []
    procedures: list[Procedure] = []
    locations: dict[str, SourceLocation] = {}
    if not root.exists():
        raise CatalogueError(f"{root}: catalogue folder not found")
    files = procedure_files(root)
    if not files:
        problems.append(Problem(SourceLocation(str(root)), "no procedure files (*.toml) found"))
    for path in files:
        procedure, file_problems = read_procedure_file(path)
        problems.extend(file_problems)
        if procedure is None:
            continue
        code_line = _key_line(path, "code")
        if procedure.code in locations:
            first = locations[procedure.code]
            problems.append(
                Problem(
                    SourceLocation(str(path), code_line),
                    f"duplicate code {procedure.code} (first defined at {first}); file skipped",
                )
            )
            continue
        locations[procedure.code] = SourceLocation(str(path), code_line)
        procedures.append(procedure)
    return Catalogue(tuple(procedures), locations), problems


def load_catalogue(root: Path) -> tuple[Catalogue, list[Problem]]:
    """Like `read_catalogue`, but a catalogue with no usable procedure is an error."""
    catalogue, problems = read_catalogue(root)
    if not len(catalogue):
        raise CatalogueError(f"{root}: no usable procedures", problems)
    return catalogue, problems


def read_procedure_file(path: Path) -> tuple[Procedure | None, list[Problem]]:
    location = SourceLocation(str(path), 1)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(location, f"cannot read file: {exc.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(SourceLocation(str(path), line), "not valid UTF-8 text")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else 1
        return None, [Problem(SourceLocation(str(path), line), f"not valid TOML: {exc}")]
    return procedure_from_data(data, str(path), text)


def procedure_from_data(
    data: Mapping[str, Any], path: str, text: str = ""
) -> tuple[Procedure | None, list[Problem]]:
    """Validate one procedure's TOML data; returns the procedure (or None) and problems."""

    def at(key: str) -> SourceLocation:
        return SourceLocation(path, _line_of_key(text, key))

    problems: list[Problem] = []
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            problems.append(Problem(at(key), f"unknown key '{key}'", Severity.WARNING))
    missing = [key for key in REQUIRED_KEYS if not data.get(key)]
    for key in missing:
        problems.append(Problem(SourceLocation(path, 1), f"missing required field '{key}'"))
    if missing:
        return None, problems
    try:
        procedure = _procedure(data)
    except _InvalidProcedure as exc:
        problems.append(Problem(at(exc.key), exc.message))
        return None, problems
    shape = code_shape(procedure.code)
    if shape == "malformed":
        problems.append(
            Problem(
                at("code"),
                f"malformed code '{procedure.code}': expected N.NNNNNN (e.g. 1.001193), "
                "a province-suffixed code or a local code such as CCCX_01",
            )
        )
        return None, problems
    if shape == "local":
        problems.append(
            Problem(
                at("code"),
                f"local code '{procedure.code}' is not a national code",
                Severity.WARNING,
            )
        )
    no_documents = not procedure.documents and "documents" not in procedure.original
    no_time = not procedure.time.text and not procedure.channels
    if no_documents and no_time and not procedure.fees and not procedure.steps:
        # A province's list imported without national details: one warning, not four.
        problems.append(
            Problem(
                at("code"),
                "name only (no documents, time, fee or steps): answers give the hotline "
                "and the procedure's page",
                Severity.WARNING,
            )
        )
        return procedure, problems
    if no_documents:
        problems.append(Problem(at("code"), "no required documents listed", Severity.WARNING))
    if no_time:
        problems.append(Problem(at("code"), "no processing time given", Severity.WARNING))
    return procedure, problems


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _InvalidProcedure(key, f"'{key}' must be a string, got {type(value).__name__}")
    return value.strip()


def _str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _InvalidProcedure(key, f"'{key}' must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _InvalidProcedure(key, f"'{key}' must be an array of tables ([[{key}]])")
    return value


def _number(data: Mapping[str, Any], key: str, owner: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _InvalidProcedure(owner, f"'{owner}.{key}' must be a non-negative number")
    return float(value)


def _int(data: Mapping[str, Any], key: str, owner: str) -> int | None:
    value = _number(data, key, owner)
    if value is None:
        return None
    if value != int(value):
        raise _InvalidProcedure(owner, f"'{owner}.{key}' must be a whole number")
    return int(value)


_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _date(data: Mapping[str, Any], key: str, owner: str) -> dt.date | None:
    """A TOML date (2025-12-31), or the same written as a string ("2025-12-31",
    "31/12/2025", as staff write dates)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        match = _DAY_MONTH_YEAR.match(text)
        try:
            if match:
                day, month, year = (int(part) for part in match.groups())
                return dt.date(year, month, day)
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise _InvalidProcedure(
        owner, f"'{owner}.{key}' must be a date such as 2025-12-31 (or \"31/12/2025\")"
    )


def _validity(data: Mapping[str, Any], owner: str) -> tuple[dt.date | None, dt.date | None]:
    valid_from = _date(data, "valid_from", owner)
    valid_until = _date(data, "valid_until", owner)
    if valid_from is not None and valid_until is not None and valid_from > valid_until:
        raise _InvalidProcedure(
            owner, f"'{owner}.valid_from' ({valid_from}) is after valid_until ({valid_until})"
        )
    return valid_from, valid_until


def _enum(enum: type[_E], value: Any, key: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise _InvalidProcedure(key, f"'{key}' must be one of {allowed}, got {value!r}") from None


def _procedure(data: Mapping[str, Any]) -> Procedure:
    levels_raw = data.get("levels")
    if isinstance(levels_raw, str):
        levels_raw = [levels_raw]
    if not isinstance(levels_raw, list):
        raise _InvalidProcedure("levels", "'levels' must be a list such as [\"Cấp xã\"]")
    levels = tuple(_enum(Level, level, "levels") for level in levels_raw)
    time_data = data.get("time", {})
    if isinstance(time_data, str):
        time_data = {"text": time_data}
    if not isinstance(time_data, dict):
        raise _InvalidProcedure("time", "'time' must be a table with 'text' and 'working_days'")
    documents = tuple(_document(d) for d in _tables(data, "documents"))
    channels = tuple(_channel(c) for c in _tables(data, "channels"))
    fees = tuple(_fee(f) for f in _tables(data, "fees"))
    legal = tuple(
        LegalReference(
            title=_str(r, "title") or _missing("legal_basis", "title"), number=_str(r, "number")
        )
        for r in _tables(data, "legal_basis")
    )
    original = data.get("original", {})
    if not isinstance(original, dict) or not all(isinstance(v, str) for v in original.values()):
        raise _InvalidProcedure("original", "'original' must be a table of strings")
    return Procedure(
        code=_str(data, "code"),
        name=_str(data, "name"),
        field=_str(data, "field"),
        levels=levels,
        agency=_str(data, "agency"),
        applicants=_str(data, "applicants"),
        online=_enum(OnlineLevel, data.get("online", OnlineLevel.UNKNOWN.value), "online"),
        online_url=_url(data, "online_url"),
        documents=documents,
        time=ProcessingTime(_str(time_data, "text"), _number(time_data, "working_days", "time")),
        channels=channels,
        fees=fees,
        where=_str(data, "where"),
        steps=_str_list(data, "steps"),
        conditions=_str(data, "conditions"),
        result=_str(data, "result"),
        legal_basis=legal,
        decision=_str(data, "decision"),
        aliases=_str_list(data, "aliases"),
        source_url=_url(data, "source_url"),
        original=dict(original),
    )


def _document(data: Mapping[str, Any]) -> Document:
    valid_from, valid_until = _validity(data, "documents")
    return Document(
        name=_str(data, "name") or _missing("documents", "name"),
        quantity=_str(data, "quantity"),
        copies=_int(data, "copies", "documents"),
        form=_str(data, "form"),
        kind=_enum(DocumentKind, data.get("kind", DocumentKind.SUBMIT.value), "documents"),
        case=_str(data, "case"),
        form_url=_url(data, "form_url", "documents"),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _channel(data: Mapping[str, Any]) -> SubmissionChannel:
    valid_from, valid_until = _validity(data, "channels")
    return SubmissionChannel(
        method=_str(data, "method") or _missing("channels", "method"),
        time=ProcessingTime(_str(data, "time"), _number(data, "working_days", "channels")),
        fee=_str(data, "fee"),
        description=_str(data, "description"),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _fee(data: Mapping[str, Any]) -> Fee:
    valid_from, valid_until = _validity(data, "fees")
    return Fee(
        text=_str(data, "text") or _missing("fees", "text"),
        amount_vnd=_int(data, "amount_vnd", "fees"),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _url(data: Mapping[str, Any], key: str, owner: str = "") -> str:
    """A web address; channels turn it into a button, so nothing else is accepted."""
    value = _str(data, key)
    if value and not re.match(r"^https?://[^\s]+$", value):
        name = f"{owner}.{key}" if owner else key
        raise _InvalidProcedure(
            owner or key, f"'{name}' must be a web address starting with https://"
        )
    return value


def _missing(table: str, key: str) -> str:
    raise _InvalidProcedure(table, f"every [[{table}]] entry needs a non-empty '{key}'")


def _line_of_key(text: str, key: str) -> int:
    """The line where `key = ...` or `[key]`/`[[key]]` first appears; 1 when not found."""
    if not text:
        return 1
    pattern = re.compile(
        rf"^[ \t]*(?:{re.escape(key)}[ \t]*=|\[\[?[ \t]*{re.escape(key)}[ \t]*\]\]?)",
        re.MULTILINE,
    )
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _key_line(path: Path, key: str) -> int:
    try:
        return _line_of_key(path.read_text(encoding="utf-8"), key)
    except (OSError, UnicodeDecodeError):
        return 1


# --- writing ---------------------------------------------------------------------------


def procedure_relative_path(procedure: Procedure) -> Path:
    """Stable location of a procedure's file: `<field-slug>/<code>.toml`."""
    return Path(slugify(procedure.field)) / f"{procedure.code}.toml"


def procedure_to_data(procedure: Procedure) -> dict[str, Any]:
    """The TOML data of a procedure, keys in a fixed order, empty values left out."""
    data: dict[str, Any] = {
        "code": procedure.code,
        "name": procedure.name,
        "field": procedure.field,
        "levels": [level.value for level in procedure.levels],
        "agency": procedure.agency,
        "applicants": procedure.applicants,
        "online": procedure.online.value,
        "online_url": procedure.online_url,
        "where": procedure.where,
        "conditions": procedure.conditions,
        "result": procedure.result,
        "decision": procedure.decision,
        "source_url": procedure.source_url,
        "aliases": list(procedure.aliases),
        "steps": list(procedure.steps),
    }
    time: dict[str, Any] = {"text": procedure.time.text}
    if procedure.time.working_days is not None:
        time["working_days"] = _plain_number(procedure.time.working_days)
    data["time"] = time
    data["documents"] = [
        _drop_empty(
            {
                "name": d.name,
                "quantity": d.quantity,
                "copies": d.copies,
                "form": d.form,
                "form_url": d.form_url,
                "kind": d.kind.value if d.kind is not DocumentKind.SUBMIT else None,
                "case": d.case,
                "valid_from": d.valid_from,
                "valid_until": d.valid_until,
            }
        )
        for d in procedure.documents
    ]
    data["channels"] = [
        _drop_empty(
            {
                "method": c.method,
                "time": c.time.text,
                "working_days": _plain_number(c.time.working_days),
                "fee": c.fee,
                "description": c.description,
                "valid_from": c.valid_from,
                "valid_until": c.valid_until,
            }
        )
        for c in procedure.channels
    ]
    data["fees"] = [
        _drop_empty(
            {
                "text": f.text,
                "amount_vnd": f.amount_vnd,
                "valid_from": f.valid_from,
                "valid_until": f.valid_until,
            }
        )
        for f in procedure.fees
    ]
    data["legal_basis"] = [
        _drop_empty({"title": r.title, "number": r.number}) for r in procedure.legal_basis
    ]
    data["original"] = dict(sorted(procedure.original.items()))
    return _drop_empty(data)


def procedure_to_toml(procedure: Procedure) -> str:
    return tomli_w.dumps(procedure_to_data(procedure), multiline_strings=True)


def write_catalogue(procedures: Iterable[Procedure], root: Path) -> list[Path]:
    """Write one file per procedure under `root`; returns the paths written.

    Files of an earlier import that the new set no longer contains are removed, so the
    tree always mirrors the source. Content is only rewritten when it changed.
    """
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    wanted: set[Path] = set()
    for procedure in procedures:
        path = root / procedure_relative_path(procedure)
        wanted.add(path)
        content = procedure_to_toml(procedure)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            tmp = path.with_suffix(".toml.tmp")
            tmp.write_text(content, encoding="utf-8")
            tmp.replace(path)
        written.append(path)
    for stale in procedure_files(root):
        if stale not in wanted:
            stale.unlink()
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return written


def _plain_number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == int(value) else value


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}
