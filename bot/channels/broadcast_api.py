"""The authenticated HTTP endpoint for the center's other systems to send notices.

    add_broadcast_api_routes(app, service, api_token=config.broadcast.api_token)

Every request needs `Authorization: Bearer <broadcast.api_token>` (compared in constant
time); anything else is refused with 401 and logged, and with no token configured every
request is refused with 403. The logic is `bot.broadcast.service`; this module only
translates HTTP and JSON.

    POST {prefix}/preview        {"text", "audience"?, "channels"?} -> 200 audience counts
    POST {prefix}                same body -> 202 {"job_id", "total"}; the request is the
                                 confirmation. An `Idempotency-Key` header makes a retried
                                 request return the first job instead of a second one.
    GET  {prefix}                recent jobs
    GET  {prefix}/{job_id}       the job's report (counts by outcome, duration)
    POST {prefix}/{job_id}/cancel, POST {prefix}/{job_id}/resume
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.broadcast.model import (
    BroadcastError,
    BroadcastPreview,
    BroadcastRequest,
    ChannelNotAvailable,
    EmptyAudience,
    InvalidNotice,
    JobFinished,
    JobNotFound,
    JobProgress,
    JobReport,
    NotStaff,
    Requester,
    UnknownAudience,
)
from bot.broadcast.service import BroadcastService
from bot.channels.request_body import read_body
from bot.inbound import INBOUND_ID_CHARS, UnreadableJson, read_json, storable_text
from bot.messages import Channel

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "/api/broadcasts"
# A notice is at most 2,000 characters; leave room for JSON escaping and the other fields.
MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVICE_KEY = web.AppKey("broadcast_service", BroadcastService)
TOKEN_KEY = web.AppKey("broadcast_api_token", str)


def add_broadcast_api_routes(
    app: web.Application,
    service: BroadcastService,
    api_token: str,
    prefix: str = DEFAULT_PREFIX,
) -> None:
    """Register the broadcast endpoints on `app` (they refuse everything without a token)."""
    app[SERVICE_KEY] = service
    app[TOKEN_KEY] = api_token
    prefix = prefix.rstrip("/")
    app.router.add_post(f"{prefix}/preview", _authenticated(preview))
    app.router.add_post(prefix, _authenticated(start))
    app.router.add_get(prefix, _authenticated(list_jobs))
    app.router.add_get(prefix + r"/{job_id:\d+}", _authenticated(report))
    app.router.add_post(prefix + r"/{job_id:\d+}/cancel", _authenticated(cancel))
    app.router.add_post(prefix + r"/{job_id:\d+}/resume", _authenticated(resume))


def _authenticated(
    handler: Callable[[web.Request, BroadcastService, Requester], Awaitable[web.StreamResponse]],
) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        token = request.app[TOKEN_KEY]
        client = request.remote or "unknown"
        if not token:
            log.warning("refused broadcast API %s %s from %s: no api_token configured",
                        request.method, request.path, client)  # fmt: skip
            return _error(403, "the broadcast API is disabled (no broadcast.api_token)")
        supplied = _bearer(request.headers.get("Authorization", ""))
        if supplied is None or not hmac.compare_digest(supplied.encode(), token.encode()):
            log.warning("refused broadcast API %s %s from %s: %s",
                        request.method, request.path, client,
                        "no bearer token" if supplied is None else "wrong token")  # fmt: skip
            response = _error(401, "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="broadcast"'
            return response
        service = request.app[SERVICE_KEY]
        try:
            return await handler(request, service, Requester.api_client(client))
        except BroadcastError as exc:
            return _error(_status_of(exc), str(exc))

    return guarded


# Job ids are a 32-bit column: a larger number is no job (and would make the database
# driver fail with an overflow rather than find nothing).
_MAX_JOB_ID = 2**31 - 1


def _job_id(request: web.Request) -> int | None:
    """The path's job id (the route admits digits only); None when no job can have it."""
    text = request.match_info["job_id"]
    job_id = int(text) if len(text) <= 10 else 0
    return job_id if 0 < job_id <= _MAX_JOB_ID else None


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _status_of(exc: BroadcastError) -> int:
    if isinstance(exc, NotStaff):
        return 403
    if isinstance(exc, JobNotFound):
        return 404
    if isinstance(exc, JobFinished | EmptyAudience):
        return 409
    if isinstance(exc, InvalidNotice | UnknownAudience | ChannelNotAvailable):
        return 422
    return 400


