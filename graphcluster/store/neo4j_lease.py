"""WriterLease: one writer at a time among many workers sharing one Neo4j database.

Workers on different machines coordinate through a ``(:Lease {name})`` node, nothing else:

1. ``acquire`` runs ``cypher/lease_acquire.cypher``: it write-locks the lease node first, then
   takes the lease when it is free, expired or already this worker's, and hands out the next
   **fencing token** (a counter on the node). Otherwise it polls (with jitter) until the lease
   is free or ``wait`` seconds have passed (``StoreBusy`` naming the holder and its expiry).
2. While it is held, every write transaction of the store begins with
   ``cypher/lease_fence.cypher``: it locks the lease node for the rest of the transaction,
   checks holder, token and expiry, and extends the expiry. A worker whose lease expired (it
   was paused, or lost the network) and was taken over finds another token there: its
   transaction is rolled back and it gets ``StoreBusy`` instead of writing over the new
   holder's work. Because the check holds the node's lock until commit, no other worker can
   take the lease between the check and the commit.
3. A background thread renews the lease every ``seconds / 3`` while it is held, so a long
   computation without writes (a large re-cluster) keeps it; a worker that dies stops
   renewing and the lease expires after at most ``seconds``.
4. ``release`` clears the holder (only when it still holds this token).

Expiry uses the server's clock (``datetime.realtime()``), so the workers' clocks need not agree.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from typing import Any, Protocol

from graphcluster.errors import StoreBusy

__all__ = ["WriterLease"]


class _Runner(Protocol):
    def execute(self, name: str, **params: Any) -> list[Any]: ...


class WriterLease:
    """The writers' lease of one database.

    Args:
        store: runs the lease's Cypher files (a ``Neo4jStore``).
        seconds: how long the lease lasts without renewal.
        wait: how long ``acquire`` waits for another worker's lease before ``StoreBusy``.
        name: the lease node's name (one lease per database).
    """

    def __init__(self, store: _Runner, *, seconds: float = 60.0, wait: float = 600.0, name: str = "writer") -> None:
        self._store = store
        self.seconds = float(seconds)
        self.wait = float(wait)
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token: int | None = None
        self._depth = 0
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self.token is not None

    def _params(self) -> dict[str, Any]:
        return {"lease": self.name, "holder": self.holder, "ms": int(self.seconds * 1000)}

    def acquire(self) -> None:
        """Take the lease (re-entrant: nested calls only count)."""
        if self._depth:
            self._depth += 1
            return
        deadline = time.monotonic() + self.wait
        pause = 0.05
        while True:
            row = self._store.execute("lease_acquire", **self._params())[0]
            if row["acquired"]:
                self.token = int(row["token"])
                break
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"another worker ({row['holder']}) holds the write lease of this database until "
                    f"{row['expires_at']} (server time); waited {self.wait:.0f} s. Retry later, or raise "
                    "Settings.lease_wait"
                )
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 1.0)
        self._depth = 1
        self._stop.clear()
        self._beat = threading.Thread(target=self._renew, name="graphcluster-lease", daemon=True)
        self._beat.start()

    def release(self) -> None:
        """Give the lease up once the outermost ``acquire`` is matched."""
        if not self._depth:
            return
        self._depth -= 1
        if self._depth:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        token, self.token = self.token, None
        self._store.execute("lease_release", lease=self.name, holder=self.holder, token=token)

    def stop_renewing(self) -> None:
        """Stop the heartbeat but keep holding the lease: it then expires after ``seconds``, as
        the lease of a paused or hung worker does, and the next write of this holder after
        another worker took it over is refused (fencing). ``release`` still gives it up."""
        self._stop.set()

    def fence_params(self) -> dict[str, Any]:
        """Parameters of ``cypher/lease_fence.cypher`` for this holder and token."""
        return {**self._params(), "token": self.token}

    def check(self, row: Any) -> None:
        """Raise ``StoreBusy`` when a fence row says the lease is no longer this worker's."""
        if row is None or not row["held"]:
            holder = None if row is None else row["holder"]
            raise StoreBusy(
                f"this worker's write lease (token {self.token}) expired and "
                f"{'is now held by ' + str(holder) if holder else 'was released'}; the transaction was rolled "
                "back. Retry the operation (Settings.lease_seconds sets how long a lease lasts)"
            )

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self._store.execute("lease_fence", **self.fence_params())
            except Exception:  # noqa: BLE001 - the next write's fence reports a lost lease
                return
