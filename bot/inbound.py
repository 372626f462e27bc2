"""Text from outside made storable at the edge, before the dialogue, the matcher, the
statistics or the database see it. Every channel uses these; none writes its own.

    text = storable_text(raw, limit=INBOUND_TEXT_CHARS)
    event = read_json(body, max_bytes=64 * 1024)      # raises UnreadableJson

Why: JSON allows a lone surrogate ("\\ud800"), which Python decodes to a string that cannot
be encoded as UTF-8, so SQLite's driver refuses the row; PostgreSQL refuses NUL in text
columns. One such row used to hold a whole write-behind batch of other chats' contexts in a
retry loop (issue 13). Deeply nested JSON makes `json.loads` raise RecursionError.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from bot.messages import ChatRef, Incoming

# Telegram's own limit for one message; the web chat and Zalo allow less (their channels
# refuse longer texts politely), so only what no person types is cut here.
INBOUND_TEXT_CHARS = 4096
# Ids, button actions and names: short on every platform.
INBOUND_ID_CHARS = 128
INBOUND_NAME_CHARS = 256
# No body the bot accepts nests deeper than a few levels (a Zalo event: 3, a Telegram
# update: about 6); 32 leaves room while staying far below Python's recursion limit.
MAX_JSON_DEPTH = 32

# C0 controls except tab, newline and carriage return, DEL and the C1 controls: invisible,
# meaningless in a question, and NUL is refused by PostgreSQL.
_CONTROLS = dict.fromkeys(
    [c for c in range(0x20) if chr(c) not in "\t\n\r"] + list(range(0x7F, 0xA0)), None
)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class UnreadableJson(ValueError):
    """A body or frame that is not JSON the bot reads: too large, too deep, not UTF-8."""


def storable_text(raw: str, *, limit: int) -> str:
    """`raw` as any database stores it: lone surrogates replaced by U+FFFD (a surrogate
    pair is joined into its character), NUL and other control characters removed (tabs and
    line breaks kept), cut to `limit` characters. RTL marks, zero-width joiners and emoji
    are kept: they are valid text."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 keeps surrogate code points as they are; decoding it back joins pairs and
        # replaces the lone ones.
        raw = raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = raw.translate(_CONTROLS)
    return text[:limit]


def storable_incoming(incoming: Incoming, *, limit: int = INBOUND_TEXT_CHARS) -> Incoming:
    """`incoming` with every text field storable (the text cut to `limit` characters)."""
    chat_id = storable_text(incoming.chat.chat_id, limit=INBOUND_ID_CHARS)
    action = incoming.action
    return dataclasses.replace(
        incoming,
        chat=ChatRef(incoming.chat.channel, chat_id),
        user_id=storable_text(incoming.user_id, limit=INBOUND_ID_CHARS),
        text=storable_text(incoming.text, limit=limit),
        action=None if action is None else storable_text(action, limit=INBOUND_ID_CHARS),
        display_name=storable_text(incoming.display_name, limit=INBOUND_NAME_CHARS),
        quoted_text=storable_text(incoming.quoted_text, limit=limit),
        network_address=storable_text(incoming.network_address, limit=INBOUND_ID_CHARS),
    )


def read_json(body: bytes | str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in `body`, every string in it (keys too) made storable (not cut:
    `max_bytes` bounds them). Raises UnreadableJson, with a short reason, for a body over
    `max_bytes`, nested deeper than `max_depth`, not UTF-8 or not JSON."""
    size = len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise UnreadableJson(f"larger than {max_bytes} bytes")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableJson("not UTF-8") from None
    if _depth(body) > max_depth:
        raise UnreadableJson(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(body)
    except RecursionError:  # the depth count is fooled only by malformed input
        raise UnreadableJson(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise UnreadableJson(f"not JSON ({exc.args[0] if exc.args else exc})") from None
    return _storable_value(value, max_bytes)


def _depth(document: str) -> int:
    """The deepest nesting of arrays and objects, counted outside string literals."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", document)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _storable_value(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return storable_text(value, limit=limit)
    if isinstance(value, dict):
        return {
            storable_text(key, limit=limit): _storable_value(item, limit)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_storable_value(item, limit) for item in value]
    return value
