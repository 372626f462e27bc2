"""python-telegram-bot's HTTP requests over aiohttp instead of httpx.

The bot already depends on aiohttp for its web server and Zalo, and on this machine
httpx/httpcore costs about 1.5 ms of CPU per request, which capped broadcast delivery near
600 messages/s in one process (benchmarks/broadcast.py); aiohttp costs a fraction of that.
Semantics follow python-telegram-bot's own HTTPXRequest: per-call timeouts with the
instance's defaults, files as multipart, TimedOut / NetworkError on failures. Parameters go
as one JSON body (the Bot API takes application/json for everything but uploads), which
costs less than url-encoding them as a form.

`post_json` is for the hot path of replies: python-telegram-bot's `send_message` builds an
object per keyboard button and parses Telegram's answer back into a Message with its whole
keyboard, about 0.35 ms of CPU per reply that nobody reads (benchmarks/pipeline.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

# python-telegram-bot's defaults (HTTPXRequest): 5 s each; media uploads get 20 s to write.
DEFAULT_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpTelegramRequest(BaseRequest):
    """A `BaseRequest` for python-telegram-bot's Bot, backed by one aiohttp session."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = DEFAULT_TIMEOUT,
        write_timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_TIMEOUT,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        default = BaseRequest.DEFAULT_NONE
        self._default_limits = self._timeout(default, default, default, default, has_files=False)

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        has_files = request_data is not None and request_data.contains_files
        data: Any = None
        if request_data is not None:
            data = _form(request_data) if has_files else request_data.json_payload
        return await self._exchange(
            method,
            url,
            data,
            json_body=request_data is not None and not has_files,
            limits=self._timeout(
                read_timeout, write_timeout, connect_timeout, pool_timeout, has_files=has_files
            ),
        )

    async def post_json(self, url: str, parameters: Mapping[str, Any]) -> Any:
        """POST `parameters` (plain JSON values) to a Bot API method; its `result`.

        Failures raise what `BaseRequest.post` raises for the same answer (BadRequest,
        Forbidden, RetryAfter, ChatMigrated, InvalidToken, TimedOut, NetworkError, ...), so
        callers handle both paths alike. Default timeouts; no files.
        """
        body = json.dumps(parameters, ensure_ascii=False).encode()
        status, payload = await self._exchange(
            "POST",
            url,
            body,
            json_body=True,
            limits=self._default_limits,
        )
        if HTTPStatus.OK <= status <= 299:
            return self.parse_json_payload(payload)["result"]
        raise telegram_error(status, payload)

    def _timeout(
        self,
        read_timeout: ODVInput[float],
        write_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
        pool_timeout: ODVInput[float],
        *,
        has_files: bool,
    ) -> aiohttp.ClientTimeout:
        read = _chosen(read_timeout, self._read_timeout)
        write = _chosen(write_timeout, MEDIA_WRITE_TIMEOUT if has_files else self._write_timeout)
        connect = _chosen(connect_timeout, self._connect_timeout)
        # aiohttp has no separate write timeout: sending the body counts against the whole
        # request, so the total allows for writing and reading both.
        total = None if read is None or write is None else read + write + (connect or 0)
        pool = _chosen(pool_timeout, self._pool_timeout)
        # `connect` in aiohttp covers waiting for a pooled connection and connecting.
        waiting = None if pool is None or connect is None else pool + connect
        return aiohttp.ClientTimeout(
            total=total, connect=waiting, sock_connect=connect, sock_read=read
        )

    async def _exchange(
        self, method: str, url: str, data: Any, *, json_body: bool, limits: aiohttp.ClientTimeout
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpTelegramRequest is not initialized")
        headers = _JSON_HEADERS if json_body else None
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=limits
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # The class name helps where the message is empty.
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


_JSON_HEADERS = {"Content-Type": "application/json"}


def telegram_error(status: int, payload: bytes) -> TelegramError:
    """The error for an unsuccessful Bot API answer, as python-telegram-bot's
    `BaseRequest._request_wrapper` makes it (same types, same messages)."""
    try:
        message = f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        message = f"Unknown HTTPError ({status})"
    try:
        answer = BaseRequest.parse_json_payload(payload)
    except TelegramError:
        answer = None
        message += f". Parsing the server response {payload!r} failed"
    if isinstance(answer, dict):
        message = answer.get("description") or message
        parameters = answer.get("parameters")
        if parameters:
            migrate_to_chat_id = parameters.get("migrate_to_chat_id")
            if migrate_to_chat_id:
                return ChatMigrated(migrate_to_chat_id)
            retry_after = parameters.get("retry_after")
            if retry_after:
                return RetryAfter(retry_after)
            message += f". The server response contained unknown parameters: {parameters}"
    if status == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if status in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        return InvalidToken(message)
    if status == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if status == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)


def _chosen(value: ODVInput[float], default: float | None) -> float | None:
    if isinstance(value, DefaultValue):
        return default
    return value


def _form(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, upload in request_data.multipart_data.items():
        filename, content, *rest = upload
        content_type = rest[0] if rest else "application/octet-stream"
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form
