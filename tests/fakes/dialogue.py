"""A scripted ConversationHandler for channel tests: answers by what was sent.

Channels hold no business logic, so their tests need a dialogue whose answers exercise
rendering (escaping, headings, long text, buttons, links, images) and that records every
Incoming it was given. It is not the real dialogue (that is tested on its own and through
the end-to-end tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.messages import EVENT_FOLLOW, EVENT_UNFOLLOW, Button, Image, Incoming, Reply, Section

# A 1x1 transparent PNG.
PNG_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
LONG_LINE_COUNT = 300


def long_lines() -> tuple[str, ...]:
    """300 numbered lines with characters that need escaping: about 17,000 characters."""
    return tuple(
        f"Dòng {number:03d}: giấy tờ <bản sao> & bản chính, lệ phí 50.000đ"
        for number in range(1, LONG_LINE_COUNT + 1)
    )


class ScriptedDialogue:
    """Replies chosen by the message's action or text; every Incoming is kept in order."""

    def __init__(self, *, delay_for: Sequence[str] = (), delay: float = 0.2) -> None:
        self.received: list[Incoming] = []
        self._delay_for = frozenset(delay_for)
        self._delay = delay

    async def handle(self, message: Incoming) -> Sequence[Reply]:
        self.received.append(message)
        key = message.action or message.text
        if key in self._delay_for:
            await asyncio.sleep(self._delay)
        if key in (EVENT_FOLLOW, EVENT_UNFOLLOW):
            return [Reply.text(f"event {key}")]
        if key.startswith("/start"):
            return [
                Reply(
                    (Section("Xin chào!", ("Tôi là trợ lý của Trung tâm <PVHCC> & bạn.",)),),
                    (
                        (
                            Button("Hỏi thủ tục", "menu:ask"),
                            Button("Tra cứu hồ sơ", "menu:dossier"),
                        ),
                        (Button("Cổng dịch vụ công", url="https://dichvucong.gov.vn"),),
                    ),
                )
            ]
        if key.startswith("hồ sơ"):
            # A dossier's answer: private (its masked name), as the real dialogue marks it.
            lines = ("Người nộp: NGUYỄN V** A", "Tình trạng: đang giải quyết")
            link = Button("Mở Telegram", url="https://t.me/bot?start=f_single-use-token-xyz")
            buttons = ((Button("Xem quá trình xử lý", "d:hist:x"),), (link,))
            return [Reply((Section("Hồ sơ 000.00.12.H58", lines),), buttons, private=True)]
        if key == "long":
            return [Reply((Section("Danh sách dài", long_lines()),), ((Button("Tiếp", "more"),),))]
        if key == "image":
            return [Reply((Section(lines=("Biểu đồ tuần này",)),), image=Image(PNG_PIXEL))]
        if key == "two replies":
            return [
                Reply.text("Thứ nhất", [[Button("A", "pick:a"), Button("B", "pick:b")]]),
                Reply.text("Thứ hai", [[Button("C", "pick:c")]]),
            ]
        if key == "silent":
            return []
        if message.action:
            return [Reply.text(f"Bạn chọn: {message.text} [{message.action}]")]
        return [
            Reply(
                (Section("Bạn hỏi", (message.text,)),),
                ((Button("Lệ phí", "part:fee"), Button("Không phải", "not-this")),),
            )
        ]
