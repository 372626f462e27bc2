"""Turning Vietnamese names into ASCII file and folder names."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold_diacritics(text: str) -> str:
    """Remove Vietnamese tone and vowel marks: 'Đăng ký hộ tịch' -> 'Dang ky ho tich'.

    'đ' is a separate letter, not a composed one, so NFD alone leaves it; it is mapped by hand.
    """
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d").replace("Đ", "D")


def slugify(text: str, max_length: int = 60) -> str:
    """'Hộ tịch' -> 'ho-tich'; never empty (falls back to 'khac', "other")."""
    slug = _NON_WORD.sub("-", fold_diacritics(text).lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    return slug or "khac"
