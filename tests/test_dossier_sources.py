"""Dossier sources: the bundled schema, a vendor schema on SQLite and PostgreSQL, a JSON API,
and the guard that turns outages into SourceUnavailable, logged once per outage."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import DossierConfig, DossierHttpConfig, DossierSqlConfig, load_config
from bot.dossiers import bundled
from bot.dossiers.demo import DemoGenerator, write_demo
from bot.dossiers.http_source import HttpDossierSource
from bot.dossiers.model import DossierStatus, StatusMapping
from bot.dossiers.source import GuardedSource, SourceMisconfigured, SourceUnavailable
from bot.dossiers.sql_source import SqlDossierSource, decode_cursor, encode_cursor
from bot.dossiers.working_days import WorkingCalendar
from bot.storage.database import create_engine

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2025, 11, 20, 10, 0)  # naive local time of the center


# --- the bundled schema -----------------------------------------------------------------


@pytest.fixture
async def demo_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'dossiers.sqlite3'}")
    await write_demo(engine, DemoGenerator(NOW, WorkingCalendar()).generate(30))
    yield engine
    await engine.dispose()


async def test_bundled_lookup_history_and_changes(demo_engine: AsyncEngine) -> None:
    source = SqlDossierSource.for_engine(demo_engine, DossierConfig(), owns_engine=False)
    async with demo_engine.connect() as connection:
        code = (
            await connection.execute(
                text("SELECT code FROM dossiers WHERE status = 5 ORDER BY code LIMIT 1")
            )
        ).scalar_one()
    dossier = await source.lookup(code)
    assert dossier is not None
    assert dossier.code == code
    assert dossier.status is DossierStatus.SUPPLEMENT_REQUESTED
    assert dossier.missing_documents  # a supplement request lists what is missing
    assert dossier.received_at is not None and dossier.received_at.tzinfo is not None
    assert dossier.received_at.utcoffset() == dt.timedelta(hours=7)
    assert dossier.applicant_phone.startswith("09")
    history = await source.history(code)
    assert [entry.status for entry in history][-1] is DossierStatus.SUPPLEMENT_REQUESTED
    moments = [entry.at for entry in history]
    assert moments == sorted(moments)  # type: ignore[type-var]

    assert await source.lookup("000.00.12.H58-991231-9999") is None

    head = await source.changed_since(None)
    assert head.changes == ()
    assert await source.changed_since(head.cursor) == dataclasses.replace(head, changes=())
    async with demo_engine.begin() as connection:
        await connection.execute(
            bundled.dossier_history.insert().values(
                dossier_code=code,
                at=NOW + dt.timedelta(minutes=5),
                status=4,
                step="Thẩm định lại hồ sơ đã bổ sung",
                agency="Sở Tư pháp",
            )
        )
    page = await source.changed_since(head.cursor)
    assert len(page.changes) == 1
    change = page.changes[0]
    assert change.dossier.code == code
    assert change.dossier.status is DossierStatus.IN_PROGRESS
    assert change.dossier.current_step == "Thẩm định lại hồ sơ đã bổ sung"
    assert change.changed_at == (NOW + dt.timedelta(minutes=5)).replace(tzinfo=VN)
    assert page.cursor != head.cursor
    assert (await source.changed_since(page.cursor)).changes == ()


def test_cursor_values_keep_their_type() -> None:
    for value in (
        42,
        "2025-11-20 10:00:00",
        dt.datetime(2025, 11, 20, 10, 0),
        dt.date(2025, 11, 20),
    ):
        assert decode_cursor(encode_cursor(value)) == value
        assert type(decode_cursor(encode_cursor(value))) is type(value)
    with pytest.raises(SourceMisconfigured):
        decode_cursor("x:1")


# --- a vendor schema, on SQLite and on PostgreSQL ---------------------------------------

VENDOR_DOSSIERS: list[dict[str, Any]] = [
    {
        "ma_ho_so": "000.00.07.H12-251103-0042",
        "ma_thu_tuc": "1.001612",
        "ten_thu_tuc": "Đăng ký thành lập hộ kinh doanh",
        "ho_ten_nguoi_nop": "Trần Thị Bích Ngọc",
        "so_dien_thoai": "0987 654 321",
        "so_giay_to": "012345678901",
        "trang_thai": "Chờ bổ sung hồ sơ",
        "ngay_tiep_nhan": dt.datetime(2025, 11, 3, 8, 15),
        "ngay_hen_tra": dt.datetime(2025, 11, 6, 16, 30),
        "ngay_hen_tra_moi": None,
        "ngay_hoan_thanh": None,
        "ngay_tra_kq": None,
        "buoc_hien_tai": "Yêu cầu bổ sung",
        "don_vi_xu_ly": "Phòng Tài chính - Kế hoạch",
        "ghi_chu": "Bổ sung trước ngày 20/11",
        "giay_to_can_bo_sung": "Bản sao hợp đồng thuê nhà; - Biên bản họp gia đình",
    },
    {
        "ma_ho_so": "000.00.07.H12-251020-0007",
        "ma_thu_tuc": "1.012783",
        "ten_thu_tuc": "Cấp đổi Giấy chứng nhận quyền sử dụng đất",
        "ho_ten_nguoi_nop": "Lê Văn Tám",
        "so_dien_thoai": "0912000111",
        "so_giay_to": "001090009876",
        "trang_thai": "Đang giải quyết",
        "ngay_tiep_nhan": dt.datetime(2025, 10, 20, 9, 0),
        "ngay_hen_tra": dt.datetime(2025, 10, 29, 16, 30),
        "ngay_hen_tra_moi": dt.datetime(2025, 11, 25, 16, 30),
        "ngay_hoan_thanh": None,
        "ngay_tra_kq": None,
        "buoc_hien_tai": "Đo đạc, xác minh thực địa",
        "don_vi_xu_ly": "Văn phòng đăng ký đất đai",
        "ghi_chu": "",
        "giay_to_can_bo_sung": None,
    },
]
VENDOR_HISTORY: list[dict[str, Any]] = [
    {
        "id": 1,
        "ma_ho_so": "000.00.07.H12-251020-0007",
        "thoi_gian": dt.datetime(2025, 10, 20, 9),
        "trang_thai": "Đã tiếp nhận",
        "noi_dung": "Tiếp nhận hồ sơ",
        "don_vi": "Bộ phận một cửa",
    },
    {
        "id": 2,
        "ma_ho_so": "000.00.07.H12-251020-0007",
        "thoi_gian": dt.datetime(2025, 10, 21, 8),
        "trang_thai": "Đang giải quyết",
        "noi_dung": "Đo đạc, xác minh thực địa",
        "don_vi": "Văn phòng đăng ký đất đai",
    },
    {
        "id": 3,
        "ma_ho_so": "000.00.07.H12-251103-0042",
        "thoi_gian": dt.datetime(2025, 11, 3, 8),
        "trang_thai": "Đã tiếp nhận",
        "noi_dung": "Tiếp nhận hồ sơ",
        "don_vi": "Bộ phận một cửa",
    },
    {
        "id": 4,
        "ma_ho_so": "000.00.07.H12-251103-0042",
        "thoi_gian": dt.datetime(2025, 11, 4, 14),
        "trang_thai": "Chờ bổ sung hồ sơ",
        "noi_dung": "Yêu cầu bổ sung",
        "don_vi": "Phòng Tài chính - Kế hoạch",
    },
]


async def create_vendor_database(url: str, fixtures_dir: Path) -> AsyncEngine:
    engine = create_engine(url)
    ddl = (fixtures_dir / "dossiers" / "vendor_schema.sql").read_text(encoding="utf-8")
    async with engine.begin() as connection:
        for statement in ddl.split(";"):
            if statement.strip():
                await connection.execute(text(statement))
    await insert_vendor_rows(engine, "hs_ho_so", VENDOR_DOSSIERS)
    await insert_vendor_rows(engine, "hs_qua_trinh", VENDOR_HISTORY)
    return engine


async def insert_vendor_rows(engine: AsyncEngine, table: str, rows: list[dict[str, Any]]) -> None:
    if engine.dialect.name == "sqlite":
        # A vendor's SQLite stores text timestamps; write them the way such systems do.
        rows = [
            {k: v.isoformat(" ") if isinstance(v, dt.datetime) else v for k, v in row.items()}
            for row in rows
        ]
    columns = list(rows[0])
    statement = text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        f"({', '.join(':' + c for c in columns)})"
    )
    async with engine.begin() as connection:
        await connection.execute(statement, rows)


def vendor_config(fixtures_dir: Path, url: str) -> DossierConfig:
    config = load_config(fixtures_dir / "dossiers" / "vendor.toml", environ={}).dossiers
    return dataclasses.replace(config, sql=dataclasses.replace(config.sql, url=url))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def vendor_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vendor.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_vendor_schema_with_vietnamese_labels(
    vendor_url: str, fixtures_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await create_vendor_database(vendor_url, fixtures_dir)
    source = SqlDossierSource.from_config(vendor_config(fixtures_dir, vendor_url))
    try:
        dossier = await source.lookup("000.00.07.H12-251103-0042")
        assert dossier is not None
        assert dossier.status is DossierStatus.SUPPLEMENT_REQUESTED
        assert dossier.status_label == "Chờ bổ sung hồ sơ"
        assert dossier.procedure_code == "1.001612"
        assert dossier.applicant_name == "Trần Thị Bích Ngọc"
        assert dossier.missing_documents == ("Bản sao hợp đồng thuê nhà", "Biên bản họp gia đình")
        assert dossier.due_at == dt.datetime(2025, 11, 6, 16, 30, tzinfo=VN)
        assert dossier.applicant_id_number == "012345678901"

        late = await source.lookup("000.00.07.H12-251020-0007")
        assert late is not None
        assert late.status is DossierStatus.IN_PROGRESS
        assert late.new_due_at == dt.datetime(2025, 11, 25, 16, 30, tzinfo=VN)
        assert late.missing_documents == ()

        history = await source.history("000.00.07.H12-251020-0007")
        assert [(e.status, e.step) for e in history] == [
            (DossierStatus.ACCEPTED, "Tiếp nhận hồ sơ"),
            (DossierStatus.IN_PROGRESS, "Đo đạc, xác minh thực địa"),
        ]
        assert history[0].at == dt.datetime(2025, 10, 20, 9, tzinfo=VN)
        assert await source.lookup("000.00.07.H12-251103-0043") is None
        assert await source.history("000.00.07.H12-251103-0043") == []

        # Timestamp cursors: the driver gets them back with their type (asyncpg is strict).
        head = await source.changed_since(None)
        assert (await source.changed_since(head.cursor)).changes == ()
        await insert_vendor_rows(
            engine,
            "hs_qua_trinh",
            [
                {
                    "id": 5,
                    "ma_ho_so": "000.00.07.H12-251103-0042",
                    "thoi_gian": dt.datetime(2025, 11, 20, 9, 30),
                    "trang_thai": "Đang giải quyết",
                    "noi_dung": "Thẩm định hồ sơ bổ sung",
                    "don_vi": "Phòng Tài chính - Kế hoạch",
                },
                {
                    "id": 6,
                    "ma_ho_so": "000.00.07.H12-251020-0007",
                    "thoi_gian": dt.datetime(2025, 11, 20, 9, 45),
                    "trang_thai": "Đang thẩm tra",
                    "noi_dung": "Thẩm tra hồ sơ",
                    "don_vi": "Văn phòng đăng ký đất đai",
                },
            ],
        )
        with caplog.at_level(logging.WARNING):
            page = await source.changed_since(head.cursor)
        assert [(c.change_key, c.dossier.code, c.dossier.status) for c in page.changes] == [
            ("5", "000.00.07.H12-251103-0042", DossierStatus.IN_PROGRESS),
            ("6", "000.00.07.H12-251020-0007", None),  # a label nobody mapped
        ]
        assert page.changes[1].dossier.status_label == "Đang thẩm tra"
        assert "'Đang thẩm tra' is not mapped" in caplog.text
        assert (await source.changed_since(page.cursor)).changes == ()
    finally:
        await source.close()
        await engine.dispose()


async def test_a_query_that_breaks_the_contract_is_reported(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'vendor.sqlite3'}"
    engine = await create_vendor_database(url, fixtures_dir)
    base = vendor_config(fixtures_dir, url)
    no_status = dataclasses.replace(
        base,
        sql=dataclasses.replace(
            base.sql,
            lookup_query="SELECT ma_ho_so AS code FROM hs_ho_so WHERE ma_ho_so = :code",
        ),
    )
    source = SqlDossierSource.from_config(no_status)
    with pytest.raises(SourceMisconfigured, match="no column named status"):
        await source.lookup("000.00.07.H12-251103-0042")
    await source.close()

    bad_sql = dataclasses.replace(
        base, sql=dataclasses.replace(base.sql, lookup_query="SELEC nothing FROM nowhere")
    )
    source = SqlDossierSource.from_config(bad_sql)
    with pytest.raises(SourceUnavailable, match="syntax error"):
        await source.lookup("000.00.07.H12-251103-0042")
    await source.close()
    await engine.dispose()

    with pytest.raises(SourceMisconfigured, match="lookup_query is empty"):
        SqlDossierSource.from_config(
            DossierConfig(sql=DossierSqlConfig(url=url, history_query="SELECT 1"))
        )


async def test_check_tries_every_query_without_a_matching_dossier(
    vendor_url: str, fixtures_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A misconfigured query is found at start-up, not by the first citizen whose dossier
    it reads: the check needs no dossier to exist."""
    engine = await create_vendor_database(vendor_url, fixtures_dir)
    base = vendor_config(fixtures_dir, vendor_url)

    def with_sql(**queries: str) -> DossierConfig:
        return dataclasses.replace(base, sql=dataclasses.replace(base.sql, **queries))

    async def check(config: DossierConfig) -> None:
        source = SqlDossierSource.from_config(config)
        try:
            await source.check()
        finally:
            await source.close()

    try:
        with caplog.at_level(logging.WARNING):
            await check(base)
        assert "not in the contract" not in caplog.text

        no_status = base.sql.lookup_query.replace("trang_thai AS status", "trang_thai AS tinh")
        with pytest.raises(
            SourceMisconfigured, match="lookup query returns no column named status"
        ):
            await check(with_sql(lookup_query=no_status))

        history = base.sql.history_query.replace("thoi_gian AS at", "thoi_gian AS ngay")
        with pytest.raises(SourceMisconfigured, match="history query returns no column named at"):
            await check(with_sql(history_query=history))

        changes = base.sql.changed_since_query.replace("h.ma_ho_so AS code", "h.ma_ho_so")
        with pytest.raises(SourceMisconfigured, match=r"changed-since query .* named code"):
            await check(with_sql(changed_since_query=changes))

        unknown_column = base.sql.lookup_query.replace("ghi_chu AS note", "ghi_chu_x AS note")
        with pytest.raises(SourceMisconfigured, match=r"lookup query fails: .*ghi_chu_x"):
            await check(with_sql(lookup_query=unknown_column))

        with pytest.raises(SourceMisconfigured, match=r"lookup query fails: .*syntax"):
            await check(with_sql(lookup_query="SELEC nothing FROM nowhere"))

        # A misspelt alias is allowed (extra columns are) but its value would be lost.
        misspelt = base.sql.lookup_query.replace(
            "ngay_hen_tra AS due_at", "ngay_hen_tra AS due_ta"
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            await check(with_sql(lookup_query=misspelt))
        assert "returns a column 'due_ta', not in the contract; did you mean 'due_at'?" in (
            caplog.text
        )
    finally:
        await engine.dispose()


async def test_check_of_the_bundled_schema_passes(demo_engine: AsyncEngine) -> None:
    source = SqlDossierSource.for_engine(demo_engine, DossierConfig(), owns_engine=False)
    await source.check()


# --- the guard: timeouts and outages, logged once ---------------------------------------


async def test_unreachable_database_is_unavailable_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = DossierConfig(
        timeout_seconds=2.0,
        sql=DossierSqlConfig(url="postgresql+asyncpg://postgres@127.0.0.1:1/none"),
    )
    guarded = GuardedSource(SqlDossierSource.from_config(config), 2.0, "dossier database")
    with caplog.at_level(logging.INFO, logger="bot.dossiers.source"):
        for _ in range(4):
            with pytest.raises(SourceUnavailable):
                await guarded.lookup("000.00.12.H58-251120-0001")
    assert guarded.is_down
    unavailable = [r for r in caplog.records if "is unavailable" in r.getMessage()]
    assert len(unavailable) == 1
    await guarded.close()


# --- the JSON API -----------------------------------------------------------------------

API_TOKEN = "Bearer s3cret"


class FakeOneStopApi:
    """A vendor's API with its own field names, nesting, auth, and switchable failures."""

    def __init__(self) -> None:
        self.failing = False
        self.delay = 0.0
        self.changes: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/hoso/{code}", self.dossier)
        app.router.add_get("/api/hoso/{code}/quatrinh", self.history)
        app.router.add_get("/api/thaydoi", self.changed)
        return app

    async def _check(self, request: web.Request) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            raise web.HTTPServiceUnavailable()
        if request.headers.get("Authorization") != API_TOKEN:
            raise web.HTTPUnauthorized()

    async def dossier(self, request: web.Request) -> web.Response:
        await self._check(request)
        if request.match_info["code"] != "000.00.12.H58-251120-0001":
            raise web.HTTPNotFound()
        return web.json_response(
            {
                "success": True,
                "data": {
                    "maHoSo": "000.00.12.H58-251120-0001",
                    "thuTuc": {"ma": "1.001193", "ten": "Đăng ký khai sinh"},
                    "nguoiNop": {
                        "hoTen": "Nguyễn Văn An",
                        "soDienThoai": "0901234567",
                        "cccd": "001201001234",
                    },
                    "trangThai": {"ma": 4, "ten": "Đang xử lý"},
                    "ngayTiepNhan": "2025-11-20T08:05:00+07:00",
                    "ngayHenTra": "21/11/2025 16:30",
                    "buocHienTai": "Trình ký",
                    "donVi": "UBND xã Tân Thành",
                    "giayToBoSung": [],
                },
            }
        )

    async def history(self, request: web.Request) -> web.Response:
        await self._check(request)
        return web.json_response(
            {
                "data": {
                    "items": [
                        {"thoiGian": 1763600700, "trangThai": {"ma": 2}, "noiDung": "Tiếp nhận"},
                        {"thoiGian": 1763604300000, "trangThai": {"ma": 4}, "noiDung": "Trình ký"},
                    ]
                }
            }
        )

    async def changed(self, request: web.Request) -> web.Response:
        await self._check(request)
        since = int(request.query.get("tu") or 0)
        if not request.query.get("tu"):
            return web.json_response({"data": {"items": [], "next": str(len(self.changes))}})
        items = self.changes[since:]
        return web.json_response({"data": {"items": items, "next": str(since + len(items))}})


def api_config(base: str) -> DossierConfig:
    return DossierConfig(
        source="http",
        timeout_seconds=0.5,
        http=DossierHttpConfig(
            url_template=f"{base}/api/hoso/{{code}}",
            history_url_template=f"{base}/api/hoso/{{code}}/quatrinh",
            changed_since_url=f"{base}/api/thaydoi?tu={{cursor}}",
            auth_header="Authorization",
            auth_token=API_TOKEN,
            field_map={
                "code": "data.maHoSo",
                "procedure_code": "data.thuTuc.ma",
                "procedure_name": "data.thuTuc.ten",
                "applicant_name": "data.nguoiNop.hoTen",
                "applicant_phone": "data.nguoiNop.soDienThoai",
                "applicant_id_number": "data.nguoiNop.cccd",
                "status": "data.trangThai.ma",
                "received_at": "data.ngayTiepNhan",
                "due_at": "data.ngayHenTra",
                "current_step": "data.buocHienTai",
                "agency": "data.donVi",
                "missing_documents": "data.giayToBoSung",
                "history_items": "data.items",
                "history.at": "thoiGian",
                "history.status": "trangThai.ma",
                "history.step": "noiDung",
                "changes_items": "data.items",
                "changes_cursor": "data.next",
                "change.cursor": "id",
                "change.change_id": "id",
                "change.changed_at": "luc",
            },
        ),
    )


@pytest.fixture
async def fake_api(aiohttp_server: Any) -> AsyncIterator[tuple[FakeOneStopApi, str]]:
    api = FakeOneStopApi()
    server = await aiohttp_server(api.app())
    yield api, str(server.make_url("")).rstrip("/")


async def test_http_source_maps_nested_fields(fake_api: tuple[FakeOneStopApi, str]) -> None:
    api, base = fake_api
    source = HttpDossierSource.from_config(api_config(base))
    try:
        dossier = await source.lookup("000.00.12.H58-251120-0001")
        assert dossier is not None
        assert dossier.status is DossierStatus.IN_PROGRESS
        assert dossier.procedure_name == "Đăng ký khai sinh"
        assert dossier.applicant_phone == "0901234567"
        assert dossier.received_at == dt.datetime(2025, 11, 20, 8, 5, tzinfo=VN)
        assert dossier.due_at == dt.datetime(2025, 11, 21, 16, 30, tzinfo=VN)
        assert await source.lookup("000.00.12.H58-251120-0002") is None

        history = await source.history("000.00.12.H58-251120-0001")
        assert [(e.status, e.step) for e in history] == [
            (DossierStatus.ACCEPTED, "Tiếp nhận"),
            (DossierStatus.IN_PROGRESS, "Trình ký"),
        ]
        # Epoch seconds and milliseconds both read as moments.
        assert history[0].at == dt.datetime(2025, 11, 20, 8, 5, tzinfo=VN)
        assert history[1].at == dt.datetime(2025, 11, 20, 9, 5, tzinfo=VN)

        head = await source.changed_since(None)
        assert head.changes == ()
        api.changes.append(
            {
                "id": "c1",
                "luc": "2025-11-20 10:00",
                "data": {"maHoSo": "000.00.12.H58-251120-0001", "trangThai": {"ma": 9}},
            }
        )
        page = await source.changed_since(head.cursor)
        assert [(c.change_key, c.dossier.status) for c in page.changes] == [
            ("c1", DossierStatus.COMPLETED)
        ]
        assert (await source.changed_since(page.cursor)).changes == ()
    finally:
        await source.close()


async def test_http_source_wrong_token_is_misconfigured(
    fake_api: tuple[FakeOneStopApi, str],
) -> None:
    _, base = fake_api
    config = api_config(base)
    config = dataclasses.replace(config, http=dataclasses.replace(config.http, auth_token="x"))
    source = HttpDossierSource.from_config(config)
    with pytest.raises(SourceMisconfigured, match="HTTP 401"):
        await source.lookup("000.00.12.H58-251120-0001")
    # The start-up check finds it before any citizen asks.
    with pytest.raises(SourceMisconfigured, match="HTTP 401"):
        await source.check()
    await source.close()
    source = HttpDossierSource.from_config(api_config(base))
    await source.check()
    await source.close()


async def test_http_outage_and_slowness_are_logged_once_until_recovery(
    fake_api: tuple[FakeOneStopApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    api, base = fake_api
    config = api_config(base)
    guarded = GuardedSource(HttpDossierSource.from_config(config), 0.3, "dossier API")
    code = "000.00.12.H58-251120-0001"
    with caplog.at_level(logging.INFO, logger="bot.dossiers.source"):
        api.failing = True
        for _ in range(3):
            with pytest.raises(SourceUnavailable, match="HTTP 503"):
                await guarded.lookup(code)
        api.failing, api.delay = False, 1.0  # still down: now too slow
        with pytest.raises(SourceUnavailable):
            await guarded.lookup(code)
        api.delay = 0.0
        assert await guarded.lookup(code) is not None
        assert await guarded.lookup(code) is not None
        api.delay = 1.0  # a second outage, by timeout
        for _ in range(2):
            with pytest.raises(SourceUnavailable, match="no answer within"):
                await guarded.lookup(code)
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.dossiers.source"]
    assert len([m for m in messages if "is unavailable" in m]) == 2  # once per outage
    assert len([m for m in messages if "available again" in m]) == 1
    await guarded.close()


def test_unmapped_status_labels_are_bounded_in_display_and_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken export putting long text, or a new text each time, in the status column
    costs one short log line per label, up to a limit, and the citizen sees a short label."""
    mapping = StatusMapping({})
    with caplog.at_level(logging.WARNING):
        status, label = mapping.status_of("Đang xử lý " + "x" * 10_000)
        assert status is None
        assert len(label) <= 120 and label.endswith("…")
        for number in range(1_000):
            mapping.status_of(f"nhãn lạ {number}")
    lines = [r.getMessage() for r in caplog.records if "is not mapped" in r.getMessage()]
    assert len(lines) == 200
    assert max(len(line) for line in lines) < 400
    assert "no more until restart" in lines[-1]
    # Mapped labels and numbers still work after the limit.
    assert mapping.status_of(4)[0] is not None
