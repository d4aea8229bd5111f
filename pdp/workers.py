"""Keep the worker processes of one `pdp serve --workers N` replica consistent.

Each worker has its own directory snapshot, refreshed by its own poller. So that an admin
write through one worker is seen by the very next decision on any worker, the writing
worker bumps a counter in a small file the replica's workers share (memory-mapped), and a
worker that sees the counter move catches its snapshot up from the store before deciding.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Set by `pdp serve --workers N` for its workers: the path of the shared counter file.
SIGNAL_ENV = "PDP_WORKER_SIGNAL"
_COUNTER = struct.Struct("<Q")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The admin API and the console's directory pages write the directory.
_WRITE_PATHS = ("/admin/", "/console/directory/")


def create_signal_file(path: Path) -> Path:
    path.write_bytes(_COUNTER.pack(0))
    return path


class ChangeSignal:
    """The replica's shared change counter, as one worker sees it."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, _COUNTER.size)
        self._seen = self._read()
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> ChangeSignal | None:
        path = os.environ.get(SIGNAL_ENV)
        return cls(Path(path)) if path else None

    def _read(self) -> int:
        return _COUNTER.unpack_from(self._map)[0]

    def bump(self) -> None:
        """Tell every worker the store changed (the caller's own snapshot already shows it)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            _COUNTER.pack_into(self._map, 0, self._read() + 1)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def pending(self) -> bool:
        """Whether a worker wrote to the store since this worker last caught up."""
        return self._read() != self._seen

    def catch_up(self, refresh: Callable[[], object]) -> None:
        """Run `refresh` if a worker wrote to the store since the last catch-up; a caller that
        arrives meanwhile waits for it, so no decision starts on the older snapshot."""
        if not self.pending():
            return
        with self._lock:
            current = self._read()
            if current != self._seen:
                refresh()
                self._seen = current


class SignalAdminWrites:
    """ASGI middleware: a successful admin write bumps the signal before its response starts,
    so no decision that follows the response can miss it."""

    def __init__(self, app: ASGIApp, signal: ChangeSignal) -> None:
        self.app = app
        self.signal = signal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WRITES
            or not scope["path"].startswith(_WRITE_PATHS)
        ):
            await self.app(scope, receive, send)
            return

        async def send_after_signal(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                self.signal.bump()
            await send(message)

        await self.app(scope, receive, send_after_signal)
