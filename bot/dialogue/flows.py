"""The flows the core delegates to, as protocols.

The core routes; these flows do the work for dossiers, notice subscriptions and staff
commands. Each is optional (a center may switch dossier lookup off), which the core
handles by telling the citizen so.
"""

from __future__ import annotations

from typing import Protocol

from bot.dialogue.actions import Action
from bot.dialogue.turn import Turn
from bot.messages import ChatRef, Photo


class DossierFlow(Protocol):
    async def handle_text(self, turn: Turn, text: str) -> bool:
        """Handle `text` when it is about a dossier (a receipt code, a verification value,
        a rating comment); return False to let the core treat it as a question."""
        ...

    async def button(self, turn: Turn, action: Action) -> None: ...

    async def handle_photo(self, turn: Turn, photo: Photo) -> bool:
        """Look up the dossier whose code the photo shows (a receipt slip's QR code or
        barcode); return False when it shows none and the message has a caption to read."""
        ...

    async def start_link(self, turn: Turn, argument: str) -> bool:
        """Handle "/start <argument>" from a link that follows a dossier; False when the
        argument is not one."""
        ...


class NoticesFlow(Protocol):
    async def offer(self, turn: Turn) -> None: ...

    async def unsubscribe(self, turn: Turn) -> None: ...

    async def button(self, turn: Turn, action: Action) -> None: ...

    async def platform_event(self, turn: Turn, event: str) -> None: ...


class StaffFlow(Protocol):
    async def command(self, turn: Turn, name: str, argument: str) -> bool:
        """Handle a staff command; False when `name` is not one."""
        ...

    async def button(self, turn: Turn, action: Action) -> None: ...


class HandoffFlow(Protocol):
    """Handing a citizen's chat to staff (bot.dialogue.handoff_flow)."""

    def is_staff_chat(self, chat: ChatRef) -> bool:
        """The staff group, where staff answer the citizens handed to them."""
        ...

    async def staff_message(self, turn: Turn) -> bool:
        """A message in the staff group; False to let the core treat it (a command)."""
        ...

    async def citizen_message(self, turn: Turn) -> bool:
        """When the chat is handed to staff, pass the message on; False when it is not."""
        ...

    async def request(self, turn: Turn, question: str = "") -> None:
        """The citizen asked for a person (`question`: what to pass on to them first)."""
        ...

    def offer_for(self, turn: Turn, question: str) -> bool:
        """Keep a question the bot could not answer for the "Hỏi cán bộ" button; False
        when no person could take it now."""
        ...

    async def ask(self, turn: Turn) -> None:
        """The "Hỏi cán bộ" button: hand the kept question to a person."""
        ...

    async def end(self, turn: Turn) -> None:
        """The citizen ends the conversation with staff (a command or the button)."""
        ...
