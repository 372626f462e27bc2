"""Reading a webhook's request body whole, but never more than a limit of it."""

from __future__ import annotations

import aiohttp

_CHUNK_BYTES = 64 * 1024


async def read_body(content: aiohttp.StreamReader, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than `max_bytes`.

    `StreamReader.read(n)` returns what has arrived so far, up to n bytes: a body larger
    than one network chunk came back cut, and its signature or JSON did not check out.
    """
    data = bytearray()
    async for chunk in content.iter_chunked(_CHUNK_BYTES):
        data += chunk
        if len(data) > max_bytes:
            return None
    return bytes(data)
