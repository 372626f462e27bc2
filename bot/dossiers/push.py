"""Pushes from the one-stop system: "these dossiers changed", signed with a shared secret.

Request (POST to `dossiers.push_path`, body JSON, UTF-8):

    X-Dossier-Timestamp: 1767225600                 Unix seconds when it was signed
    X-Dossier-Signature: sha256=<hex>               HMAC-SHA256(push_secret,
                                                     "<timestamp>." + raw body)
    {"changes": [{"change_id": "...", "code": "...", "status": "...", "changed_at": "...",
                  ...any lookup column of bot.dossiers.contract...}]}

An empty or absent "changes" list means "something changed, poll now". A request whose
signature does not verify, whose timestamp is more than `push_max_age_seconds` away from
now, or whose signature was already accepted (a replay; remembered in the bot's database,
so every bot process rejects it) is refused. `sign_push` computes the headers, for the
vendor's side and for tests.

`PushReceiver.receive` holds the logic; `bot.channels.dossier_push` only adapts it to
aiohttp.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import DossierConfig
from bot.dossiers.contract import ContractReader
from bot.dossiers.model import DossierChange, StatusMapping
from bot.dossiers.source import SourceMisconfigured
from bot.dossiers.watcher import DossierWatcher
from bot.inbound import UnreadableJson, read_json
from bot.storage.database import connect
from bot.storage.dossier_tables import push_nonces, utc_naive
from bot.storage.upserts import insert_ignoring_duplicates

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Dossier-Timestamp"
SIGNATURE_HEADER = "X-Dossier-Signature"
MAX_CHANGES_PER_PUSH = 1000
# A push lists at most 1,000 changes of a few hundred bytes each.
MAX_PUSH_BYTES = 1024 * 1024


class PushVerdict(StrEnum):
    ACCEPTED = "accepted"
    NOT_CONFIGURED = "not_configured"  # no push_secret: the endpoint does not exist
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    REPLAYED = "replayed"
    BAD_BODY = "bad_body"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    PushVerdict.ACCEPTED: 202,
    PushVerdict.NOT_CONFIGURED: 404,
    PushVerdict.UNSIGNED: 401,
    PushVerdict.BAD_SIGNATURE: 401,
    PushVerdict.STALE: 401,
    PushVerdict.REPLAYED: 409,
    PushVerdict.BAD_BODY: 400,
}


@dataclass(frozen=True, slots=True)
class PushResult:
    verdict: PushVerdict
    changes_recorded: int = 0
    detail: str = ""


def push_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_push(secret: str, body: bytes, now: dt.datetime | None = None) -> dict[str, str]:
    """The headers that authenticate `body` (what the one-stop system must send)."""
    timestamp = str(int((now or dt.datetime.now(dt.UTC)).timestamp()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: "sha256=" + push_signature(secret, timestamp, body),
    }


def check_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime,
    max_age_seconds: int,
) -> tuple[PushVerdict, str]:
    """(verdict, the signature's hex) from the pure checks: present, valid, fresh."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    signature = lowered.get(SIGNATURE_HEADER.lower(), "").strip()
    if not timestamp or not signature:
        return PushVerdict.UNSIGNED, ""
    signature = signature.removeprefix("sha256=").lower()
    expected = push_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature):
        return PushVerdict.BAD_SIGNATURE, ""
    try:
        signed_at = int(timestamp)
    except ValueError:
        return PushVerdict.BAD_SIGNATURE, ""
    if abs(now.timestamp() - signed_at) > max_age_seconds:
        return PushVerdict.STALE, expected
    return PushVerdict.ACCEPTED, expected


class PushReceiver:
    """Verifies a push, rejects replays, and hands its changes to the watcher."""

    def __init__(self, config: DossierConfig, engine: AsyncEngine, watcher: DossierWatcher):
        self._secret = config.push_secret
        self._max_age = config.push_max_age_seconds
        self._engine = engine
        self._watcher = watcher
        self._reader = ContractReader(
            StatusMapping(config.status_labels),
            dt.timezone(dt.timedelta(hours=config.utc_offset_hours)),
            "dossier push",
        )

    @property
    def enabled(self) -> bool:
        return bool(self._secret)

    async def receive(
        self, headers: Mapping[str, str], body: bytes, now: dt.datetime | None = None
    ) -> PushResult:
        if not self._secret:
            return PushResult(PushVerdict.NOT_CONFIGURED)
        moment = now or dt.datetime.now(dt.UTC)
        verdict, signature = check_signature(self._secret, headers, body, moment, self._max_age)
        if verdict is not PushVerdict.ACCEPTED:
            log.warning("dossier push refused: %s", verdict.value)
            return PushResult(verdict)
        try:
            pushed = self._parse(body)
        except (ValueError, SourceMisconfigured) as exc:
            log.warning("dossier push refused: bad body: %s", exc)
            return PushResult(PushVerdict.BAD_BODY, detail=str(exc))
        async with connect(self._engine, begin=True) as connection:
            fresh = await insert_ignoring_duplicates(
                connection,
                push_nonces,
                [{"signature": signature, "received_at": utc_naive(moment)}],
            )
            # Older signatures can no longer pass the freshness check: forget them.
            await connection.execute(
                delete(push_nonces).where(
                    push_nonces.c.received_at
                    < utc_naive(moment - dt.timedelta(seconds=2 * self._max_age))
                )
            )
        if not fresh:
            log.warning("dossier push refused: replayed")
            return PushResult(PushVerdict.REPLAYED)
        if not pushed:
            self._watcher.wake()
            return PushResult(PushVerdict.ACCEPTED)
        recorded = await self._watcher.accept_pushed(pushed, moment)
        return PushResult(PushVerdict.ACCEPTED, changes_recorded=recorded)

    def _parse(self, body: bytes) -> list[DossierChange]:
        # Every string in the document made storable (bot.inbound): a change's note
        # is stored and sent to citizens.
        try:
            document: Any = read_json(body, max_bytes=MAX_PUSH_BYTES) if body.strip() else {}
        except UnreadableJson as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ValueError("expected a JSON object")
        items = document.get("changes") or []
        if not isinstance(items, list) or len(items) > MAX_CHANGES_PER_PUSH:
            raise ValueError(f"'changes' must be a list of at most {MAX_CHANGES_PER_PUSH}")
        parsed: list[DossierChange] = []
        for item in items:
            if not isinstance(item, dict) or not item.get("change_id"):
                raise ValueError("each change needs a 'change_id', 'code' and 'status'")
            parsed.append(self._reader.change({"cursor": item["change_id"], **item}))
        return parsed
