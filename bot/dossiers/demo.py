"""Demo dossiers: a dossier database with realistic content, so lookups work at once.

    made = DemoGenerator(now, calendar).generate(60)
    await write_demo(engine, made)

`write_demo` creates the bundled schema (`bot.dossiers.bundled`) and fills it with
dossiers in every standard status: some overdue (a few with a new appointment date), some
waiting for missing documents, each with several history steps. Dates are relative to the
day it runs, so "overdue" and "due in 2 working days" stay true whenever it is run.
`bot demo` (bot/commands/demo.py) writes them at `dossiers.sql.url` and prints a few codes
with the values that verify them.

The data is invented (names, phone and ID numbers are random); procedure names and codes are
real national ones so that the dialogue can link to their descriptions.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dossiers import bundled
from bot.dossiers.model import DossierStatus
from bot.dossiers.working_days import WorkingCalendar

# The center's agency code in the demo codes (shape of QCVN 102:2016; the example of the
# issue). A real center's codes come from its one-stop system.
DEMO_AGENCY_CODE = "000.00.12.H58"
DEMO_SEED = 20251120


@dataclass(frozen=True, slots=True)
class DemoProcedure:
    code: str
    name: str
    working_days: int
    agency: str
    supplement_documents: tuple[str, ...]


PROCEDURES: tuple[DemoProcedure, ...] = (
    DemoProcedure(
        "1.001193",
        "Đăng ký khai sinh",
        1,
        "UBND xã Tân Thành",
        ("Giấy chứng sinh (bản chính)", "Giấy chứng nhận kết hôn của cha, mẹ (bản sao)"),
    ),
    DemoProcedure(
        "1.000894",
        "Đăng ký kết hôn",
        3,
        "UBND xã Tân Thành",
        ("Giấy xác nhận tình trạng hôn nhân của bên nữ (bản chính)",),
    ),
    DemoProcedure(
        "1.000656",
        "Đăng ký khai tử",
        1,
        "UBND phường Đông Hải",
        ("Giấy báo tử hoặc giấy tờ thay thế Giấy báo tử (bản chính)",),
    ),
    DemoProcedure(
        "3.000333",
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại "
        "Việt Nam",
        10,
        "Sở Tư pháp",
        (
            "Bản chụp Căn cước công dân còn hiệu lực",
            "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp (mẫu số 03/2013/TT-LLTP) có chữ ký",
        ),
    ),
    DemoProcedure(
        "1.001612",
        "Đăng ký thành lập hộ kinh doanh",
        3,
        "UBND phường Đông Hải",
        (
            "Bản sao hợp đồng thuê địa điểm kinh doanh",
            "Biên bản họp thành viên hộ gia đình về việc thành lập hộ kinh doanh",
        ),
    ),
    DemoProcedure(
        "2.000720",
        "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh",
        3,
        "UBND phường Đông Hải",
        ("Giấy chứng nhận đăng ký hộ kinh doanh đã cấp (bản chính)",),
    ),
    DemoProcedure(
        "1.012783",
        "Cấp đổi Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        7,
        "Văn phòng đăng ký đất đai tỉnh",
        (
            "Giấy chứng nhận đã cấp (bản gốc)",
            "Mảnh trích đo bản đồ địa chính thửa đất",
            "Đơn đăng ký biến động đất đai (mẫu số 11/ĐK) có chữ ký của tất cả đồng sở hữu",
        ),
    ),
    DemoProcedure(
        "1.004222",
        "Đăng ký thường trú",
        7,
        "Công an xã Tân Thành",
        (
            "Giấy tờ chứng minh chỗ ở hợp pháp (bản sao)",
            "Ý kiến đồng ý của chủ hộ vào tờ khai thay đổi thông tin cư trú",
        ),
    ),
    DemoProcedure(
        "3.000348",
        "Cấp lại giấy phép lái xe",
        7,
        "Phòng Cảnh sát giao thông Công an tỉnh",
        ("Giấy khám sức khỏe của người lái xe (bản chính)",),
    ),
)

# Kept as text, one name per word ("|" where a middle name has two words), to stay readable.
_FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý"
_MIDDLE = "Văn|Thị|Hữu|Đức|Minh|Thu|Ngọc|Quang|Thanh|Xuân|Thị Thu|Văn Hoàng"
_GIVEN = (
    "An Bình Chi Dũng Giang Hà Hải Hạnh Hoa Hùng Hương Khánh Lan Linh Long Mai Minh Nam Ngân "
    "Phong Phương Quân Sơn Tâm Thảo Trang Tuấn Vy Yến"
)
FAMILY_NAMES = tuple(_FAMILY.split())
MIDDLE_NAMES = tuple(_MIDDLE.split("|"))
GIVEN_NAMES = tuple(_GIVEN.split())

# After the first ten (one per status), statuses in these proportions: most dossiers are
# being processed or done, as in a real center.
_STATUS_WEIGHTS = {
    DossierStatus.REGISTERED: 4,
    DossierStatus.ACCEPTED: 8,
    DossierStatus.NOT_ACCEPTED: 2,
    DossierStatus.IN_PROGRESS: 28,
    DossierStatus.SUPPLEMENT_REQUESTED: 10,
    DossierStatus.FINANCIAL_OBLIGATION: 4,
    DossierStatus.WITHDRAWN: 2,
    DossierStatus.SUSPENDED: 2,
    DossierStatus.COMPLETED: 16,
    DossierStatus.RETURNED: 24,
}


@dataclass(slots=True)
class DemoDossier:
    """A generated dossier row and its history rows (bundled schema column names)."""

    row: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


class DemoGenerator:
    """Builds demo dossiers as of `now` (naive local time)."""

    def __init__(self, now: dt.datetime, calendar: WorkingCalendar, seed: int = DEMO_SEED):
        self.now = now
        self.calendar = calendar
        self.rng = random.Random(seed)
        self._counters: dict[dt.date, int] = {}

    def generate(self, count: int) -> list[DemoDossier]:
        statuses = list(DossierStatus)[: min(count, len(DossierStatus))]
        weights = list(_STATUS_WEIGHTS.values())
        statuses += self.rng.choices(list(_STATUS_WEIGHTS), weights, k=count - len(statuses))
        overdue_turn = 0
        made = []
        for status in statuses:
            overdue = False
            if status in (DossierStatus.IN_PROGRESS, DossierStatus.ACCEPTED):
                # Every third open dossier is late, the first in-progress one always.
                overdue = status is DossierStatus.IN_PROGRESS and overdue_turn % 3 == 0
                overdue_turn += status is DossierStatus.IN_PROGRESS
            made.append(self._dossier(status, overdue))
        return made

    def _working_time(self, day: dt.date) -> dt.datetime:
        minutes = self.rng.randrange(7 * 60 + 30, 16 * 60 + 30)
        return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))

    def _days_ago(self, working_days: int) -> dt.date:
        return self.calendar.add_working_days(self.now.date(), -working_days)

    def _code(self, received: dt.date) -> str:
        counter = self._counters.get(received, 0) + 1
        self._counters[received] = counter
        return f"{DEMO_AGENCY_CODE}-{received:%y%m%d}-{counter:04d}"

    def _dossier(self, status: DossierStatus, overdue: bool) -> DemoDossier:
        rng = self.rng
        procedure = rng.choice(PROCEDURES)
        span = procedure.working_days
        if status in (DossierStatus.REGISTERED, DossierStatus.ACCEPTED):
            received_day = self._days_ago(rng.randrange(0, 2))
        elif overdue:
            received_day = self._days_ago(span + rng.randrange(2, 6))
        elif status in (DossierStatus.COMPLETED, DossierStatus.RETURNED):
            received_day = self._days_ago(span + rng.randrange(1, 15))
        else:
            received_day = self._days_ago(rng.randrange(1, max(2, span)))
        received_at = min(self._working_time(received_day), self.now - dt.timedelta(minutes=5))
        due_day = self.calendar.add_working_days(received_day, span)
        due_at = dt.datetime.combine(due_day, dt.time(16, 30))
        name = f"{rng.choice(FAMILY_NAMES)} {rng.choice(MIDDLE_NAMES)} {rng.choice(GIVEN_NAMES)}"
        row: dict[str, Any] = {
            "code": self._code(received_day),
            "procedure_code": procedure.code,
            "procedure_name": procedure.name,
            "applicant_name": name,
            "applicant_phone": "09" + "".join(rng.choices("0123456789", k=8)),
            "applicant_id_number": "058"
            + rng.choice("0123")
            + f"{rng.randrange(60, 99):02d}"
            + "".join(rng.choices("0123456789", k=6)),
            "status": int(status),
            "received_at": received_at,
            "due_at": due_at,
            "new_due_at": None,
            "finished_at": None,
            "returned_at": None,
            "current_step": "",
            "agency": procedure.agency,
            "note": "",
            "missing_documents": "",
            "pickup_place": "",
        }
        demo = DemoDossier(row)
        steps = _Steps(demo, received_at, self.now, rng)
        if status is DossierStatus.REGISTERED:
            row["due_at"] = None
            steps.add(
                DossierStatus.REGISTERED,
                "Nộp hồ sơ trực tuyến trên Cổng Dịch vụ công",
                "Trung tâm Phục vụ hành chính công tỉnh",
                at=received_at,
            )
            return demo
        if status is DossierStatus.NOT_ACCEPTED:
            row["due_at"] = None
            steps.add(
                DossierStatus.REGISTERED,
                "Nộp hồ sơ trực tuyến trên Cổng Dịch vụ công",
                "Trung tâm Phục vụ hành chính công tỉnh",
                at=received_at,
            )
            steps.add(
                DossierStatus.NOT_ACCEPTED,
                "Từ chối tiếp nhận",
                "Trung tâm Phục vụ hành chính công tỉnh",
                note="Thủ tục không thuộc thẩm quyền giải quyết của cấp tỉnh; đề nghị "
                "nộp tại UBND cấp xã nơi cư trú.",
            )
            return demo
        steps.add(
            DossierStatus.ACCEPTED,
            "Tiếp nhận hồ sơ, viết phiếu hẹn",
            "Trung tâm Phục vụ hành chính công tỉnh",
            at=received_at,
        )
        if status is DossierStatus.ACCEPTED:
            return demo
        steps.add(
            DossierStatus.IN_PROGRESS, "Chuyển hồ sơ đến cơ quan giải quyết", procedure.agency
        )
        if status is DossierStatus.IN_PROGRESS:
            steps.add(DossierStatus.IN_PROGRESS, "Thẩm định hồ sơ", procedure.agency)
            if overdue and rng.random() < 0.6:
                new_due = self.calendar.add_working_days(self.now.date(), rng.randrange(2, 6))
                row["new_due_at"] = dt.datetime.combine(new_due, dt.time(16, 30))
                steps.add(
                    DossierStatus.IN_PROGRESS,
                    "Gửi thư xin lỗi và hẹn lại ngày trả kết quả",
                    procedure.agency,
                    note="Hồ sơ cần xác minh thêm tại địa phương.",
                )
            return demo
        if status is DossierStatus.SUPPLEMENT_REQUESTED:
            wanted = rng.randrange(1, len(procedure.supplement_documents) + 1)
            row["missing_documents"] = "\n".join(procedure.supplement_documents[:wanted])
            steps.add(
                DossierStatus.SUPPLEMENT_REQUESTED,
                "Yêu cầu bổ sung hồ sơ",
                procedure.agency,
                note="Công dân bổ sung giấy tờ tại quầy tiếp nhận hoặc trực tuyến.",
            )
            return demo
        if status is DossierStatus.FINANCIAL_OBLIGATION:
            steps.add(
                DossierStatus.FINANCIAL_OBLIGATION,
                "Chờ thực hiện nghĩa vụ tài chính",
                procedure.agency,
                note="Đề nghị nộp lệ phí theo thông báo của cơ quan thuế trước khi nhận kết quả.",
            )
            return demo
        if status is DossierStatus.WITHDRAWN:
            steps.add(
                DossierStatus.WITHDRAWN,
                "Công dân rút hồ sơ",
                "Trung tâm Phục vụ hành chính công tỉnh",
                note="Công dân có đơn xin rút hồ sơ.",
            )
            return demo
        if status is DossierStatus.SUSPENDED:
            steps.add(
                DossierStatus.SUSPENDED,
                "Dừng xử lý hồ sơ",
                procedure.agency,
                note="Công dân không bổ sung hồ sơ trong thời hạn yêu cầu.",
            )
            return demo
        steps.add(DossierStatus.IN_PROGRESS, "Trình lãnh đạo ký duyệt", procedure.agency)
        late = rng.random() < 0.25
        finish_day = due_day if not late else self.calendar.add_working_days(due_day, 1)
        finish_day = min(
            finish_day, self._days_ago(1) if status is DossierStatus.RETURNED else self.now.date()
        )
        finished_at = steps.add(
            DossierStatus.COMPLETED,
            "Đã có kết quả, chuyển bộ phận trả kết quả",
            "Trung tâm Phục vụ hành chính công tỉnh",
            at=self._working_time(finish_day),
        )
        row["finished_at"] = finished_at
        if status is DossierStatus.RETURNED:
            row["returned_at"] = steps.add(
                DossierStatus.RETURNED,
                "Đã trả kết quả cho công dân",
                "Trung tâm Phục vụ hành chính công tỉnh",
            )
        return demo


class _Steps:
    """Appends history rows at increasing times, never later than now."""

    def __init__(
        self, demo: DemoDossier, start: dt.datetime, now: dt.datetime, rng: random.Random
    ) -> None:
        self._demo = demo
        self._last = start
        self._now = now
        self._rng = rng

    def add(
        self,
        status: DossierStatus,
        step: str,
        agency: str,
        *,
        note: str = "",
        at: dt.datetime | None = None,
    ) -> dt.datetime:
        if at is None:
            room = max((self._now - self._last).total_seconds(), 60.0)
            at = self._last + dt.timedelta(seconds=self._rng.uniform(0.1, 0.4) * room)
        at = max(at, self._last)
        at = min(at, self._now)
        self._last = at
        self._demo.history.append(
            {
                "dossier_code": self._demo.row["code"],
                "at": at,
                "status": int(status),
                "step": step,
                "agency": agency,
                "note": note,
            }
        )
        row = self._demo.row
        row["current_step"], row["agency"] = step, agency
        if note:
            row["note"] = note
        return at


async def write_demo(engine: AsyncEngine, made: Sequence[DemoDossier]) -> None:
    """Create the bundled tables and replace their content with `made`."""
    async with engine.begin() as connection:
        await connection.run_sync(bundled.dossier_metadata.create_all)
        await connection.execute(delete(bundled.dossier_history))
        await connection.execute(delete(bundled.dossiers))
        await connection.execute(bundled.dossiers.insert(), [d.row for d in made])
        history = sorted((h for d in made for h in d.history), key=lambda h: h["at"])
        await connection.execute(bundled.dossier_history.insert(), history)
