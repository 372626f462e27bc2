"""bot.inbound: text from outside made storable, JSON read with size and depth limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.inbound import (
    MAX_JSON_DEPTH,
    UnreadableJson,
    read_json,
    storable_incoming,
    storable_text,
)
from bot.messages import Channel, ChatRef, Incoming

# Arbitrary Unicode, surrogates included (Hypothesis leaves category Cs out by default).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
RTL_MARK, ZERO_WIDTH_JOINER = "\u200f", "\u200d"


def test_lone_surrogates_are_replaced_and_pairs_joined() -> None:
    assert storable_text("a\ud800b\udfffc", limit=100) == "a\ufffdb\ufffdc"
    # A pair of surrogate code points (as some decoders leave them) is the character.
    assert storable_text("\ud83d\ude00", limit=100) == "😀"


def test_nul_and_control_characters_are_removed_but_line_breaks_and_tabs_kept() -> None:
    raw = "th\x00ủ\x07 tục\x1b[31m\x7f\x85\n\tkhai\r\nsinh"
    assert storable_text(raw, limit=100) == "thủ tục[31m\n\tkhai\r\nsinh"


def test_valid_text_is_kept_as_it_is() -> None:
    family = "👨" + ZERO_WIDTH_JOINER + "👩" + ZERO_WIDTH_JOINER + "👧"
    raw = f"{RTL_MARK}مرحبا đăng ký khai sinh {family} \u200b"
    assert storable_text(raw, limit=100) == raw


def test_text_is_cut_to_the_limit() -> None:
    assert storable_text("a" * 10_000, limit=4096) == "a" * 4096


@given(ANY_TEXT, st.integers(min_value=0, max_value=400))
@settings(max_examples=200)
def test_storable_text_always_encodes_and_never_holds_nul(raw: str, limit: int) -> None:
    text = storable_text(raw, limit=limit)
    text.encode("utf-8")  # raises for a lone surrogate
    assert "\x00" not in text
    assert len(text) <= limit
    assert storable_text(text, limit=limit) == text


def test_every_text_field_of_an_incoming_message_is_made_storable() -> None:
    incoming = Incoming(
        ChatRef(Channel.ZALO, "u\ud8001"),
        "u\ud8001",
        text="x\x00" * 5000,
        action="a\udc80",
        display_name="L\x00an",
        quoted_text="\ud800",
        network_address="1.2.3.4\x00",
    )

    cleaned = storable_incoming(incoming, limit=10)

    assert cleaned.chat == ChatRef(Channel.ZALO, "u\ufffd1")
    assert (cleaned.user_id, cleaned.text, cleaned.action) == ("u\ufffd1", "x" * 10, "a\ufffd")
    assert (cleaned.display_name, cleaned.quoted_text) == ("Lan", "\ufffd")
    assert cleaned.network_address == "1.2.3.4"


def test_json_strings_are_made_storable_keys_included() -> None:
    body = '{"text": "\\ud800 a\\u0000b", "k\\u0000": ["\\udfff"], "n": 1}'
    assert read_json(body, max_bytes=1000) == {"text": "\ufffd ab", "k": ["\ufffd"], "n": 1}
    assert read_json(body.encode(), max_bytes=1000)["text"] == "\ufffd ab"


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        with pytest.raises(UnreadableJson, match="nested deeper"):
            read_json("[" * depth + "]" * depth, max_bytes=1_000_000)
    assert read_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, max_bytes=1000) is not None


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = json.dumps({"text": "[" * 500 + '\\"{' * 100})
    assert read_json(body, max_bytes=10_000)["text"].startswith("[[[")


def test_malformed_deep_input_is_refused_cleanly() -> None:
    # An unterminated string hides the brackets from the depth count; json still refuses.
    with pytest.raises(UnreadableJson):
        read_json('"' + "[" * 100_000, max_bytes=1_000_000)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"x" * 101, "larger than 100 bytes"),
        ("đ" * 51, "larger than 100 bytes"),  # counted in UTF-8 bytes, not characters
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"not json", "not JSON"),
        (b"", "not JSON"),
    ],
)
def test_unreadable_bodies_are_refused_with_a_reason(body: bytes | str, reason: str) -> None:
    with pytest.raises(UnreadableJson, match=reason):
        read_json(body, max_bytes=100)
