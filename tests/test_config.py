"""Config: defaults without a file, strict types, unknown keys, env secrets, one-line errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
import typing
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import Config, ConfigError, env_name, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config == Config()
    assert config.loaded_from == "built-in defaults"
    assert config.web.port == 8080
    assert not config.telegram.enabled


def test_config_toml_in_working_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[center]\nhotline = "0205 123 4567"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.center.hotline == "0205 123 4567"
    assert config.loaded_from == "config.toml"


def test_example_config_loads_and_equals_defaults(project_root: Path) -> None:
    config = load_config(project_root / "config.example.toml", environ={})
    assert config.web == Config().web
    assert config.center.name


def test_values_are_typed_and_frozen(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[telegram]
token = "123:abc"
staff_ids = [11, 22]
rate_per_second = 25
[dossiers]
holidays = [2026-09-02, "2026-01-01"]
status_labels = { "Đang giải quyết" = 4 }
""",
        ),
        environ={},
    )
    assert config.telegram.staff_ids == (11, 22)
    assert config.telegram.rate_per_second == 25.0
    assert config.dossiers.holidays == (dt.date(2026, 9, 2), dt.date(2026, 1, 1))
    assert config.dossiers.status_labels["Đang giải quyết"] == 4
    with pytest.raises(AttributeError):
        config.telegram.token = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.dossiers.status_labels["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[web]\nprot = 80\n", "[web] unknown key 'prot'"),
        ("[webb]\nport = 80\n", "unknown key 'webb'"),
        ('[web]\nport = "80"\n', "[web] port: expected an integer, got '80'"),
        ("[web]\nport = 99999\n", "[web] port: expected a port number 1-65535"),
        (
            "[web]\nconnections_per_address = -1\n",
            "[web] connections_per_address: expected a number, 0 for no limit",
        ),
        ("[storage]\npersonal_data_days = -5\n", "[storage] personal_data_days: expected"),
        ('[dossiers]\nverification = "sms"\n', "[dossiers] verification: expected one of"),
        ("[dossiers]\nholidays = [1]\n", "[dossiers] holidays: expected a date"),
        ("[dossiers.status_labels]\nx = 12\n", "[dossiers.status_labels] x: expected a standard"),
        ('[telegram]\nstaff_ids = ["a"]\n', "[telegram] staff_ids: expected an integer"),
        ("web = 3\n", "web: expected a table"),
        ('[dossiers]\nsource = "http"\n', "[dossiers.http] url_template"),
        ("[web\n", "not valid TOML"),
        (
            '[telegram]\ntoken = "1:a"\nmode = "webhook"\nsecret_token = "s"\n',
            "[telegram] webhook_url: expected the public https:// URL",
        ),
        (
            '[telegram]\ntoken = "1:a"\nmode = "webhook"\nwebhook_url = "https://a.vn/tg"\n',
            "[telegram] secret_token: expected a secret",
        ),
        ("[broadcast]\nlease_seconds = 10.0\n", "[broadcast] lease_seconds: expected more than"),
        ('[broadcast.topics]\n"Đất đai" = "x"\n', "[broadcast.topics] Đất đai: expected"),
        ("[dossiers]\nutc_offset_hours = 100\n", "[dossiers] utc_offset_hours: expected hours"),
        ("[dossiers]\nutc_offset_hours = -13\n", "[dossiers] utc_offset_hours: expected hours"),
        ("[dossiers]\ntimeout_seconds = inf\n", "[dossiers] timeout_seconds: expected a (finite)"),
        ("[dossiers]\ntimeout_seconds = nan\n", "[dossiers] timeout_seconds: expected a (finite)"),
        (
            "[dossiers]\ntimeout_seconds = -1.0\n",
            "[dossiers] timeout_seconds: expected a positive",
        ),
        ("[dossiers]\npush_max_age_seconds = 0\n", "[dossiers] push_max_age_seconds: expected"),
        (
            "[broadcast]\nsend_timeout_seconds = nan\n",
            "[broadcast] send_timeout_seconds: expected a (finite) number",
        ),
        (
            "[broadcast]\nsend_timeout_seconds = -inf\n",
            "[broadcast] send_timeout_seconds: expected a (finite) number",
        ),
        (
            "[broadcast]\nsend_timeout_seconds = -5.0\n",
            "[broadcast] send_timeout_seconds: expected a positive number of seconds",
        ),
        ("[broadcast]\nretry_base_seconds = 0\n", "[broadcast] retry_base_seconds: expected"),
        ("[broadcast]\nmax_pause_seconds = -1\n", "[broadcast] max_pause_seconds: expected"),
        ("[broadcast]\nlease_seconds = inf\n", "[broadcast] lease_seconds: expected a (finite)"),
        ("[telegram]\nrate_per_second = nan\n", "[telegram] rate_per_second: expected a (finite)"),
        (
            "[telegram]\nper_chat_interval_seconds = -1\n",
            "[telegram] per_chat_interval_seconds: expected",
        ),
        ("[zalo]\nmax_event_age_seconds = 0\n", "[zalo] max_event_age_seconds: expected"),
        ("[web]\nhistory_exchanges = -1\n", "[web] history_exchanges: expected a number"),
        (
            '[web]\ntelegram_bot_username = "@TTPVHCC_bot"\n',
            "[web] telegram_bot_username: expected the bot's Telegram username without '@'",
        ),
        (
            '[web]\nzalo_oa_url = "zalo.me/123"\n',
            "[web] zalo_oa_url: expected the Official Account's https:// address",
        ),
        ("[web]\nfollow_link_minutes = 0\n", "[web] follow_link_minutes: expected a number"),
        (
            '[center.office_hours]\nweekdays = "7h30-11h30"\n',
            "[center.office_hours] weekdays: expected periods like",
        ),
        (
            '[center.office_hours]\nsaturday = "11:30-07:30"\n',
            "[center.office_hours] saturday: expected periods like",
        ),
        (
            '[center.office_hours]\nweekdays = "07:30-12:00,11:00-17:00"\n',
            "overlaps",
        ),
        (
            '[center.office_hours]\nweekdays = "25:00-26:00"\n',
            "impossible time",
        ),
        ("[center.office_hours]\nweekdays = 7\n", "[center.office_hours] weekdays: expected a"),
        (
            "[handoff]\nstaff_group_id = -100123\n",
            "[handoff] staff_group_id: expected 0 unless [telegram] token is set",
        ),
        (
            '[telegram]\ntoken = "1:a"\n[handoff]\nstaff_group_id = 123\n',
            "[handoff] staff_group_id: expected a Telegram group's chat id",
        ),
        ("[handoff]\ntimeout_minutes = 0\n", "[handoff] timeout_minutes: expected a positive"),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_secrets_come_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\ntoken = "from-file"\n')
    config = load_config(
        path, environ={"BOT_TELEGRAM_TOKEN": "from-env", env_name("zalo.access_token"): "z"}
    )
    assert config.telegram.token == "from-env"
    assert config.zalo.access_token == "z"
    assert env_name("dossiers.http.auth_token") == "BOT_DOSSIERS_HTTP_AUTH_TOKEN"


def test_missing_file_and_cli_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", environ={})
    bad = write(tmp_path, "[web]\nport = -1\n")
    assert main(["catalogue", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[web] port" in err


def test_example_config_documents_every_key(project_root: Path) -> None:
    """config.example.toml is the staff's reference: every key appears in it."""
    example = tomllib.loads((project_root / "config.example.toml").read_text(encoding="utf-8"))

    def missing(cls: type, data: dict[str, object], prefix: str) -> list[str]:
        found: list[str] = []
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if field.name == "loaded_from":
                continue
            key = f"{prefix}{field.name}"
            value = data.get(field.name)
            if dataclasses.is_dataclass(hints[field.name]):
                nested = value if isinstance(value, dict) else {}
                found += missing(hints[field.name], nested, key + ".")
            elif field.name not in data:
                found.append(key)
        return found

    assert missing(Config, example, "") == []
