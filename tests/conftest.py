"""Shared fixtures: real databases (SQLite in tmp_path, the machine's PostgreSQL) and the
read-only reference data in ../shared, skipped with a reason when it is absent."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.database import create_engine
from bot.storage.schema import ensure_schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
POSTGRES_ADMIN_DSN = os.environ.get(
    "BOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (real catalogues, development questions); skips the test when absent."""
    if not (SHARED_DIR / "catalogues").is_dir():
        pytest.skip(
            f"reference data not found at {SHARED_DIR} (needs ../shared beside the project)"
        )
    return SHARED_DIR


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file database."""
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test.

    Skips when the server is not reachable, unless BOT_REQUIRE_POSTGRES=1 (set by .ci/run),
    in which case the test fails: CI must not silently skip the PostgreSQL tests.
    """
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("BOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {POSTGRES_ADMIN_DSN}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_DSN}: {exc}")
    name = f"bot_test_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The bot's database on SQLite, then on PostgreSQL: the two it supports."""
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url` with every table of the bot created."""
    engine = create_engine(database_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip(
            "headless Chromium not installed (Debian package 'chromium'; .ci/run installs it)"
        )
    return path
