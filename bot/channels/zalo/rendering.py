"""The replies of one turn as Zalo text messages.

Zalo shows plain text only (2,000 characters per message): headings are plain lines,
buttons become numbered choices (numbered across the whole turn), and a hint telling the
citizen to answer with a number follows the last message that offers choices.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import texts
from bot.channels.numbered_choices import Choice, all_choices, number_replies
from bot.channels.text_split import split_text
from bot.messages import Reply

TEXT_LIMIT = 2000  # Zalo OA text message limit


def render_turn(
    replies: Sequence[Reply], limit: int = TEXT_LIMIT
) -> tuple[list[str], tuple[Choice, ...]]:
    """The replies of one turn as Zalo text messages, and the numbered choices offered."""
    numbered = number_replies(replies)
    last_with_choices = max(
        (index for index, item in enumerate(numbered) if item.choices), default=-1
    )
    messages: list[str] = []
    for index, item in enumerate(numbered):
        lines = list(item.lines)
        if index == last_with_choices:
            lines.append(texts.ZALO_CHOICE_HINT)
        if item.reply.image is not None and not lines:
            continue  # images need Zalo's upload API; the text carries the answer
        messages.extend(split_text("\n".join(lines), limit))
    return messages, all_choices(numbered)
