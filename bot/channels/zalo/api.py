"""The Zalo OA HTTP API: the two calls the bot makes.

`send_text` posts a customer-service text message (`/v3.0/oa/message/cs`) and
`refresh_access_token` trades the single-use refresh token for a new pair
(`/v4/oa/access_token`). Failures are raised as the types of `errors`; what to retry
and when to renew is decided by the callers (`sender`, `tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bot.channels.zalo.errors import ZaloApiError, ZaloAuthError, ZaloHttpError
from bot.config import ZaloConfig

REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: float | None


class ZaloApi:
    """The two Zalo calls the bot makes, over the given aiohttp session."""

    def __init__(
        self,
        config: ZaloConfig,
        session: aiohttp.ClientSession,
        *,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._config = config
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send_text(self, access_token: str, user_id: str, text: str) -> str:
        """Send a customer-service text message; returns Zalo's message id."""
        url = self._config.api_base.rstrip("/") + "/v3.0/oa/message/cs"
        payload = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        async with self._session.post(
            url, json=payload, headers={"access_token": access_token}, timeout=self._timeout
        ) as response:
            if response.status >= 400:
                retry_after = response.headers.get("Retry-After")
                raise ZaloHttpError(
                    response.status,
                    float(retry_after) if retry_after and retry_after.isdigit() else None,
                )
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ZaloApiError(0, "unreadable answer")
        code = int(body.get("error") or 0)
        if code != 0:
            raise ZaloApiError(code, str(body.get("message", "")))
        data = body.get("data")
        return str(data.get("message_id", "")) if isinstance(data, dict) else ""

    async def refresh_access_token(self, refresh_token: str) -> IssuedTokens:
        """Trade the (single-use) refresh token for a new pair."""
        url = self._config.oauth_base.rstrip("/") + "/v4/oa/access_token"
        form = {
            "app_id": self._config.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        async with self._session.post(
            url,
            data=form,
            headers={"secret_key": self._config.app_secret_key},
            timeout=self._timeout,
        ) as response:
            if response.status >= 500:
                raise ZaloHttpError(response.status)
            body = await response.json(content_type=None)
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        if not isinstance(body, dict) or not body.get("access_token"):
            reason = ""
            if isinstance(body, dict):
                name = body.get("error_name") or body.get("message", "")
                reason = f"{body.get('error', '')} {name}"
            raise ZaloAuthError(f"Zalo refused to renew the access token: {reason.strip()}")
        expires_in = body.get("expires_in")
        return IssuedTokens(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or refresh_token),
            expires_in=float(expires_in) if expires_in not in (None, "") else None,
        )
