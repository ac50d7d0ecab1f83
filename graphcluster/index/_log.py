"""The delta's write-ahead log: an append-only file of checksummed add/delete records.

Steps:

1. ``append_add`` / ``append_delete`` write one record per call with a single ``os.write``
   (so an add survives a process crash at once); ``sync`` fsyncs it (power loss).
2. A record is ``header | payload``; the header holds a magic tag, the kind, the row count,
   the payload length and a CRC-32 of the payload.
3. ``replay`` reads the records back in order and stops at the first torn or corrupt one,
   truncating the file there: a crash mid-append loses only that last call, never the file.

The log only ever holds what happened since the last segment was built (the manifest names it),
so it stays small and is read whole on open.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["DeltaLog", "ADD", "DELETE"]

ADD = 1
DELETE = 2
_HEADER = struct.Struct("<4sBIII")  # magic, kind, n rows, payload bytes, crc32
_MAGIC = b"GCDL"


def _join_ids(ids: list[str]) -> bytes:
    # ids are validated to hold no control characters, so "\n" is a safe separator
    return "\n".join(ids).encode("utf-8")


class DeltaLog:
    """One append-only log file for vectors of a fixed dimension."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def _write(self, kind: int, n: int, payload: bytes) -> None:
        header = _HEADER.pack(_MAGIC, kind, n, len(payload), zlib.crc32(payload))
        os.write(self._fd, header + payload)

    def append_add(self, ids: list[str], vectors: np.ndarray) -> None:
        """Log an added batch (``vectors`` float32, shape ``(len(ids), dim)``)."""
        raw = _join_ids(ids)
        payload = struct.pack("<I", len(raw)) + raw + np.ascontiguousarray(vectors, np.float32).tobytes()
        self._write(ADD, len(ids), payload)

    def append_delete(self, ids: list[str]) -> None:
        """Log deleted ids."""
        self._write(DELETE, len(ids), _join_ids(ids))

    def sync(self) -> None:
        """Make every appended record durable."""
        os.fsync(self._fd)

    def replay(self) -> Iterator[tuple[int, list[str], np.ndarray | None]]:
        """Yield ``(kind, ids, vectors or None)`` per intact record; truncate a torn tail."""
        data = Path(self.path).read_bytes()
        pos, good = 0, 0
        records: list[tuple[int, list[str], np.ndarray | None]] = []
        while pos + _HEADER.size <= len(data):
            magic, kind, n, size, crc = _HEADER.unpack_from(data, pos)
            start, end = pos + _HEADER.size, pos + _HEADER.size + size
            if magic != _MAGIC or end > len(data) or zlib.crc32(data[start:end]) != crc:
                break
            payload = data[start:end]
            if kind == ADD:
                (idlen,) = struct.unpack_from("<I", payload, 0)
                ids = payload[4 : 4 + idlen].decode("utf-8").split("\n")
                vec = np.frombuffer(payload[4 + idlen :], dtype=np.float32).reshape(n, self.dim)
                records.append((ADD, ids, vec))
            elif kind == DELETE:
                records.append((DELETE, payload.decode("utf-8").split("\n"), None))
            else:
                break
            pos = good = end
        if good < len(data):
            # a crash mid-append: drop the torn record so later appends start clean
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)
        yield from records

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
