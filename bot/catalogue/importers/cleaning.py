"""Cleaning text from exported catalogues before it is parsed or stored."""

from __future__ import annotations

import re
import unicodedata

# How the national portal says "nothing here"; treated exactly like an empty value.
NO_INFORMATION = "Không có thông tin"

# Marks that carry no text: zero-width spaces and joiners, direction marks, the BOM.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
# Characters TOML files should not carry raw (tab and newline are fine) and lone surrogates,
# which cannot be written as UTF-8 at all.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(value: object) -> str:
    """Text as it should be stored: NFC, no invisible or control characters, one space
    between words, Unix line breaks, no blank edges. "Không có thông tin" becomes ""."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", _INVISIBLE.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return "" if text == NO_INFORMATION else text


def one_line(text: str) -> str:
    """The text on a single line (for names, fields and table cells)."""
    return " ".join(text.split())
