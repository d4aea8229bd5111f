"""uvicorn's HTTP protocol with each response leaving in one write.

uvicorn writes a response's status line and headers, then its body, as two writes. A
replica killed between them has sent a header without its body: nginx has already passed
the header on to the client, so it cannot retry the decision on another replica, and the
client sees a broken response. Here the writes made in one turn of the event loop (a
response's header and body: the app sends them without waiting) leave in one `send`, which
a killed process has made either whole or not at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _OneWriteTransport:
    """Holds the writes of one loop turn and sends them together at its end."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending and not self._transport.is_closing():
            self._transport.write(b"".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpTools(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _OneWriteTransport(transport, self.loop)  # type: ignore[assignment]
