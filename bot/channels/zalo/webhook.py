"""Zalo's webhook events: their signature, their key, and what they mean for the bot.

Each event is checked against `X-ZEvent-Signature` ("mac=" + sha256 hex of app id + raw
body + the body's `timestamp` + OA secret key, as Zalo documents). `user_send_text`,
`user_send_image` (the picture is downloaded from the URL in the signed event, at most
`MAX_PHOTO_BYTES`), `follow` and `unfollow` become an Incoming; other events are ignored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.channels.photo_bytes import read_photo
from bot.channels.zalo.api import REQUEST_TIMEOUT_SECONDS
from bot.config import ZaloConfig
from bot.inbound import storable_incoming
from bot.messages import (
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
    Channel,
    ChatRef,
    Incoming,
    Photo,
    PhotoProblem,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
# An event holds at most a 2,000-character text and a few attachment URLs.
MAX_EVENT_BYTES = 64 * 1024


def incoming_from_event(event: dict[str, Any]) -> Incoming | None:
    """The Incoming for a Zalo webhook event, or None for events the bot does not use."""
    name = event.get("event_name")
    received_at = dt.datetime.now(dt.UTC)
    with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
        received_at = dt.datetime.fromtimestamp(int(event["timestamp"]) / 1000, dt.UTC)
    if name in ("user_send_text", "user_send_image"):
        sender, message = event.get("sender"), event.get("message")
        if not isinstance(sender, dict) or not isinstance(message, dict):
            return None
        # An image's caption, if any, is its text.
        user_id, text = str(sender.get("id") or ""), message.get("text", "")
        if not user_id or not isinstance(text, str):
            return None
        return storable_incoming(
            Incoming(
                chat=ChatRef(Channel.ZALO, user_id),
                user_id=user_id,
                text=text,
                received_at=received_at,
            )
        )
    if name in ("follow", "unfollow"):
        follower = event.get("follower")
        user_id = str(follower.get("id") or "") if isinstance(follower, dict) else ""
        if not user_id:
            return None
        return storable_incoming(
            Incoming(
                chat=ChatRef(Channel.ZALO, user_id),
                user_id=user_id,
                action=EVENT_FOLLOW if name == "follow" else EVENT_UNFOLLOW,
                received_at=received_at,
                is_first_contact=name == "follow",
            )
        )
    return None


def image_url_of(event: dict[str, Any]) -> str | None:
    """The picture's URL in a `user_send_image` event (its first image attachment)."""
    if event.get("event_name") != "user_send_image":
        return None
    message = event.get("message")
    attachments = message.get("attachments") if isinstance(message, dict) else None
    for attachment in attachments if isinstance(attachments, list) else []:
        payload = attachment.get("payload") if isinstance(attachment, dict) else None
        url = payload.get("url") if isinstance(payload, dict) else None
        if attachment.get("type") == "image" and isinstance(url, str) and url:
            return url
    return ""


async def download_photo(session: aiohttp.ClientSession, url: str) -> Photo:
    """The picture at `url` (from a signed event), at most MAX_PHOTO_BYTES, or why not."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning("Zalo image not fetched: not an http(s) URL: %.80r", url)
        return Photo(problem=PhotoProblem.NOT_RECEIVED)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    try:
        async with session.get(url, timeout=timeout) as response:
            if response.status != 200:
                log.warning("Zalo image not fetched: HTTP %d", response.status)
                return Photo(problem=PhotoProblem.NOT_RECEIVED)
            return await read_photo(response.content, response.content_length)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Zalo image not fetched: %s: %s", type(exc).__name__, exc)
        return Photo(problem=PhotoProblem.NOT_RECEIVED)


def expected_signature(config: ZaloConfig, body: bytes, timestamp: str) -> str:
    digest = hashlib.sha256(
        config.app_id.encode() + body + timestamp.encode() + config.oa_secret_key.encode()
    ).hexdigest()
    return f"mac={digest}"


def signature_valid(config: ZaloConfig, body: bytes, timestamp: str, supplied: str) -> bool:
    expected = expected_signature(config, body, timestamp)
    supplied = supplied.strip()
    if not supplied.startswith("mac="):
        supplied = "mac=" + supplied
    return hmac.compare_digest(expected.encode(), supplied.lower().encode())


def event_key(event: dict[str, Any], timestamp: str) -> str:
    """What makes an event the same one again: its msg_id, else name, time and user."""
    message = event.get("message")
    msg_id = message.get("msg_id") if isinstance(message, dict) else None
    who = event.get("follower") or event.get("sender")
    if msg_id:
        return f"msg:{msg_id}"
    return f"{event.get('event_name')}:{timestamp}:{who}"
