"""Buttons as numbered choices, for channels without clickable buttons (Zalo, terminal).

A conversation turn may return several replies; their buttons are numbered on from one
reply to the next, so that every number the citizen sees in one turn means one thing.
A reply of just that number then counts as pressing the button, when it is the citizen's
next message: once they have written something else (a question to the staff member of a
hand-off, which the bot does not answer itself), a "1" is an answer, not the first button.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.messages import Reply


@dataclass(frozen=True, slots=True)
class Choice:
    number: int
    label: str
    action: str


@dataclass(frozen=True, slots=True)
class NumberedReply:
    """A reply as plain-text lines: its text, then its choices and links."""

    reply: Reply
    text_lines: tuple[str, ...]
    choice_lines: tuple[str, ...]
    choices: tuple[Choice, ...]

    @property
    def lines(self) -> tuple[str, ...]:
        if not self.choice_lines:
            return self.text_lines
        gap = ("",) if self.text_lines else ()
        return (*self.text_lines, *gap, *self.choice_lines)


def number_replies(replies: Sequence[Reply], first_number: int = 1) -> list[NumberedReply]:
    """Each reply with its action buttons numbered, continuing across the replies."""
    numbered: list[NumberedReply] = []
    number = first_number
    for reply in replies:
        choices: list[Choice] = []
        choice_lines: list[str] = []
        for button in reply.all_buttons:
            if button.url:
                choice_lines.append(f"{button.label}: {button.url}")
            elif button.action:
                choices.append(Choice(number, button.label, button.action))
                choice_lines.append(f"{number}. {button.label}")
                number += 1
        text = reply.plain_text()
        numbered.append(
            NumberedReply(
                reply=reply,
                text_lines=tuple(text.split("\n")) if text else (),
                choice_lines=tuple(choice_lines),
                choices=tuple(choices),
            )
        )
    return numbered


def all_choices(numbered: Sequence[NumberedReply]) -> tuple[Choice, ...]:
    return tuple(choice for reply in numbered for choice in reply.choices)


_NUMBER = re.compile(r"\s*(\d{1,3})\s*[.)]?\s*")


def pick_choice(text: str, choices: Sequence[Choice]) -> Choice | None:
    """The choice `text` selects ("2", " 2. ", "2)"), or None when it is not a choice."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    for choice in choices:
        if choice.number == number:
            return choice
    return None
