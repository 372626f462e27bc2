"""The procedure model: what the bot knows about one administrative procedure (TTHC).

Plain frozen dataclasses, no I/O. Files on disk (`bot.catalogue.files`) and importers of
real catalogues (`bot.catalogue.importers`) both produce these objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum


class Level(StrEnum):
    """Administrative level that handles a procedure (cấp thực hiện)."""

    MINISTRY = "Cấp bộ"
    PROVINCE = "Cấp tỉnh"
    DISTRICT = "Cấp huyện"
    COMMUNE = "Cấp xã"
    OTHER = "Cơ quan khác"


class OnlineLevel(StrEnum):
    """How much of the procedure can be done online (mức độ dịch vụ công trực tuyến).

    Decision 45/2020 and the 2022 decree replaced levels 1-4 with these; the importer maps
    the old ones: levels 1-2 -> OFFLINE, 3 -> PARTIAL, 4 -> FULL.
    """

    FULL = "toàn trình"
    PARTIAL = "một phần"
    OFFLINE = "trực tiếp"
    UNKNOWN = "chưa rõ"


class DocumentKind(StrEnum):
    SUBMIT = "nộp"  # giấy tờ phải nộp
    PRESENT = "xuất trình"  # giấy tờ phải xuất trình (shown, not kept)
    NOTE = "lưu ý"  # guidance rows that the portal lists among documents


# National codes look like 1.001193 or 2.000815; provinces append their own suffix
# (1.000028.000.00.00.H37). Local codes (CCCX_01) are accepted but flagged by the checker.
NATIONAL_CODE = re.compile(r"^\d\.\d{6}$")
SUFFIXED_CODE = re.compile(r"^\d\.\d{6}(\.[0-9A-Z]{2,3})+$")
LOCAL_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,30}$")


def code_shape(code: str) -> str:
    """'national', 'suffixed', 'local' or 'malformed'."""
    if NATIONAL_CODE.match(code):
        return "national"
    if SUFFIXED_CODE.match(code):
        return "suffixed"
    if LOCAL_CODE.match(code):
        return "local"
    return "malformed"


class Validity(StrEnum):
    """Where a dated entry stands on a given day."""

    CURRENT = "current"
    EXPIRED = "expired"  # its last day has passed: never shown as current
    UPCOMING = "upcoming"  # applies from a later day


def validity_on(
    today: dt.date, valid_from: dt.date | None, valid_until: dt.date | None
) -> Validity:
    """`valid_until` is the last day included ("áp dụng đến hết 31/12/2025")."""
    if valid_until is not None and today > valid_until:
        return Validity.EXPIRED
    if valid_from is not None and today < valid_from:
        return Validity.UPCOMING
    return Validity.CURRENT


@dataclass(frozen=True, slots=True)
class Document:
    """One required document (thành phần hồ sơ)."""

    name: str
    quantity: str = ""  # as written, e.g. "1 bản chính, 1 bản sao"
    copies: int | None = None  # the number in `quantity` when there is one
    form: str = ""  # form name or number (mẫu đơn, tờ khai)
    kind: DocumentKind = DocumentKind.SUBMIT
    # The case it is needed in ("Trẻ bị bỏ rơi"); "" when everyone needs it.
    case: str = ""
    form_url: str = ""  # where the form can be downloaded, when the source gives it
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # last day the rule applies


@dataclass(frozen=True, slots=True)
class ProcessingTime:
    """Processing time (thời hạn giải quyết): the text and, when it is a number, working days."""

    text: str
    working_days: float | None = None


@dataclass(frozen=True, slots=True)
class SubmissionChannel:
    """One way to submit (hình thức nộp) with its time and fee, as the portal lists them."""

    method: str  # "Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính"
    time: ProcessingTime
    fee: str = ""
    description: str = ""
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # last day this time and fee apply


@dataclass(frozen=True, slots=True)
class Fee:
    """A fee or charge (phí, lệ phí); `amount_vnd` is set when the text states one amount."""

    text: str
    amount_vnd: int | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # last day this amount applies


@dataclass(frozen=True, slots=True)
class LegalReference:
    """One legal document (căn cứ pháp lý): its title and number (e.g. 123/2015/NĐ-CP)."""

    title: str
    number: str = ""


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    field: str
    levels: tuple[Level, ...]
    agency: str = ""
    applicants: str = ""
    online: OnlineLevel = OnlineLevel.UNKNOWN
    online_url: str = ""
    documents: tuple[Document, ...] = ()
    time: ProcessingTime = ProcessingTime("")
    channels: tuple[SubmissionChannel, ...] = ()
    fees: tuple[Fee, ...] = ()
    where: str = ""
    steps: tuple[str, ...] = ()
    conditions: str = ""
    result: str = ""
    legal_basis: tuple[LegalReference, ...] = ()
    decision: str = ""
    aliases: tuple[str, ...] = ()
    source_url: str = ""
    # Original source text for parts that could not be parsed (or parsed only partly),
    # keyed by the part's name ("documents", "channels", "legal_basis", ...). Kept so that
    # nothing the source said is ever dropped.
    original: Mapping[str, str] = dataclass_field(default_factory=dict)

    @property
    def base_code(self) -> str:
        """The national code a province's code extends: 1.004723 of 1.004723.000.00.00.H37."""
        return self.code[:8] if code_shape(self.code) == "suffixed" else self.code

    @property
    def fee_summary(self) -> str:
        """One line about fees, from `fees` or else from the channels' fee column."""
        if self.fees:
            return "; ".join(fee.text for fee in self.fees)
        seen: list[str] = []
        for channel in self.channels:
            if channel.fee and channel.fee not in seen:
                seen.append(channel.fee)
        return "; ".join(seen)

    @property
    def shortest_working_days(self) -> float | None:
        days = [c.time.working_days for c in self.channels if c.time.working_days is not None]
        if self.time.working_days is not None:
            days.append(self.time.working_days)
        return min(days) if days else None


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a procedure came from, for error messages: a file and a line (1-based)."""

    path: str
    line: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Catalogue:
    """An ordered, code-indexed collection of procedures."""

    procedures: tuple[Procedure, ...]
    locations: Mapping[str, SourceLocation] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {p.code: p for p in self.procedures})

    def __len__(self) -> int:
        return len(self.procedures)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self.procedures)

    def get(self, code: str) -> Procedure | None:
        by_code: dict[str, Procedure] = object.__getattribute__(self, "_by_code")
        return by_code.get(code)
