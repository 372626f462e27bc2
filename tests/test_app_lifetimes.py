"""The running bot's lifetimes (bot.app.running_bot): a start that fails closes what had
started, and a stop closes everything, on real SQLite files and a real port."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
from pathlib import Path

import pytest
from e2e_support import base_config

from bot.app import running_bot
from bot.core import StartupError


def files_open_under(folder: Path) -> list[str]:
    """The files under `folder` this process holds open (Linux: /proc/self/fd)."""
    opened: list[str] = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        if target.startswith(str(folder)):
            opened.append(target)
    return opened


async def files_left_open(folder: Path, seconds: float = 3.0) -> list[str]:
    """The files under `folder` still open after `seconds`: a task cancelled at the stop
    (the retention sweep's first run) may hand its connection back a moment later."""
    for _ in range(int(seconds / 0.1)):
        gc.collect()
        if not files_open_under(folder):
            return []
        await asyncio.sleep(0.1)
    return files_open_under(folder)


pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd to see open files"
)


async def test_a_taken_port_stops_the_start_and_closes_the_databases(
    tmp_path: Path, project_root: Path
) -> None:
    config = base_config(tmp_path, project_root)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=r"cannot listen on 127\.0\.0\.1.*\[web\] port"):
            async with running_bot(config, port=port):
                pytest.fail("the bot started on a port another process listens on")
    # The core had opened the bot's database (and created its schema) before the port
    # was tried: the exit stack closed it again.
    assert (tmp_path / "bot.sqlite3").is_file()
    assert files_open_under(tmp_path) == []


async def test_a_stopped_bot_holds_no_database_open(tmp_path: Path, project_root: Path) -> None:
    config = base_config(tmp_path, project_root)
    async with running_bot(config, port=0) as running:
        health = await running.health()
        assert health["database"].state == "ok"
        assert files_open_under(tmp_path), "the running bot keeps its database open"
    assert await files_left_open(tmp_path) == []
