"""Dossier lookup latency through the source layer, on 1,000,000 dossiers.

Fills the bundled schema (`bot.dossiers.bundled`) in PostgreSQL and in SQLite with N dossiers
and 5 history rows each, then times `lookup` and `history` through the same path the bot
uses (`GuardedSource` around `SqlDossierSource` with the bundled queries). Target: p99 <= 5 ms.

    .venv/bin/python benchmarks/dossiers.py                 # 1,000,000 dossiers, both engines
    .venv/bin/python benchmarks/dossiers.py --count 100000 --only sqlite
    .venv/bin/python benchmarks/dossiers.py --clean         # drop the data afterwards

Data goes to a dedicated PostgreSQL database (`bot_bench`, created on the server of
BOT_TEST_POSTGRES_DSN or 127.0.0.1:5432) and a SQLite file in /tmp. A database that already
holds exactly the requested data is reused (filling takes a minute or two); anything else
there is replaced. Bulk loading uses COPY (asyncpg `copy_records_to_table`) for PostgreSQL
and `executemany` in large transactions for SQLite, with the history index built afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.config import DossierConfig, DossierSqlConfig
from bot.dossiers import bundled
from bot.dossiers.source import GuardedSource
from bot.dossiers.sql_source import SqlDossierSource
from bot.storage.database import create_engine

TARGET_P99_MS = 5.0
HISTORY_PER_DOSSIER = 5
PG_ADMIN_DSN = os.environ.get("BOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 100_000
EPOCH = dt.datetime(2022, 1, 3, 7, 30)
DOSSIERS_PER_DAY = 1000  # keeps the 4-digit daily counter of the legal code form valid

PROCEDURES = (
    ("1.001193", "Đăng ký khai sinh", "UBND xã Tân Thành"),
    ("3.000333", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "Sở Tư pháp"),
    ("1.001612", "Đăng ký thành lập hộ kinh doanh", "UBND phường Đông Hải"),
    ("1.012783", "Cấp đổi Giấy chứng nhận quyền sử dụng đất", "Văn phòng đăng ký đất đai"),
)
STEPS = (
    "Tiếp nhận hồ sơ",
    "Chuyển cơ quan giải quyết",
    "Thẩm định hồ sơ",
    "Trình ký",
    "Đã có kết quả",
)
HISTORY_STATUSES = (2, 4, 4, 4, 9)


def dossier_code(index: int) -> str:
    day = EPOCH.date() + dt.timedelta(days=index // DOSSIERS_PER_DAY)
    return f"000.00.12.H58-{day:%y%m%d}-{index % DOSSIERS_PER_DAY + 1:04d}"


@dataclass(frozen=True, slots=True)
class Generated:
    dossier: tuple[object, ...]
    history: Sequence[tuple[object, ...]]


def generate(start: int, stop: int) -> Iterator[Generated]:
    """Dossiers start..stop-1 in the bundled column order, with their history rows."""
    rng = random.Random(start)
    for index in range(start, stop):
        code = dossier_code(index)
        procedure_code, procedure_name, agency = PROCEDURES[index % len(PROCEDURES)]
        received = EPOCH + dt.timedelta(
            days=index // DOSSIERS_PER_DAY, minutes=rng.randrange(0, 540)
        )
        due = received + dt.timedelta(days=7)
        status = (2, 4, 4, 5, 9, 10, 10, 10)[index % 8]
        dossier = (
            code,
            procedure_code,
            procedure_name,
            f"Nguyễn Văn Số {index}",
            f"09{index:08d}",
            f"058090{index:06d}",
            status,
            received,
            due,
            None,
            due if status >= 9 else None,
            due if status == 10 else None,
            STEPS[min(status, 4)],
            agency,
            "",
            "",
            "",
        )
        history = [
            (
                index * HISTORY_PER_DOSSIER + step + 1,
                code,
                received + dt.timedelta(hours=step),
                HISTORY_STATUSES[step],
                STEPS[step],
                agency,
                "",
            )
            for step in range(HISTORY_PER_DOSSIER)
        ]
        yield Generated(dossier, history)


def chunks(count: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, CHUNK):
        yield start, min(count, start + CHUNK)


DOSSIER_COLUMNS = [column.name for column in bundled.dossiers.columns]
HISTORY_COLUMNS = [column.name for column in bundled.dossier_history.columns]


# --- PostgreSQL -------------------------------------------------------------------------


async def prepare_postgres(database: str, count: int) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
            print(f"postgresql: created database {database}")
    finally:
        await admin.close()
    dsn = f"{base}/{database}"
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        if await _pg_holds(connection, count):
            print(f"postgresql: reusing {database} ({count:,} dossiers already loaded)")
            return dsn.replace("postgresql://", "postgresql+asyncpg://")
        print(f"postgresql: loading {count:,} dossiers into {database} with COPY ...")
        started = time.perf_counter()
        await connection.execute("DROP TABLE IF EXISTS dossier_history, dossiers")
        engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"))
        async with engine.begin() as sa_connection:
            await sa_connection.run_sync(bundled.dossier_metadata.create_all)
        await engine.dispose()
        # Building the index once after loading is much faster than maintaining it per row.
        await connection.execute("DROP INDEX ix_dossier_history_code_at")
        for start, stop in chunks(count):
            batch = list(generate(start, stop))
            await connection.copy_records_to_table(
                "dossiers", records=[g.dossier for g in batch], columns=DOSSIER_COLUMNS
            )
            await connection.copy_records_to_table(
                "dossier_history",
                records=[row for g in batch for row in g.history],
                columns=HISTORY_COLUMNS,
            )
            _progress("postgresql", stop, count, started)
        await connection.execute(
            "CREATE INDEX ix_dossier_history_code_at ON dossier_history (dossier_code, at)"
        )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('dossier_history', 'id'), "
            "(SELECT MAX(id) FROM dossier_history))"
        )
        await connection.execute("ANALYZE dossiers")
        await connection.execute("ANALYZE dossier_history")
        print(f"\npostgresql: loaded in {time.perf_counter() - started:.1f} s")
    finally:
        await connection.close()
    return dsn.replace("postgresql://", "postgresql+asyncpg://")


async def _pg_holds(connection: asyncpg.Connection, count: int) -> bool:
    tables = await connection.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
        "('dossiers', 'dossier_history')"
    )
    if tables != 2:
        return False
    dossiers = await connection.fetchval("SELECT count(*) FROM dossiers")
    history = await connection.fetchval("SELECT count(*) FROM dossier_history")
    return bool(dossiers == count and history == count * HISTORY_PER_DOSSIER)


async def drop_postgres(database: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
    print(f"postgresql: dropped database {database}")


# --- SQLite -----------------------------------------------------------------------------


def prepare_sqlite(path: Path, count: int) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    if path.exists() and _sqlite_holds(path, count):
        print(f"sqlite: reusing {path} ({count:,} dossiers already loaded)")
        return url
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    print(f"sqlite: loading {count:,} dossiers into {path} with executemany ...")
    started = time.perf_counter()
    asyncio.run(_create_sqlite_tables(url))
    connection = sqlite3.connect(path)
    try:
        # Safe for a throw-away load: a crash here only means loading again.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("DROP INDEX ix_dossier_history_code_at")
        insert_dossier = (
            f"INSERT INTO dossiers ({', '.join(DOSSIER_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(DOSSIER_COLUMNS))})"
        )
        insert_history = (
            f"INSERT INTO dossier_history ({', '.join(HISTORY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})"
        )
        for start, stop in chunks(count):
            batch = list(generate(start, stop))
            with connection:  # one transaction per 100,000 dossiers
                connection.executemany(insert_dossier, (_sqlite_row(g.dossier) for g in batch))
                connection.executemany(
                    insert_history, (_sqlite_row(row) for g in batch for row in g.history)
                )
            _progress("sqlite", stop, count, started)
        connection.execute(
            "CREATE INDEX ix_dossier_history_code_at ON dossier_history (dossier_code, at)"
        )
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()
    print(f"\nsqlite: loaded in {time.perf_counter() - started:.1f} s")
    return url


def _sqlite_row(row: tuple[object, ...]) -> tuple[object, ...]:
    # Text timestamps, as SQLAlchemy stores them in SQLite (and without the deprecated
    # default datetime adapter of sqlite3).
    return tuple(str(v) if isinstance(v, dt.datetime) else v for v in row)


async def _create_sqlite_tables(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(bundled.dossier_metadata.create_all)
    await engine.dispose()


def _sqlite_holds(path: Path, count: int) -> bool:
    connection = sqlite3.connect(path)
    try:
        dossiers = connection.execute("SELECT count(*) FROM dossiers").fetchone()[0]
        history = connection.execute("SELECT count(*) FROM dossier_history").fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return bool(dossiers == count and history == count * HISTORY_PER_DOSSIER)


# --- measuring --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latency:
    p50_ms: float
    p99_ms: float
    mean_ms: float
    calls: int

    def line(self, what: str) -> str:
        verdict = "ok" if self.p99_ms <= TARGET_P99_MS else "OVER TARGET"
        return (
            f"  {what:<8} p50 {self.p50_ms:6.3f} ms   p99 {self.p99_ms:6.3f} ms   "
            f"mean {self.mean_ms:6.3f} ms   ({self.calls:,} calls; p99/target "
            f"{self.p99_ms / TARGET_P99_MS:.2f}, {verdict})"
        )


def latency(samples: list[float]) -> Latency:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Latency(
        statistics.median(ordered) * 1000,
        p99 * 1000,
        statistics.fmean(ordered) * 1000,
        len(ordered),
    )


async def measure(url: str, count: int, lookups: int) -> tuple[Latency, Latency]:
    config = DossierConfig(sql=DossierSqlConfig(url=url))
    source = GuardedSource(SqlDossierSource.from_config(config), timeout_seconds=5.0)
    rng = random.Random(7)
    # One in ten codes does not exist, as when citizens mistype.
    codes = [
        dossier_code(rng.randrange(count))
        if rng.random() < 0.9
        else f"000.00.12.H58-990101-{i:04d}"
        for i in range(lookups)
    ]
    try:
        for code in codes[:200]:  # warm the pool, caches and prepared statements
            await source.lookup(code)
        lookup_times: list[float] = []
        found = 0
        for code in codes:
            started = time.perf_counter()
            dossier = await source.lookup(code)
            lookup_times.append(time.perf_counter() - started)
            found += dossier is not None
        history_times: list[float] = []
        for code in codes[: lookups // 2]:
            started = time.perf_counter()
            await source.history(code)
            history_times.append(time.perf_counter() - started)
        if found < lookups * 0.8:
            raise SystemExit(f"only {found} of {lookups} lookups found a dossier: data is wrong")
    finally:
        await source.close()
    return latency(lookup_times), latency(history_times)


def _progress(engine: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    print(f"\r{engine}: {done:,}/{total:,} dossiers ({elapsed:.0f} s)", end="", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument("--pg-database", default="bot_bench")
    parser.add_argument(
        "--sqlite-path", type=Path, default=Path("/tmp/bot_bench_dossiers.sqlite3")
    )
    parser.add_argument("--clean", action="store_true", help="drop the data afterwards")
    args = parser.parse_args(argv)

    results: dict[str, tuple[Latency, Latency]] = {}
    if args.only in (None, "postgresql"):
        url = asyncio.run(prepare_postgres(args.pg_database, args.count))
        results["postgresql"] = asyncio.run(measure(url, args.count, args.lookups))
        if args.clean:
            asyncio.run(drop_postgres(args.pg_database))
    if args.only in (None, "sqlite"):
        url = prepare_sqlite(args.sqlite_path, args.count)
        results["sqlite"] = asyncio.run(measure(url, args.count, args.lookups))
        if args.clean:
            for leftover in (
                args.sqlite_path,
                Path(f"{args.sqlite_path}-wal"),
                Path(f"{args.sqlite_path}-shm"),
            ):
                leftover.unlink(missing_ok=True)
            print(f"sqlite: removed {args.sqlite_path}")

    print(
        f"\nDossier lookups through GuardedSource(SqlDossierSource), {args.count:,} dossiers, "
        f"{HISTORY_PER_DOSSIER} history rows each; target p99 <= {TARGET_P99_MS:g} ms"
    )
    # Tail latencies move with whatever else the machine runs; say how busy it was.
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"(load average {load} on {os.cpu_count()} CPUs)")
    over = False
    for engine, (lookup, history) in results.items():
        print(f"{engine}:")
        print(lookup.line("lookup"))
        print(history.line("history"))
        over |= lookup.p99_ms > TARGET_P99_MS
    if not args.clean:
        print(
            f"Data kept for the next run: PostgreSQL database {args.pg_database!r}, "
            f"{args.sqlite_path} (remove with --clean)."
        )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
