"""The terminal chat: replies printed as text, buttons as numbers that can be typed."""

from __future__ import annotations

import io

from fakes import ScriptedDialogue

from bot import texts
from bot.channels.console import PROMPT, run_console
from bot.messages import Channel


async def chat(lines: list[str], dialogue: ScriptedDialogue, *, greet: bool = True) -> str:
    output = io.StringIO()
    await run_console(
        dialogue,
        input_stream=io.StringIO("".join(line + "\n" for line in lines)),
        output_stream=output,
        chat_id="staff-1",
        greet=greet,
    )
    return output.getvalue()


async def test_greets_and_a_number_presses_a_button() -> None:
    dialogue = ScriptedDialogue()

    printed = await chat(["2", "/quit", "never read"], dialogue)

    assert printed.startswith(
        "Xin chào!\nTôi là trợ lý của Trung tâm <PVHCC> & bạn.\n\n"
        "1. Hỏi thủ tục\n2. Tra cứu hồ sơ\nCổng dịch vụ công: https://dichvucong.gov.vn\n"
    )
    assert texts.CONSOLE_CHOICE_HINT in printed
    assert "Bạn chọn: Tra cứu hồ sơ [menu:dossier]" in printed
    greeting, pressed = dialogue.received
    assert (greeting.text, greeting.is_first_contact) == ("/start", True)
    assert greeting.chat.channel is Channel.CONSOLE and greeting.chat.chat_id == "staff-1"
    assert (pressed.action, pressed.text) == ("menu:dossier", "Tra cứu hồ sơ")


async def test_numbers_run_on_across_the_replies_of_a_turn() -> None:
    dialogue = ScriptedDialogue()

    printed = await chat(["two replies", "3"], dialogue, greet=False)

    assert "1. A\n2. B" in printed and "3. C" in printed
    assert dialogue.received[-1].action == "pick:c"


async def test_a_number_not_offered_is_text_and_end_of_input_ends() -> None:
    dialogue = ScriptedDialogue()

    printed = await chat(["silent", "", "7"], dialogue, greet=False)

    assert [(m.text, m.action) for m in dialogue.received] == [("silent", None), ("7", None)]
    assert printed.count(PROMPT) == 4  # silent, the empty line, 7, then end of input
    assert printed.endswith("\n")