async def preview(
    request: web.Request, service: BroadcastService, requester: Requester
) -> web.StreamResponse:
    """POST: how many subscribers the notice would reach, per channel."""
    parsed = await _broadcast_request(request)
    if isinstance(parsed, web.Response):
        return parsed
    result = await service.prepare(requester, parsed)
    return web.json_response(_preview_json(result))


async def start(
    request: web.Request, service: BroadcastService, requester: Requester
) -> web.StreamResponse:
    """POST: send the notice now; answers the job id (202, delivery goes on)."""
    parsed = await _broadcast_request(request)
    if isinstance(parsed, web.Response):
        return parsed
    key = request.headers.get("Idempotency-Key") or None
    job_id = await service.start(requester, parsed, idempotency_key=key)
    progress = await service.progress(requester, job_id)
    body = {"job_id": job_id, "total": progress.total, "state": progress.state}
    return web.json_response(body, status=202)


async def list_jobs(
    request: web.Request, service: BroadcastService, requester: Requester
) -> web.StreamResponse:
    jobs = await service.list_jobs(requester)
    return web.json_response(
        {
            "jobs": [
                {
                    "job_id": job.job_id,
                    "state": job.state,
                    "audience": job.audience,
                    "total": job.total,
                    "requested_by": job.requested_by,
                    "created_at": _time(job.created_at),
                }
                for job in jobs
            ]
        }
    )


async def report(
    request: web.Request, service: BroadcastService, requester: Requester
) -> web.StreamResponse:
    job_id = _job_id(request)
    if job_id is None:
        return _error(404, "no such broadcast job")
    result = await service.report(requester, job_id)
    return web.json_response(_report_json(result))


async def cancel(
    request: web.Request, service: BroadcastService, requester: Requester
) -> web.StreamResponse:
    job_id = _job_id(request)
    if job_id is None:
        return _error(404, "no such broadcast job")
    result = await service.cancel(requester, job_id)
    return web.json_response(_progress_json(result))


async def resume(
    request: web.Request, service: BroadcastService, requester: Requester
) -> web.StreamResponse:
    job_id = _job_id(request)
    if job_id is None:
        return _error(404, "no such broadcast job")
    result = await service.resume(requester, job_id)
    return web.json_response(_progress_json(result))


async def _broadcast_request(request: web.Request) -> BroadcastRequest | web.Response:
    body = await read_body(request.content, MAX_BODY_BYTES)
    if body is None:
        return _error(413, "request body too large")
    try:
        data = read_json(body, max_bytes=MAX_BODY_BYTES)
    except UnreadableJson as exc:
        return _error(400, f"the body must be a JSON object ({exc})")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    text = data.get("text")
    audience = data.get("audience", "all")
    channels = data.get("channels", [])
    if not isinstance(text, str) or not isinstance(audience, str):
        return _error(400, '"text" and "audience" must be strings')
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        return _error(400, '"channels" must be a list of channel names')
    try:
        parsed_channels = tuple(Channel(name) for name in channels)
    except ValueError:
        return _error(422, f"unknown channel in {channels}")
    return BroadcastRequest(
        text=storable_text(text, limit=MAX_BODY_BYTES),
        audience=storable_text(audience, limit=INBOUND_ID_CHARS),
        channels=parsed_channels,
    )


def _preview_json(result: BroadcastPreview) -> dict[str, Any]:
    return {
        "audience": result.request.audience,
        "topic_label": result.topic_label,
        "recipients": {channel.value: count for channel, count in result.recipients.items()},
        "total": result.total,
        "notice": result.notice.plain_text(),
    }


def _progress_json(progress: JobProgress) -> dict[str, Any]:
    return {
        "job_id": progress.job_id,
        "state": progress.state,
        "total": progress.total,
        "sent": progress.sent,
        "failed": progress.failed,
        "blocked": progress.blocked,
        "opted_out": progress.opted_out,
        "cancelled": progress.cancelled,
        "left": progress.left,
    }


def _report_json(result: JobReport) -> dict[str, Any]:
    duration = result.duration
    return {
        **_progress_json(result.progress),
        "audience": result.audience,
        "channels": [channel.value for channel in result.channels],
        "requested_by": result.requested_by,
        "created_at": _time(result.created_at),
        "finished_at": _time(result.finished_at),
        "duration_seconds": None if duration is None else duration.total_seconds(),
        "by_channel": {
            channel.value: _progress_json(progress)
            for channel, progress in result.by_channel.items()
        },
        "retries": result.retries,
        "possible_duplicates": result.possible_duplicates,
        "errors": dict(result.errors),
    }


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
