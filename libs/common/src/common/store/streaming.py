"""An object as the body of a streaming response: read in chunks off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from common.store.base import ObjectStore

CHUNK = 1 << 20


async def object_chunks(store: ObjectStore, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """Open ``key`` now, so a missing object raises ``ObjectNotFound`` before a response has started, and
    return its bytes as an async iterator: every read runs in a thread, and the object is closed when the
    iteration ends, fails, or is abandoned by a client that went away."""
    stream = await asyncio.to_thread(store.open_stream, key)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(stream.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(stream.close)

    return chunks()
