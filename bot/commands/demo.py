"""`bot demo`: create the demo dossier database at `[dossiers] sql.url`; print codes to try.

The dossiers themselves are made by bot.dossiers.demo; this creates (or, with
`--if-missing`, keeps) the database and shows a code in each interesting state with the
phone and ID digits that verify it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any, TextIO

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config
from bot.dossiers import bundled
from bot.dossiers.demo import DemoDossier, DemoGenerator, write_demo
from bot.dossiers.working_days import WorkingCalendar
from bot.storage.database import create_engine, redacted


def run_demo(config: Config, if_missing: bool, count: int, out: TextIO) -> int:
    """Create (or with `if_missing`, keep) the demo dossier database; print codes to try."""
    return asyncio.run(create_demo(config, if_missing, count, out))


async def create_demo(config: Config, if_missing: bool, count: int, out: TextIO) -> int:
    """`run_demo` for callers already in an event loop."""
    if count < 1:
        print("bot demo: --count must be at least 1", file=out)
        return 2
    sql = config.dossiers.sql
    if config.dossiers.source != "sql" or sql.lookup_query.strip():
        print(
            "Note: the demo database has the bundled schema, but this config reads dossiers "
            "elsewhere (dossiers.source or dossiers.sql.lookup_query); lookups will not see it.",
            file=out,
        )
    url = config.dossiers.sql.url
    engine = create_engine(url)
    try:
        existing = await _existing_count(engine)
        if if_missing and existing:
            print(
                f"Demo dossier database {redacted(url)} already has {existing} dossiers; "
                "left as it is.",
                file=out,
            )
            return 0
        zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
        now = dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
        calendar = WorkingCalendar.from_config(config.dossiers)
        made = DemoGenerator(now, calendar).generate(count)
        await write_demo(engine, made)
        verb = "Replaced" if existing else "Created"
        print(
            f"{verb} the demo dossier database {redacted(url)}: {len(made)} dossiers, "
            f"{sum(len(d.history) for d in made)} history rows.",
            file=out,
        )
        _print_codes(config, made, calendar, now, out)
        return 0
    finally:
        await engine.dispose()


async def _existing_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        has_table = await connection.run_sync(
            lambda sync: inspect(sync).has_table(bundled.dossiers.name)
        )
        if not has_table:
            return 0
        count = await connection.execute(select(func.count()).select_from(bundled.dossiers))
        return int(count.scalar_one())


def _print_codes(
    config: Config,
    made: Sequence[DemoDossier],
    calendar: WorkingCalendar,
    now: dt.datetime,
    out: TextIO,
) -> None:
    factor = config.dossiers.verification
    print(f"Verification asked before details: {factor}.", file=out)
    print("Codes to try (phone / ID last 4 digits):", file=out)
    shown: set[str] = set()

    def show(demo: DemoDossier, what: str) -> None:
        row = demo.row
        if row["code"] in shown:
            return
        shown.add(row["code"])
        print(
            f"  {row['code']}  phone …{row['applicant_phone'][-4:]}  "
            f"ID …{row['applicant_id_number'][-4:]}  {what}",
            file=out,
        )

    def first(predicate: Any) -> DemoDossier | None:
        return next((d for d in made if predicate(d.row)), None)

    wanted = (
        ("in progress, on time", lambda r: r["status"] == 4 and r["due_at"] >= now),
        (
            "in progress, overdue",
            lambda r: r["status"] == 4 and r["due_at"] < now and not r["new_due_at"],
        ),
        ("overdue, new appointment given", lambda r: r["new_due_at"] is not None),
        ("supplement requested", lambda r: r["status"] == 5),
        ("ready for pickup", lambda r: r["status"] == 9),
        ("result returned", lambda r: r["status"] == 10),
        ("not accepted", lambda r: r["status"] == 3),
    )
    for what, predicate in wanted:
        demo = first(predicate)
        if demo is not None:
            show(demo, what)
