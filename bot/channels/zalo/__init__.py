"""Zalo Official Account channel: a signed webhook in, the OA message API out.

Zalo posts events to `[zalo] webhook_path`; each is checked against `X-ZEvent-Signature`
("mac=" + sha256 hex of app id + raw body + the body's `timestamp` + OA secret key, as
Zalo documents), refused when stale, acknowledged at once (Zalo expects an answer within
a few seconds) and then processed in the background. `user_send_text`, `user_send_image`
(the picture is downloaded from the URL in the signed event, at most `MAX_PHOTO_BYTES`),
`follow` and `unfollow` are understood; other events are acknowledged and ignored.

Replies go through `POST {api_base}/v3.0/oa/message/cs` with the OA access token. Zalo
shows plain text only (2,000 characters per message), so headings are plain lines and
buttons become numbered choices; the choices offered last are kept per citizen in the
bot's database, so that a reply of "2" presses the second button even after a restart or
on another bot process.

The access token lives about 25 hours and is renewed with the refresh token, which Zalo
accepts exactly once. The current pair is kept in the bot's database; one renewal at a
time is guaranteed across coroutines (a lock) and across processes (a lease claimed with
compare-and-swap on the row's generation), so a refresh token is never sent twice.

One module per idea (each imports only those above it in this list):
    errors       Zalo's error codes and failure types; what each means for a send
    api          the HTTP client: send a text, renew the access token
    tokens       the token pair in the database, renewed under a lease
    choices      the numbered choices offered last, per citizen
    seen_events  the webhook events already taken (each answered once)
    rendering    a turn's replies as plain text messages with numbered choices
    sender       messages.Sender for Zalo, with its own short retry for answers
    webhook      signature check and translation of webhook events
    channel      ZaloChannel: the webhook handler, background answers, lifetime
This package re-exports what the rest of the bot and the tests import.
"""

from bot.channels.numbered_choices import NumberedReply
from bot.channels.zalo.api import REQUEST_TIMEOUT_SECONDS, IssuedTokens, ZaloApi
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.choices import ZaloChoiceStore
from bot.channels.zalo.errors import (
    BLOCKED_ERRORS,
    NIGHT_ERROR,
    OUTSIDE_WINDOW_ERRORS,
    RATE_ERRORS,
    RETRYABLE_ERRORS,
    TOKEN_ERRORS,
    ZaloApiError,
    ZaloAuthError,
    ZaloHttpError,
    send_error_for,
)
from bot.channels.zalo.rendering import TEXT_LIMIT, render_turn
from bot.channels.zalo.seen_events import ZaloSeenEvents
from bot.channels.zalo.sender import (
    RetryPolicy,
    ZaloSender,
    build_zalo_sender,
    open_zalo_sender,
)
from bot.channels.zalo.tokens import (
    REFRESH_LEASE_SECONDS,
    REFRESH_MARGIN_SECONDS,
    ZaloTokens,
    ZaloTokenStore,
)
from bot.channels.zalo.webhook import (
    MAX_EVENT_BYTES,
    SIGNATURE_HEADER,
    download_photo,
    expected_signature,
    image_url_of,
    incoming_from_event,
    signature_valid,
)

__all__ = [
    "BLOCKED_ERRORS",
    "MAX_EVENT_BYTES",
    "NIGHT_ERROR",
    "OUTSIDE_WINDOW_ERRORS",
    "RATE_ERRORS",
    "REFRESH_LEASE_SECONDS",
    "REFRESH_MARGIN_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "RETRYABLE_ERRORS",
    "SIGNATURE_HEADER",
    "TEXT_LIMIT",
    "TOKEN_ERRORS",
    "IssuedTokens",
    "NumberedReply",
    "RetryPolicy",
    "ZaloApi",
    "ZaloApiError",
    "ZaloAuthError",
    "ZaloChannel",
    "ZaloChoiceStore",
    "ZaloHttpError",
    "ZaloSeenEvents",
    "ZaloSender",
    "ZaloTokenStore",
    "ZaloTokens",
    "build_zalo_sender",
    "download_photo",
    "expected_signature",
    "image_url_of",
    "incoming_from_event",
    "open_zalo_sender",
    "render_turn",
    "send_error_for",
    "signature_valid",
]
