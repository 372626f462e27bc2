"""Terminal chat (`bot chat`): type a question, read the answer; buttons are numbered.

Staff use it to try catalogue changes without Telegram. Typing the number of a choice
presses that button; `/quit` or end of input (Ctrl-D) ends the chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TextIO

from bot import texts
from bot.channels.numbered_choices import Choice, all_choices, number_replies, pick_choice
from bot.inbound import INBOUND_TEXT_CHARS, storable_text
from bot.messages import Channel, ChatRef, ConversationHandler, Incoming, Reply

# Terminal UI labels (not part of the conversation itself).
PROMPT = "> "
QUIT_COMMANDS = frozenset({"/quit", "/exit"})
SEPARATOR = "-" * 40


def render_turn(replies: Sequence[Reply]) -> tuple[str, tuple[Choice, ...]]:
    """The replies as terminal text (choices numbered across them) and the choices."""
    numbered = number_replies(replies)
    blocks: list[str] = []
    for item in numbered:
        lines = list(item.lines)
        if item.reply.image is not None:
            image = item.reply.image
            lines.append(
                texts.CONSOLE_IMAGE_NOTE.format(filename=image.filename, size=len(image.data))
            )
        blocks.append("\n".join(lines))
    choices = all_choices(numbered)
    if choices:
        blocks.append(texts.CONSOLE_CHOICE_HINT)
    return f"\n{SEPARATOR}\n".join(blocks), choices


async def run_console(
    handler: ConversationHandler,
    *,
    input_stream: TextIO,
    output_stream: TextIO,
    chat_id: str = "console",
    user_id: str = "console",
    greet: bool = True,
) -> None:
    """Chat on a terminal until /quit or end of input."""
    chat = ChatRef(Channel.CONSOLE, chat_id)
    choices: tuple[Choice, ...] = ()

    async def turn(incoming: Incoming) -> None:
        nonlocal choices
        replies = await handler.handle(incoming)
        text, offered = render_turn(replies)
        if replies:
            choices = offered
        if text:
            output_stream.write(text + "\n")
        output_stream.flush()

    if greet:
        await turn(Incoming(chat, user_id, "/start", is_first_contact=True))
    while True:
        output_stream.write(PROMPT)
        output_stream.flush()
        # Reading a terminal blocks; a thread keeps the event loop (and timers) running.
        line = await asyncio.to_thread(input_stream.readline)
        if not line:
            output_stream.write("\n")
            output_stream.flush()
            return
        # A terminal in a non-UTF-8 locale gives undecodable bytes as lone surrogates
        # (Python's surrogateescape on stdin): made storable like every channel's text.
        text = storable_text(line, limit=INBOUND_TEXT_CHARS).strip()
        if text in QUIT_COMMANDS:
            return
        if not text:
            continue
        choice = pick_choice(text, choices)
        if choice is not None:
            await turn(Incoming(chat, user_id, choice.label, action=choice.action))
        else:
            # A number picks a choice only as the next message after it was offered
            # (see bot.channels.numbered_choices).
            choices = ()
            await turn(Incoming(chat, user_id, text))
