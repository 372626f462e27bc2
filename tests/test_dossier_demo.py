"""`bot demo`: a demo dossier database that answers lookups out of the box."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from pathlib import Path

from sqlalchemy import func, select

from bot.commands.demo import create_demo, run_demo
from bot.config import Config, DossierConfig, DossierSqlConfig
from bot.dossiers import bundled
from bot.dossiers.model import DossierStatus
from bot.dossiers.receipt_codes import ReceiptCode
from bot.dossiers.service import DossierService, Found, open_dossier_source
from bot.messages import Channel, ChatRef
from bot.storage.database import create_engine
from bot.storage.schema import ensure_schema


def demo_config(tmp_path: Path) -> Config:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'dossiers.sqlite3'}"
    return dataclasses.replace(
        Config(), dossiers=DossierConfig(sql=DossierSqlConfig(url=url), max_lookups_per_hour=500)
    )


def test_demo_creates_then_keeps_the_database(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    out = io.StringIO()
    assert run_demo(config, if_missing=True, count=60, out=out) == 0
    assert "Created the demo dossier database" in out.getvalue()
    assert "60 dossiers" in out.getvalue()
    again = io.StringIO()
    assert run_demo(config, if_missing=True, count=60, out=again) == 0
    assert "already has 60 dossiers; left as it is" in again.getvalue()
    replaced = io.StringIO()
    assert run_demo(config, if_missing=False, count=20, out=replaced) == 0
    assert "Replaced the demo dossier database" in replaced.getvalue()
    assert run_demo(config, if_missing=False, count=0, out=io.StringIO()) == 2


async def test_demo_data_covers_every_case_and_the_printed_codes_verify(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = demo_config(tmp_path)
    out = io.StringIO()
    assert await create_demo(config, if_missing=False, count=60, out=out) == 0

    engine = create_engine(config.dossiers.sql.url)
    async with engine.connect() as connection:
        statuses = set(
            (await connection.execute(select(bundled.dossiers.c.status))).scalars().all()
        )
        per_dossier = (
            (
                await connection.execute(
                    select(func.count())
                    .select_from(bundled.dossier_history)
                    .group_by(bundled.dossier_history.c.dossier_code)
                )
            )
            .scalars()
            .all()
        )
        codes = (await connection.execute(select(bundled.dossiers.c.code))).scalars().all()
    await engine.dispose()
    assert statuses == {int(s) for s in DossierStatus}
    assert len(per_dossier) == 60 and min(per_dossier) >= 1
    assert sum(1 for n in per_dossier if n >= 3) >= 30  # several steps for most
    # Codes are dated in the center's zone, which is a day ahead of UTC from 17:00 UTC.
    zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
    today = dt.datetime.now(zone).date()
    for code in codes:  # the demo's codes are valid receipt codes, dated today or earlier
        parsed = ReceiptCode.parse(code)
        assert parsed.received_on is not None and parsed.received_on <= today

    bot_engine = create_engine(sqlite_url)
    await ensure_schema(bot_engine)
    service = DossierService(config.dossiers, open_dossier_source(config.dossiers), bot_engine)
    chat = ChatRef(Channel.CONSOLE, "demo")
    printed = re.findall(
        r"(\S+-\d{6}-\d{4})\s+phone …(\d{4})\s+ID …(\d{4})\s+(.+)", out.getvalue()
    )
    assert len(printed) >= 5
    views = {}
    for code, phone, _id, what in printed:
        found = await service.lookup(chat, "demo", ReceiptCode.parse(code), phone)
        assert isinstance(found, Found), (code, what, found)
        views[what.strip()] = found.view
    assert views["in progress, overdue"].is_overdue
    assert not views["in progress, on time"].is_overdue
    assert views["overdue, new appointment given"].new_due_at is not None
    assert views["supplement requested"].missing_documents
    assert views["ready for pickup"].is_ready_for_pickup
    await service.close()
    await bot_engine.dispose()
