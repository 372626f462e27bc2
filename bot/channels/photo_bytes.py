"""Receiving a photo's bytes over HTTP (the web chat's upload, a Zalo image's download)
without ever holding more than `MAX_PHOTO_BYTES` of it."""

from __future__ import annotations

import aiohttp

from bot.messages import MAX_PHOTO_BYTES, Photo, PhotoProblem

_CHUNK_BYTES = 64 * 1024


async def read_photo(content: aiohttp.StreamReader, declared_length: int | None) -> Photo:
    """The body of a request or response as a photo; TOO_LARGE as soon as it is."""
    if (declared_length or 0) > MAX_PHOTO_BYTES:
        return Photo(problem=PhotoProblem.TOO_LARGE)
    data = bytearray()
    # Counted as it arrives: a chunked body has no length to check first, and a false
    # Content-Length must not make it larger.
    async for chunk in content.iter_chunked(_CHUNK_BYTES):
        data += chunk
        if len(data) > MAX_PHOTO_BYTES:
            return Photo(problem=PhotoProblem.TOO_LARGE)
    return Photo(bytes(data))
