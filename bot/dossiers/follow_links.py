"""Links that take a dossier a web chat looked up to Telegram, followed on arrival.

    web chat: dossier found ── "Báo tôi khi có thay đổi" ──> issue(chat, code)
        ──> https://t.me/<bot>?start=f_<token>        (the token, never the receipt code)
    Telegram: "/start f_<token>" ──> redeem(token, telegram chat)
        ──> the Telegram chat may see the dossier as the web chat could, and is subscribed

A token is 128 random bits, works once and for `lifetime` (`[web] follow_link_minutes`);
the database keeps only its SHA-256, so a copy of the table opens nothing. Only a chat that
has verified the dossier (bot.dossiers.access grants) gets one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dossiers.service import DossierService
from bot.messages import Channel, ChatRef
from bot.storage.database import connect
from bot.storage.dossier_tables import utc_naive
from bot.storage.web_tables import follow_tokens

# "f_" tells a follow link from other /start payloads; 22 characters of base64url = 128 bits.
PREFIX = "f_"
_TOKEN = re.compile(r"f_[A-Za-z0-9_-]{22}")


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A valid token: the dossier it follows and the chat that verified it."""

    code: str
    source: ChatRef


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_follow_token(text: str) -> bool:
    return text.startswith(PREFIX)


class FollowLinks:
    def __init__(self, engine: AsyncEngine, service: DossierService, lifetime: dt.timedelta):
        self._engine = engine
        self._service = service
        self.lifetime = lifetime

    async def issue(self, chat: ChatRef, code: str, now: dt.datetime) -> str | None:
        """A new token for `code`, or None when `chat` has not verified it."""
        if not await self._service.has_verified(chat, code):
            return None
        token = PREFIX + secrets.token_urlsafe(16)
        async with connect(self._engine, begin=True) as connection:
            # Expired tokens are dropped as new ones are made: the table stays small.
            await connection.execute(
                delete(follow_tokens).where(follow_tokens.c.expires_at < utc_naive(now))
            )
            await connection.execute(
                insert(follow_tokens).values(
                    token_hash=_digest(token),
                    code=code,
                    channel=chat.channel.value,
                    chat_id=chat.chat_id,
                    created_at=utc_naive(now),
                    expires_at=utc_naive(now + self.lifetime),
                )
            )
        return token

    async def redeem(self, token: str, now: dt.datetime) -> Redeemed | None:
        """The token's dossier, once: None when unknown, used already or expired."""
        if not _TOKEN.fullmatch(token):
            return None
        digest = _digest(token)
        async with connect(self._engine, begin=True) as connection:
            # Used and checked in one statement: two processes given the same token
            # cannot both redeem it.
            claimed = await connection.execute(
                update(follow_tokens)
                .where(
                    follow_tokens.c.token_hash == digest,
                    follow_tokens.c.used_at.is_(None),
                    follow_tokens.c.expires_at > utc_naive(now),
                )
                .values(used_at=utc_naive(now))
            )
            if claimed.rowcount != 1:
                return None
            row = (
                await connection.execute(
                    select(
                        follow_tokens.c.code, follow_tokens.c.channel, follow_tokens.c.chat_id
                    ).where(follow_tokens.c.token_hash == digest)
                )
            ).one()
        return Redeemed(row.code, ChatRef(Channel(row.channel), row.chat_id))
