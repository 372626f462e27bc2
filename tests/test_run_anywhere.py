"""The bot run from any folder: relative paths in a config file are read from the file's
folder, and the shipped catalogue (and the schema's migrations) are found beside the
package, both in this checkout and in a wheel installed into a fresh virtualenv."""

from __future__ import annotations

import json
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.config import SHIPPED_CATALOGUE, Config, load_config
from bot.storage.schema import head_revision

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def procedure_files(folder: Path) -> list[Path]:
    """The procedure files of a catalogue folder (names starting with "_" are not: the
    vocabulary, the life events)."""
    return [
        path
        for path in folder.rglob("*.toml")
        if not any(part.startswith("_") for part in path.relative_to(folder).parts)
    ]


SHIPPED_PROCEDURES = len(procedure_files(PROJECT_ROOT / "procedures"))


def test_relative_paths_are_read_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config_file = folder / "config.toml"
    config_file.write_text(
        '[catalogue]\npath = "catalogue"\nvocabulary = "/srv/vocabulary.toml"\n'
        '[storage]\nurl = "sqlite+aiosqlite:///data/bot.sqlite3"\n'
        '[dossiers.sql]\nurl = "sqlite+aiosqlite:////srv/dossiers.sqlite3"\n',
        encoding="utf-8",
    )
    config = load_config(Path("../conf/config.toml"), environ={})
    assert config.catalogue.path == folder / "catalogue"
    assert config.catalogue.vocabulary == Path("/srv/vocabulary.toml")
    assert config.storage.url == f"sqlite+aiosqlite:///{folder}/data/bot.sqlite3"
    assert config.dossiers.sql.url == "sqlite+aiosqlite:////srv/dossiers.sqlite3"

    # Keys the file leaves out: the shipped catalogue, SQLite files beside the file too.
    config_file.write_text('[center]\nhotline = "1900 1234"\n', encoding="utf-8")
    config = load_config(config_file, environ={})
    assert config.catalogue.path == SHIPPED_CATALOGUE
    assert config.storage.url == f"sqlite+aiosqlite:///{folder}/data/bot.sqlite3"
    assert config.dossiers.sql.url == f"sqlite+aiosqlite:///{folder}/data/dossiers.sqlite3"

    # Empty catalogue keys mean the shipped ones; other databases' URLs are left alone.
    config_file.write_text(
        '[catalogue]\npath = ""\nvocabulary = ""\n'
        '[storage]\nurl = "postgresql+asyncpg://bot@db/bot"\n',
        encoding="utf-8",
    )
    config = load_config(config_file, environ={})
    assert config.catalogue == Config().catalogue
    assert config.storage.url == "postgresql+asyncpg://bot@db/bot"

    # Without a config file, relative paths are the current folder's (as ever).
    assert load_config(environ={}).storage.url == "sqlite+aiosqlite:///data/bot.sqlite3"


def test_the_shipped_catalogue_is_found_beside_the_package() -> None:
    assert SHIPPED_CATALOGUE.is_absolute()
    assert (SHIPPED_CATALOGUE / "_vocabulary.toml").is_file()
    assert len(procedure_files(SHIPPED_CATALOGUE)) == SHIPPED_PROCEDURES > 100
    assert Config().catalogue.path == SHIPPED_CATALOGUE


STAFF_TOKEN = "staff-health-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_deployment(folder: Path, port: int) -> Path:
    """A config file as staff would write it: relative paths, no catalogue given."""
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite+aiosqlite:///data/bot.sqlite3"\n'
        f'[dossiers]\nsource = "none"\n[web]\nport = {port}\n'
        f'[broadcast]\napi_token = "{STAFF_TOKEN}"\n',
        encoding="utf-8",
    )
    return config


def health_of_running_bot(bot: Path, config: Path, cwd: Path, port: int) -> dict[str, Any]:
    """Start `bot run --config CONFIG` in `cwd`, read /healthz once it answers, stop it
    with Ctrl+C (SIGINT) and check that it stopped cleanly."""
    process = subprocess.Popen(
        [str(bot), "run", "--config", str(config)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health_url = f"http://127.0.0.1:{port}/healthz"
        health: dict[str, Any] | None = None
        while health is None:
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"bot run stopped with {process.returncode}: {err}")
            if time.monotonic() > deadline:
                pytest.fail("bot run did not answer /healthz within 60 s")
            # The details are for staff (the broadcast API's token).
            asking = urllib.request.Request(
                health_url, headers={"Authorization": f"Bearer {STAFF_TOKEN}"}
            )
            try:
                with urllib.request.urlopen(asking, timeout=2) as answer:
                    health = json.load(answer)
            except urllib.error.HTTPError as exc:
                health = json.load(exc)
            except OSError:
                time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "web chat at" in out
        return health
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_bot_run_from_another_folder_finds_its_catalogue_and_the_configs_database(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = write_deployment(tmp_path / "srv", port)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bot = Path(sys.executable).parent / "bot"
    health = health_of_running_bot(bot, config, elsewhere, port)
    assert health["components"]["catalogue"] == {
        "state": "ok",
        "detail": f"{SHIPPED_PROCEDURES} procedures",
    }
    assert health["components"]["database"]["state"] == "ok"
    assert (tmp_path / "srv" / "data" / "bot.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.slow
def test_a_wheel_installed_into_a_fresh_virtualenv_runs_from_another_folder(
    tmp_path: Path,
) -> None:
    # The wheel, built offline from a copy of the sources (nothing written to the checkout).
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    for name in ("bot", "procedures"):
        shutil.copytree(
            PROJECT_ROOT / name,
            source / name,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels)]
    subprocess.run([*build, str(source)], check=True, capture_output=True)
    (wheel,) = wheels.glob("tthc_bot-*.whl")

    # A virtualenv with this one's dependencies on its path, but not this checkout.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(target_site, "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    install = [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    where = subprocess.run(
        [str(python), "-c", "import bot; print(bot.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv)), where

    port = free_port()
    config = write_deployment(tmp_path / "srv", port)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bot = venv / "bin" / "bot"
    health = health_of_running_bot(bot, config, elsewhere, port)
    assert health["components"]["catalogue"]["detail"] == f"{SHIPPED_PROCEDURES} procedures"
    migrated = subprocess.run(
        [str(bot), "migrate", "--config", str(config)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert f"schema revision {head_revision()}, the newest: nothing to do" in migrated.stdout
    checked = subprocess.run(
        [str(bot), "catalogue", "check"], cwd=elsewhere, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{SHIPPED_PROCEDURES} procedures checked" in checked.stdout
