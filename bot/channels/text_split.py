"""Splitting long text into messages that fit a platform's length limit.

Text is cut at line boundaries; only a single line longer than the limit is cut inside,
at a space when there is one. Callers that render markup (Telegram HTML) split the plain
text and render each piece, so a cut never falls inside an escape or a tag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Measure = Callable[[str], int]


def utf16_length(text: str) -> int:
    """Length as Telegram and Zalo count it (UTF-16 code units: an emoji counts as two)."""
    return len(text.encode("utf-16-le")) // 2


def split_long_line(line: str, limit: int, measure: Measure = utf16_length) -> list[str]:
    """Pieces of `line`, each with measure(piece) <= limit, cut after a space if possible."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = line
    while measure(rest) > limit:
        cut = _longest_fitting_prefix(rest, limit, measure)
        space = rest.rfind(" ", 0, cut)
        if space > 0:
            cut = space + 1
        pieces.append(rest[:cut].rstrip(" ") or rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _longest_fitting_prefix(text: str, limit: int, measure: Measure) -> int:
    # Binary search: measure() may be expensive (rendering), and is monotonic in the prefix.
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def pack_lines(lines: Sequence[str], limit: int, measure: Measure = utf16_length) -> list[str]:
    """Join `lines` with newlines into as few chunks as possible, each within `limit`.

    Every line must already fit on its own (see `split_long_line`). Blank lines at the
    start or end of a chunk are dropped: a message never begins or ends with empty lines.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line_size = measure(line)
        if line_size > limit:
            raise ValueError("a line is longer than the limit; split it first")
        added = line_size + (1 if current else 0)
        if current and size + added > limit:
            chunks.append(_joined(current))
            current, size = [], 0
            added = line_size
        if not current and not line.strip():
            continue
        current.append(line)
        size += added
    if current:
        chunks.append(_joined(current))
    return [chunk for chunk in chunks if chunk]


def _joined(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def split_text(text: str, limit: int, measure: Measure = utf16_length) -> list[str]:
    """Plain text into chunks within `limit`, cut at line boundaries."""
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(split_long_line(line, limit, measure))
    return pack_lines(lines, limit, measure)
