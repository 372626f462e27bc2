"""The HTTP broadcast endpoint through aiohttp's test client: bearer token required (and
refusals logged), preview, start with an idempotency key, report, cancel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from broadcast_support import seed_subscribers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.service import BroadcastService, StaffPolicy
from bot.broadcast.subscriptions import SubscriptionStore
from bot.channels.broadcast_api import add_broadcast_api_routes
from bot.messages import Channel
from bot.storage.broadcast_tables import jobs
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema

TOKEN = "s3cret-token-for-the-one-stop-system"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOTICE = {"text": "Ngày 30/4 và 1/5 Trung tâm nghỉ lễ.", "audience": "all"}

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    await seed_subscribers(engine, Channel.TELEGRAM, ["1", "2"])
    await seed_subscribers(engine, Channel.ZALO, ["z1"])
    yield engine
    await engine.dispose()


def app_with(engine: AsyncEngine, token: str) -> web.Application:
    service = BroadcastService(
        engine,
        SubscriptionStore(engine, {"dat-dai": "Đất đai"}),
        StaffPolicy(frozenset({777}), api_enabled=bool(token)),
    )
    app = web.Application()
    add_broadcast_api_routes(app, service, token)
    return app


async def job_count(engine: AsyncEngine) -> int:
    async with connect(engine) as connection:
        return int((await connection.execute(select(func.count()).select_from(jobs))).scalar_one())


async def test_requests_without_the_token_are_refused_and_logged(
    engine: AsyncEngine, aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(app_with(engine, TOKEN))
    attempts = [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer "},
    ]
    with caplog.at_level(logging.WARNING, logger="bot.channels.broadcast_api"):
        for headers in attempts:
            response = await client.post("/api/broadcasts", json=NOTICE, headers=headers)
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await client.get("/api/broadcasts/1", headers=headers)).status == 401
            cancel = await client.post("/api/broadcasts/1/cancel", headers=headers)
            assert cancel.status == 401
    assert caplog.text.count("refused broadcast API POST /api/broadcasts from") == len(attempts)
    assert "wrong token" in caplog.text and "no bearer token" in caplog.text
    assert await job_count(engine) == 0


async def test_without_a_configured_token_everything_is_refused(
    engine: AsyncEngine, aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(app_with(engine, ""))
    with caplog.at_level(logging.WARNING, logger="bot.channels.broadcast_api"):
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
            response = await client.post("/api/broadcasts", json=NOTICE, headers=headers)
            assert response.status == 403
    assert "no api_token configured" in caplog.text
    assert await job_count(engine) == 0


async def test_preview_start_report_cancel(
    engine: AsyncEngine, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(app_with(engine, TOKEN))
    preview = await client.post("/api/broadcasts/preview", json=NOTICE, headers=AUTH)
    assert preview.status == 200
    body = await preview.json()
    assert body["recipients"] == {"telegram": 2, "zalo": 1} and body["total"] == 3
    assert await job_count(engine) == 0

    headers = {**AUTH, "Idempotency-Key": "order-2024-0042"}
    started = await client.post("/api/broadcasts", json=NOTICE, headers=headers)
    assert started.status == 202
    job = await started.json()
    assert job["total"] == 3 and job["state"] == "running"
    # The other system retries after a lost answer: same job, nothing sent twice.
    again = await client.post("/api/broadcasts", json=NOTICE, headers=headers)
    assert (await again.json())["job_id"] == job["job_id"]
    assert await job_count(engine) == 1

    only_zalo = {**NOTICE, "channels": ["zalo"]}
    second = await client.post("/api/broadcasts", json=only_zalo, headers=AUTH)
    assert (await second.json())["total"] == 1

    report = await client.get(f"/api/broadcasts/{job['job_id']}", headers=AUTH)
    details = await report.json()
    assert details["requested_by"].startswith("api:")
    assert details["left"] == 3 and details["by_channel"]["telegram"]["total"] == 2
    listed = await (await client.get("/api/broadcasts", headers=AUTH)).json()
    assert [j["job_id"] for j in listed["jobs"]] == [job["job_id"] + 1, job["job_id"]]

    cancelled = await client.post(f"/api/broadcasts/{job['job_id']}/cancel", headers=AUTH)
    assert (await cancelled.json())["cancelled"] == 3
    resumed = await client.post(f"/api/broadcasts/{job['job_id']}/resume", headers=AUTH)
    assert (await resumed.json())["state"] == "running"


async def test_bad_requests_get_clear_answers(
    engine: AsyncEngine, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(app_with(engine, TOKEN))
    cases = [
        (b"not json", 400),
        (b'["a list"]', 400),
        (b'{"text": 5}', 400),
        (b'{"text": "x", "audience": "xay-dung"}', 422),
        (b'{"text": "   "}', 422),
        (b'{"text": "x", "channels": ["fax"]}', 422),
        (b'{"text": "x", "channels": ["web"]}', 422),
    ]
    for body, status in cases:
        response = await client.post("/api/broadcasts", data=body, headers=AUTH)
        assert response.status == status, body
        assert "error" in await response.json()
    assert (await client.get("/api/broadcasts/404", headers=AUTH)).status == 404
    too_big = b'{"text": "' + b"x" * 70_000 + b'"}'
    assert (await client.post("/api/broadcasts", data=too_big, headers=AUTH)).status == 413
    assert await job_count(engine) == 0


async def test_a_job_id_no_job_can_have_is_not_found(
    database_url: str, aiohttp_client: ClientFactory
) -> None:
    """A 32-bit id column: a larger number made the driver overflow (500 with a traceback)."""
    engine = create_engine(database_url)
    await ensure_schema(engine)
    try:
        client = await aiohttp_client(app_with(engine, TOKEN))
        for job_id in ("2147483648", "99999999999999999999999", "9" * 5000, "0"):
            path = f"/api/broadcasts/{job_id}"
            for method, url in (
                ("GET", path),
                ("POST", path + "/cancel"),
                ("POST", path + "/resume"),
            ):
                response = await client.request(method, url, headers=AUTH)
                assert response.status == 404, (method, url[:40])
                assert "error" in await response.json()
        assert (await client.get("/api/broadcasts/2147483647", headers=AUTH)).status == 404
    finally:
        await engine.dispose()
