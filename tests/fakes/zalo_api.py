"""A fake Zalo Official Account API: a real aiohttp server on 127.0.0.1.

It serves the two calls the bot makes - `POST /v3.0/oa/message/cs` (customer-service text
message, header `access_token`) and `POST /v4/oa/access_token` (refresh, header
`secret_key`) - with Zalo's rules that matter to us: answers are HTTP 200 with an `error`
code, text is limited to 2,000 characters, access tokens expire, and a refresh token works
exactly once (a second use is refused and counted in `refresh_reuses`). Failures can be
scripted per user. It also builds the webhook events Zalo sends (user_send_text,
user_send_image, follow, unfollow), signs them the way Zalo does, and posts them to the
bot; pictures citizens send are served from `/media/...` as Zalo's CDN would.

    async with FakeZaloApi() as zalo:
        config = ZaloConfig(app_id=zalo.app_id, ..., api_base=zalo.base_url,
                            oauth_base=zalo.base_url)
        status = await zalo.deliver(webhook_url, zalo.user_text("u1", "xin chào"))
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from .server import FakePlatformServer

_R = TypeVar("_R")

TEXT_LIMIT = 2000
# Zalo OA API error codes (developers.zalo.me, "Bảng mã lỗi").
ERROR_ACCESS_TOKEN_EXPIRED = -124
ERROR_ACCESS_TOKEN_INVALID = -216
ERROR_INVALID_PARAMETER = -201
ERROR_USER_NOT_FOLLOWING = -213
ERROR_USER_BLOCKED = -217
ERROR_RATE_LIMIT = -32
ERROR_INVALID_REFRESH_TOKEN = -14014
SIGNATURE_HEADER = "X-ZEvent-Signature"


@dataclass(frozen=True, slots=True)
class ZaloFault:
    """How the fake answers one send instead of succeeding.

    `error` is a Zalo error code (HTTP 200 with {"error": code}); `status` an HTTP status
    (e.g. 502); `delay` is slept first and, alone, makes a slow but successful send.
    """

    error: int = 0
    message: str = ""
    status: int = 200
    delay: float = 0.0

    @classmethod
    def not_following(cls) -> ZaloFault:
        return cls(ERROR_USER_NOT_FOLLOWING, "User has not followed OA")

    @classmethod
    def blocked(cls) -> ZaloFault:
        return cls(ERROR_USER_BLOCKED, "User has blocked messages from OA")

    @classmethod
    def rate_limited(cls) -> ZaloFault:
        return cls(ERROR_RATE_LIMIT, "Exceeded the request rate limit")

    @classmethod
    def server_error(cls, status: int = 500) -> ZaloFault:
        return cls(0, "Internal Server Error", status)

    @classmethod
    def slow(cls, seconds: float) -> ZaloFault:
        return cls(delay=seconds)


@dataclass(frozen=True, slots=True)
class ZaloSentMessage:
    user_id: str
    text: str
    message_id: str
    access_token: str
    at: float  # time.monotonic() when accepted


@dataclass(frozen=True, slots=True)
class RefreshCall:
    refresh_token: str
    accepted: bool
    at: float


class FakeZaloApi(FakePlatformServer):
    """The fake server; use as `async with`, or call start() and stop()."""

    platform_name = "Zalo"

    def __init__(
        self,
        *,
        app_id: str = "1234567890",
        oa_id: str = "9876543210",
        oa_secret_key: str = "oa-secret-key",
        app_secret_key: str = "app-secret-key",
        access_token: str = "access-0",
        refresh_token: str = "refresh-0",
        token_lifetime: float = 90000.0,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.app_id = app_id
        self.oa_id = oa_id
        self.oa_secret_key = oa_secret_key
        self.app_secret_key = app_secret_key
        self.initial_access_token = access_token
        self.initial_refresh_token = refresh_token
        # Lifetime (seconds) of the access tokens the refresh endpoint issues.
        self.token_lifetime = token_lifetime
        # Slows down the refresh endpoint, to widen race windows in concurrency tests.
        self.refresh_delay = 0.0
        self._access_tokens: dict[str, float] = {access_token: time.monotonic() + token_lifetime}
        self._refresh_tokens: set[str] = {refresh_token}
        self._used_refresh_tokens: set[str] = set()
        self._token_numbers = itertools.count(1)
        self._message_numbers = itertools.count(1)
        self._msg_ids = itertools.count(1)
        self._user_faults: dict[str, deque[ZaloFault]] = {}
        self._persistent_faults: dict[str, ZaloFault] = {}
        self._flood_limit: tuple[int, float] | None = None
        self._accepted_times: deque[float] = deque()
        self.sent: list[ZaloSentMessage] = []
        self.rejected: list[tuple[str, int]] = []  # (user_id, error code) of refused sends
        self.refresh_calls: list[RefreshCall] = []
        self.refresh_reuses = 0
        # Pictures citizens sent, served where Zalo's CDN would serve them.
        self._media_files: dict[str, bytes] = {}
        self._media_numbers = itertools.count(1)
        # How long wait_for_sent / wait_until wait before raising TimeoutError.

    # --- lifetime -----------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send_message)
        app.router.add_post("/v4/oa/access_token", self._access_token)
        app.router.add_get("/media/{name}", self._media)
        return app

    @property
    def base_url(self) -> str:
        """For both [zalo] api_base and [zalo] oauth_base."""
        return f"http://127.0.0.1:{self._port}"

    # --- tokens -------------------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (answers -124)."""
        now = time.monotonic()
        for token in self._access_tokens:
            self._access_tokens[token] = now - 1

    def authorise_again(self) -> tuple[str, str]:
        """A new pair, as staff get it by authorising the OA again (OAuth code flow)."""
        number = next(self._token_numbers)
        access, refresh = f"access-{number}", f"refresh-{number}"
        self._access_tokens[access] = time.monotonic() + self.token_lifetime
        self._refresh_tokens.add(refresh)
        return access, refresh

    @property
    def valid_refresh_tokens(self) -> set[str]:
        return set(self._refresh_tokens)

    @property
    def accepted_refreshes(self) -> int:
        return sum(1 for call in self.refresh_calls if call.accepted)

    # --- failures -----------------------------------------------------------------------

    def script_faults(self, user_id: str, *faults: ZaloFault) -> None:
        """The next sends to `user_id` get these faults, one per send, in order."""
        self._user_faults.setdefault(user_id, deque()).extend(faults)

    def set_flood_limit(self, messages: int, per_seconds: float = 1.0) -> None:
        """Refuse sends (error -32) when more than this arrive within the window."""
        self._flood_limit = (messages, per_seconds)

    def set_user_fault(self, user_id: str, fault: ZaloFault | None) -> None:
        """Every send to `user_id` gets `fault` (None clears it)."""
        if fault is None:
            self._persistent_faults.pop(user_id, None)
        else:
            self._persistent_faults[user_id] = fault

    # --- inspecting ---------------------------------------------------------------------

    def messages_to(self, user_id: str) -> list[ZaloSentMessage]:
        return [message for message in self.sent if message.user_id == user_id]

    def max_rate(self, window: float = 1.0) -> int:
        times = sorted(message.at for message in self.sent)
        best = start = 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    async def wait_for_sent(
        self, count: int, *, user_id: str | None = None
    ) -> list[ZaloSentMessage]:
        """Wait (up to `wait_limit` seconds) until `count` messages were sent (to `user_id`)."""

        def ready() -> list[ZaloSentMessage] | None:
            found = self.sent if user_id is None else self.messages_to(user_id)
            return found if len(found) >= count else None

        return await self._wait(ready, f"{count} message(s) to {user_id or 'anyone'}")

    # --- webhook events (what Zalo posts to the bot) -----------------------------------

    def user_text(
        self, user_id: str, text: str, *, timestamp_ms: int | None = None, msg_id: str = ""
    ) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "user_id_by_app": f"app-{user_id}",
            "event_name": "user_send_text",
            "timestamp": str(timestamp_ms if timestamp_ms is not None else _now_ms()),
            "sender": {"id": user_id},
            "recipient": {"id": self.oa_id},
            "message": {"text": text, "msg_id": msg_id or f"msg-{next(self._msg_ids)}"},
        }

    def add_media(self, data: bytes) -> str:
        """Serve `data` as a picture a citizen sent; its URL."""
        name = f"img-{next(self._media_numbers)}.jpg"
        self._media_files[name] = data
        return f"{self.base_url}/media/{name}"

    def user_image(
        self, user_id: str, url: str, *, caption: str = "", timestamp_ms: int | None = None
    ) -> dict[str, Any]:
        """A `user_send_image` event: the citizen sent the picture at `url`."""
        message: dict[str, Any] = {
            "msg_id": f"msg-{next(self._msg_ids)}",
            "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}],
        }
        if caption:
            message["text"] = caption
        return {
            "app_id": self.app_id,
            "user_id_by_app": f"app-{user_id}",
            "event_name": "user_send_image",
            "timestamp": str(timestamp_ms if timestamp_ms is not None else _now_ms()),
            "sender": {"id": user_id},
            "recipient": {"id": self.oa_id},
            "message": message,
        }

    def follow(self, user_id: str, *, timestamp_ms: int | None = None) -> dict[str, Any]:
        return self._follow_event("follow", user_id, timestamp_ms)

    def unfollow(self, user_id: str, *, timestamp_ms: int | None = None) -> dict[str, Any]:
        return self._follow_event("unfollow", user_id, timestamp_ms)

    def _follow_event(self, name: str, user_id: str, timestamp_ms: int | None) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "oa_id": self.oa_id,
            "user_id_by_app": f"app-{user_id}",
            "event_name": name,
            "timestamp": str(timestamp_ms if timestamp_ms is not None else _now_ms()),
            "source": "oa_profile",
            "follower": {"id": user_id},
        }

    def signature(self, body: bytes, timestamp: str) -> str:
        """Zalo's X-ZEvent-Signature: "mac=" + sha256(app_id + body + timestamp + OA key)."""
        digest = hashlib.sha256(
            self.app_id.encode() + body + timestamp.encode() + self.oa_secret_key.encode()
        ).hexdigest()
        return f"mac={digest}"

    def signed_request(self, event: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: self.signature(body, str(event.get("timestamp", ""))),
        }
        return body, headers

    async def deliver(
        self,
        url: str,
        event: Mapping[str, Any],
        *,
        signed: bool = True,
        signature: str | None = None,
    ) -> int:
        """POST `event` to the bot's webhook as Zalo does; returns the HTTP status."""
        assert self._session is not None, "start() the fake first"
        body, headers = self.signed_request(event)
        if not signed:
            del headers[SIGNATURE_HEADER]
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        async with self._session.post(url, data=body, headers=headers) as response:
            return response.status

    # --- the HTTP API -------------------------------------------------------------------

    async def _send_message(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("access_token", "")
        try:
            body = await request.json()
            user_id = str(body["recipient"]["user_id"])
            text = str(body["message"]["text"])
        except (ValueError, KeyError, TypeError):
            return _zalo_error(ERROR_INVALID_PARAMETER, "Parameters are invalid")
        expires = self._access_tokens.get(token)
        if expires is None:
            return self._refuse(user_id, ERROR_ACCESS_TOKEN_INVALID, "Access token is invalid")
        if expires <= time.monotonic():
            return self._refuse(user_id, ERROR_ACCESS_TOKEN_EXPIRED, "Access token has expired")
        fault = self._fault_for(user_id)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status != 200:
                self.rejected.append((user_id, fault.status))
                return web.Response(status=fault.status, text=fault.message)
            if fault.error:
                return self._refuse(user_id, fault.error, fault.message)
        if not text.strip() or len(text) > TEXT_LIMIT:
            return self._refuse(user_id, ERROR_INVALID_PARAMETER, "Text length is invalid")
        now = time.monotonic()
        if self._flood_limit is not None:
            limit, window = self._flood_limit
            while self._accepted_times and now - self._accepted_times[0] >= window:
                self._accepted_times.popleft()
            if len(self._accepted_times) >= limit:
                return self._refuse(user_id, ERROR_RATE_LIMIT, "Exceeded the request rate limit")
            self._accepted_times.append(now)
        message_id = f"zmsg-{next(self._message_numbers)}"
        self.sent.append(ZaloSentMessage(user_id, text, message_id, token, now))
        self._notify()
        return web.json_response(
            {
                "data": {"message_id": message_id, "user_id": user_id},
                "error": 0,
                "message": "Success",
            }
        )

    def _refuse(self, user_id: str, code: int, message: str) -> web.Response:
        self.rejected.append((user_id, code))
        self._notify()
        return _zalo_error(code, message)

    def _fault_for(self, user_id: str) -> ZaloFault | None:
        queue = self._user_faults.get(user_id)
        if queue:
            return queue.popleft()
        return self._persistent_faults.get(user_id)

    async def _media(self, request: web.Request) -> web.StreamResponse:
        data = self._media_files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/jpeg")

    async def _access_token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if request.headers.get("secret_key") != self.app_secret_key:
            return _oauth_error(-14002, "Invalid secret key")
        if form.get("app_id") != self.app_id:
            return _oauth_error(-14001, "Invalid app id")
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(-14003, "Unsupported grant type")
        refresh_token = str(form.get("refresh_token", ""))
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        if refresh_token in self._used_refresh_tokens:
            self.refresh_reuses += 1
        if refresh_token not in self._refresh_tokens:
            self.refresh_calls.append(RefreshCall(refresh_token, False, time.monotonic()))
            self._notify()
            return _oauth_error(ERROR_INVALID_REFRESH_TOKEN, "Invalid refresh token")
        self._refresh_tokens.discard(refresh_token)
        self._used_refresh_tokens.add(refresh_token)
        number = next(self._token_numbers)
        access, refresh = f"access-{number}", f"refresh-{number}"
        self._access_tokens[access] = time.monotonic() + self.token_lifetime
        self._refresh_tokens.add(refresh)
        self.refresh_calls.append(RefreshCall(refresh_token, True, time.monotonic()))
        self._notify()
        # Zalo sends expires_in as a string of seconds.
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": str(int(self.token_lifetime)),
            }
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _zalo_error(code: int, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message})


def _oauth_error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"error": code, "error_name": description, "error_description": description}
    )


__all__ = ["FakeZaloApi", "RefreshCall", "ZaloFault", "ZaloSentMessage"]
