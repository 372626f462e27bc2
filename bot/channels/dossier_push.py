"""The aiohttp endpoint for dossier change pushes; the logic is `bot.dossiers.push`.

    add_dossier_push_route(app, receiver, path=config.dossiers.push_path)

Answers 202 with {"result": "accepted", "changes": n}, or 401 (unsigned, bad signature,
stale), 409 (replayed), 400 (bad body), 413 (body too large); no route is added when
`dossiers.push_secret` is empty.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.channels.request_body import read_body
from bot.dossiers.push import MAX_PUSH_BYTES, PushReceiver

__all__ = ["MAX_PUSH_BYTES", "add_dossier_push_route", "dossier_push_handler"]


def dossier_push_handler(
    receiver: PushReceiver,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def receive_dossier_push(request: web.Request) -> web.StreamResponse:
        """POST: a signed list of dossier changes from the one-stop system."""
        if request.content_length is not None and request.content_length > MAX_PUSH_BYTES:
            return web.json_response({"result": "too_large"}, status=413)
        body = await read_body(request.content, MAX_PUSH_BYTES)
        if body is None:
            return web.json_response({"result": "too_large"}, status=413)
        result = await receiver.receive(request.headers, body)
        return web.json_response(
            {"result": result.verdict.value, "changes": result.changes_recorded},
            status=result.verdict.http_status,
        )

    return receive_dossier_push


def add_dossier_push_route(app: web.Application, receiver: PushReceiver, path: str) -> bool:
    """Register POST `path` on `app`; False (nothing added) when pushes are not configured."""
    if not receiver.enabled:
        return False
    app.router.add_post(path, dossier_push_handler(receiver))
    return True
