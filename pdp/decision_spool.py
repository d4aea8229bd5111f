"""The decision log's local spool: records on disk until the database has them.

One append-only file of JSON lines per process, in a directory of its own per database, held
under an exclusive `flock`. Each batch is one `write` to the OS page cache (a `kill -9` cannot
lose it; a machine crash loses what was not yet `fsync`ed, at most `fsync_seconds`). A file
whose process died is unlocked: the next process to start on the same directory adopts it and
replays it first, in order. When the database has everything, the file is truncated.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

READ_CHUNK_BYTES = 1 << 20


@dataclass
class _SpoolFile:
    path: Path
    fd: int
    size: int
    acked: int = 0


@dataclass(frozen=True)
class Pending:
    """Lines read from the spool and where the reader stands once the database has them."""

    lines: list[bytes]
    file: Path
    end: int
    torn: bool = False


def spool_directory(root: Path, database_url: str) -> Path:
    """Spools are kept apart per database, so a replica never replays records into another."""
    return root / hashlib.sha256(database_url.encode()).hexdigest()[:16]


class DecisionSpool:
    """Append from one thread, read and acknowledge from another."""

    def __init__(self, directory: Path, *, max_bytes: int, fsync_seconds: float = 1.0) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self.max_bytes = max_bytes
        self._fsync_seconds = fsync_seconds
        self._last_fsync = time.monotonic()
        self._dirty = False
        self._lock = threading.Lock()
        # Files of processes that are gone, oldest first; a file still locked is in use.
        adopted = (_open_locked(path) for path in sorted(directory.glob("*.spool"), key=_mtime))
        self._files = [spool_file for spool_file in adopted if spool_file is not None]
        own = None
        while own is None:  # another process may adopt a new file before it is locked
            own = _open_locked(directory / f"{uuid.uuid4().hex}.spool")
        self._own = own
        self._files.append(own)

    @property
    def pending_bytes(self) -> int:
        with self._lock:
            return sum(f.size - f.acked for f in self._files)

    def append(self, lines: list[bytes]) -> int:
        """Write `lines` (each ending in a newline) at the end; return how many fit the bound."""
        with self._lock:
            room = self.max_bytes - sum(f.size - f.acked for f in self._files)
            kept: list[bytes] = []
            for line in lines:
                if len(line) > room:
                    break
                kept.append(line)
                room -= len(line)
            if kept:
                data = b"".join(kept)
                _write_all(self._own.fd, data, self._own.size)
                self._own.size += len(data)
                self._dirty = True
                self._sync_if_due()
            return len(kept)

    def sync(self) -> None:
        """fsync what was written since the last one, once `fsync_seconds` have passed (the
        writer calls this when idle too, so the last batch before a lull is not left out)."""
        with self._lock:
            self._sync_if_due()

    def _sync_if_due(self) -> None:
        if self._dirty and time.monotonic() - self._last_fsync >= self._fsync_seconds:
            os.fsync(self._own.fd)
            self._last_fsync = time.monotonic()
            self._dirty = False

    def read(self, max_lines: int) -> Pending | None:
        """Up to `max_lines` complete lines after the acknowledged point, oldest file first."""
        with self._lock:
            if not self._files:  # closed
                return None
            current = self._files[0]
            start, size = current.acked, current.size
        length = min(size - start, READ_CHUNK_BYTES)
        data = os.pread(current.fd, length, start)
        while b"\n" not in data and length < size - start:  # one record longer than a chunk
            length = min(length * 4, size - start)
            data = os.pread(current.fd, length, start)
        complete = data[: data.rfind(b"\n") + 1]
        lines = complete.splitlines(keepends=True)[:max_lines]
        end = start + sum(len(line) for line in lines)
        if lines:
            return Pending(lines, current.path, end)
        if current is not self._own and start < size and len(data) == size - start:
            # A dead process's last write stopped mid-line: that line is lost.
            return Pending([], current.path, size, torn=True)
        if current is not self._own:
            self._retire(current)
            return self.read(max_lines)
        return None

    def acknowledge(self, pending: Pending) -> None:
        """The database has `pending`: advance past it, and reclaim what nothing needs."""
        with self._lock:
            if not self._files or self._files[0].path != pending.file:
                return
            current = self._files[0]
            current.acked = pending.end
            if current is self._own and current.acked == current.size:
                os.ftruncate(current.fd, 0)
                current.size = current.acked = 0

    def close(self) -> None:
        """Release the spool; a file with nothing pending is removed, the rest wait for the
        next process on this directory."""
        with self._lock:
            for spool_file in self._files:
                if spool_file.acked == spool_file.size:
                    spool_file.path.unlink(missing_ok=True)
                else:
                    os.fsync(spool_file.fd)
                os.close(spool_file.fd)
            self._files = []
        # Kept while records wait there, or another process spools there too.
        with contextlib.suppress(OSError):
            self._directory.rmdir()

    def _retire(self, spool_file: _SpoolFile) -> None:
        with self._lock:
            self._files.remove(spool_file)
        spool_file.path.unlink(missing_ok=True)
        os.close(spool_file.fd)


def _write_all(fd: int, data: bytes, size: int) -> None:
    """Append all of `data`, or nothing: a short or failed write (a full disk) is cut back to
    `size`, so no half line is left for the next batch to run into."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        os.ftruncate(fd, size)
        raise


def _open_locked(path: Path) -> _SpoolFile | None:
    """`path` opened for appending under an exclusive lock, or None if a live process holds it
    (a lock dies with its process, so a dead one's spool is free to adopt)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return _SpoolFile(path, fd, os.fstat(fd).st_size)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
