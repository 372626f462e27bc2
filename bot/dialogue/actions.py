"""Button payloads: what a pressed button sends back, encoded in at most 64 bytes.

Telegram limits callback_data to 64 bytes, so payloads are short `kind:arg:arg` strings.
Every payload the dialogue emits is built here and parsed here, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_ACTION_BYTES = 64


class Part(StrEnum):
    """A part of a procedure answer; values double as search Intent values."""

    GENERAL = "general"
    DOCUMENTS = "documents"
    TIME = "time"
    FEE = "fee"
    WHERE = "where"
    STEPS = "steps"
    ONLINE = "online"


class Menu(StrEnum):
    ASK = "ask"
    DOSSIER = "dossier"
    NOTICES = "notices"
    CONTACT = "contact"


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    args: tuple[str, ...] = ()

    def encode(self) -> str:
        payload = ":".join((self.kind, *self.args))
        if len(payload.encode()) > MAX_ACTION_BYTES:
            raise ValueError(f"action payload over {MAX_ACTION_BYTES} bytes: {payload!r}")
        return payload

    @classmethod
    def decode(cls, payload: str) -> Action:
        # Receipt codes contain no ':', procedure codes neither, so a plain split is safe.
        kind, *args = payload.split(":")
        return cls(kind, tuple(args))


def menu(item: Menu) -> str:
    return Action("menu", (item.value,)).encode()


def show_part(code: str, part: Part) -> str:
    return Action("p", (code, part.value)).encode()


def not_this_one() -> str:
    return Action("notp").encode()


def feedback(code: str, helpful: bool) -> str:
    return Action("fb", (code, "1" if helpful else "0")).encode()


def dossier(verb: str, code: str) -> str:
    """verb: 'hist' (history), 'watch', 'unwatch'."""
    return Action("d", (verb, code)).encode()


def rating(code: str, stars: int) -> str:
    return Action("rate", (code, str(stars))).encode()


def subscribe(topic: str | None) -> str:
    return Action("sub", (topic or "all",)).encode()


def unsubscribe() -> str:
    return Action("unsub").encode()


def broadcast(verb: str, ref: str) -> str:
    """verb: 'send'/'drop' (a draft), 'stop'/'refresh' (a running job)."""
    return Action("bc", (verb, ref)).encode()


def teach(row_id: int, code: str | None) -> str:
    """Staff: question `row_id` (statistics row) means procedure `code`; None: not ours."""
    return Action("tq", (str(row_id), code or "-")).encode()


def end_handoff() -> str:
    """The citizen ends the conversation with staff (bot.dialogue.handoff_flow)."""
    return Action("ho", ("end",)).encode()


def ask_staff() -> str:
    """The citizen hands the question the bot could not answer to staff."""
    return Action("ho", ("ask",)).encode()
