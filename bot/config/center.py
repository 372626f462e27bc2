"""The center's own sections: who it is ([center], [center.office_hours]), what the bot
answers from ([catalogue], [search]) and when staff take over ([handoff])."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# bot/catalogue/shipped: a link to procedures/ in a checkout, a copy of it once installed.
SHIPPED_CATALOGUE = (Path(__file__).parent.parent / "catalogue" / "shipped").resolve()


@dataclass(frozen=True, slots=True)
class OfficeHoursConfig:
    # When staff answer in the chat (bot.handoff): local times "HH:MM-HH:MM", comma
    # separated. Monday to Friday on working days (Vietnam's public holidays and the
    # province's days off in [dossiers] are closed; make-up Saturdays open as weekdays);
    # Saturday "" = closed. Sundays are closed. The defaults are those [center] hours
    # tells citizens (Saturday mornings open), so that the two never disagree.
    weekdays: str = "07:30-11:30,13:30-17:00"
    saturday: str = "07:30-11:30"


@dataclass(frozen=True, slots=True)
class CenterConfig:
    name: str = "Trung tâm Phục vụ hành chính công tỉnh"
    address: str = "Số 1 đường Trung tâm, phường Trung tâm, tỉnh (địa chỉ mẫu)"
    hours: str = "Thứ Hai – Thứ Sáu: 7h30–11h30 và 13h30–17h00; Thứ Bảy: 7h30–11h30"
    hotline: str = "1900 0000"
    email: str = ""
    website: str = ""
    online_portal: str = "https://dichvucong.gov.vn"
    result_pickup: str = "Quầy trả kết quả, Trung tâm Phục vụ hành chính công tỉnh"
    office_hours: OfficeHoursConfig = field(default_factory=OfficeHoursConfig)


@dataclass(frozen=True, slots=True)
class CatalogueConfig:
    # Empty in the file: the catalogue and vocabulary shipped with the bot.
    path: Path = SHIPPED_CATALOGUE
    vocabulary: Path = SHIPPED_CATALOGUE / "_vocabulary.toml"


@dataclass(frozen=True, slots=True)
class SearchConfig:
    # Levels the center handles, in order of preference; procedures at other levels
    # (e.g. "Cấp bộ") still match but rank lower.
    preferred_levels: tuple[str, ...] = ("Cấp tỉnh", "Cấp xã", "Cấp huyện")
    max_choices: int = 5


@dataclass(frozen=True, slots=True)
class HandoffConfig:
    # The Telegram group (its chat id, negative, e.g. -1001234567890) where staff receive
    # the messages of citizens who asked for a person, and answer them by replying.
    # 0 = no hand-off: citizens are told the hotline and the office hours.
    staff_group_id: int = 0
    # A hand-off with no message from either side for this long ends by itself.
    timeout_minutes: float = 30.0

    @property
    def enabled(self) -> bool:
        return self.staff_group_id != 0
