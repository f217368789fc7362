"""Durable state for ``sims up --state DIR``: every acknowledged change survives a crash.

The store is SQLite (WAL journal, ``synchronous=FULL``) holding one row: the whole state as
``Runtime.export_state`` gives it, replaced in one transaction. SQLite does the hard part (atomic,
fsynced commits that a SIGKILL cannot tear); a snapshot of the default world is ~40 KB and takes
about a millisecond to export, so a whole snapshot per commit is cheaper than change tracking.

The ordering rule that makes "acknowledged" mean "durable": a mutating request (any method other
than GET, HEAD or OPTIONS, on a sim or on the control plane) has its response held back until a
snapshot taken *after* its handler ran has committed. Concurrent writers share commits (group commit):
while one snapshot is being written, every request that finishes joins the next one.
Changes the clock makes on its own (scheduled jobs while following real time) are saved by the next
commit without anyone waiting. The request journal and metrics are observations, not state: they
start empty after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sims.core.runtime import Runtime

log = logging.getLogger("sims.state")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FILENAME = "state.sqlite3"


class StateDirError(ValueError):
    """The state directory cannot be used for this world; the message says why and what to do."""


def fingerprint(world_json: str) -> str:
    """Identifies the world a state belongs to: restoring it into another world would be nonsense."""
    return hashlib.sha256(world_json.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Saved:
    world: str
    fingerprint: str
    generation: int
    state: dict


class StateStore:
    """One SQLite file in ``directory`` with the latest committed snapshot."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / FILENAME
            # One connection, used by one writer at a time (the Persister) and at start-up.
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS snapshot ("
                " id INTEGER PRIMARY KEY CHECK (id = 1),"
                " world TEXT NOT NULL, fingerprint TEXT NOT NULL,"
                " generation INTEGER NOT NULL, state TEXT NOT NULL)"
            )
        except (OSError, sqlite3.Error) as err:
            raise StateDirError(f"cannot use {directory} as the state directory: {err}") from None
        self._lock = threading.Lock()

    def load(self) -> Saved | None:
        row = self._db.execute("SELECT world, fingerprint, generation, state FROM snapshot").fetchone()
        if row is None:
            return None
        try:
            state = json.loads(row[3])
        except ValueError:
            raise StateDirError(f"{self.path} holds an unreadable snapshot") from None
        return Saved(world=row[0], fingerprint=row[1], generation=row[2], state=state)

    def save(self, world: str, world_print: str, generation: int, state_json: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO snapshot (id, world, fingerprint, generation, state)"
                " VALUES (1, ?, ?, ?, ?)",
                (world, world_print, generation, state_json),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Persister:
    """Commits snapshots of a runtime to a store, sharing each commit among concurrent writers.

    Generations number snapshots: ``taken`` is the last one exported, ``committed`` the last one on
    disk. A change made now is in the next snapshot taken (``taken + 1``), never in one already taken.
    """

    def __init__(self, runtime: Runtime, store: StateStore, world_print: str, generation: int = 0) -> None:
        self.runtime = runtime
        self.store = store
        self.world_print = world_print
        self.taken = self.committed = self.wanted = generation
        self.failed: BaseException | None = None
        self._writer: asyncio.Task | None = None
        self._changed: asyncio.Condition | None = None

    def _snapshot(self) -> str:
        self.taken += 1
        # Exported on the serving loop, where every handler runs: the snapshot is consistent.
        return json.dumps(self.runtime.export_state(), separators=(",", ":"))

    def save_now(self) -> None:
        """Commit the current state synchronously (at start-up, before anything is served)."""
        state = self._snapshot()
        self.store.save(self.runtime.world.name, self.world_print, self.taken, state)
        self.committed = self.wanted = self.taken

    def request(self) -> int:
        """Ask for the state as it is now to be committed; returns the generation that will hold it."""
        target = self.taken + 1
        self.wanted = max(self.wanted, target)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        return target

    async def flush(self) -> None:
        """Return once the state as it is now is committed; raises RuntimeError if saving failed."""
        target = self.request()
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: self.committed >= target or self._writer.done())
        if self.committed < target:
            raise RuntimeError(f"state could not be saved: {self.failed}")

    async def close(self) -> None:
        """Commit the state as it is (a clean stop loses nothing, jobs' changes included), then close."""
        try:
            await self.flush()
        except RuntimeError as err:
            log.error("%s", err)
        self.store.close()

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _write_loop(self) -> None:
        changed = self._condition()
        try:
            while self.committed < self.wanted:
                state = self._snapshot()
                generation = self.taken
                await asyncio.to_thread(
                    self.store.save, self.runtime.world.name, self.world_print, generation, state
                )
                self.committed, self.failed = generation, None
                async with changed:
                    changed.notify_all()
        except Exception as err:  # disk full, directory gone: writers are told, never hung
            log.error("saving state failed: %s", err)
            self.failed = err
        finally:
            async with changed:
                changed.notify_all()


class DurableAck:
    """ASGI wrapper: a mutating request's response starts only once its change is committed."""

    def __init__(self, app: Callable, persister: Persister) -> None:
        self.app = app
        self.persister = persister

    async def __call__(self, scope: dict, receive: Callable, send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        refused = False

        async def send_when_durable(message: dict) -> None:
            nonlocal refused
            if refused:  # the app's own answer was replaced by the 503 below
                return
            if message["type"] == "http.response.start":
                try:
                    await self.persister.flush()
                except RuntimeError as err:  # never acknowledge what is not saved
                    refused = True
                    body = json.dumps({"error": str(err)}).encode()
                    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
                    await send({"type": "http.response.start", "status": 503, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
            await send(message)

        await self.app(scope, receive, send_when_durable)


def open_state(runtime: Runtime, directory: str | Path) -> Persister:
    """Resume ``runtime`` from the snapshot in ``directory``, or start one there with the world as
    loaded; either way every later acknowledged change is committed there."""
    from sims.core.runtime import StateError

    store = StateStore(directory)
    world_print = fingerprint(runtime.world.model_dump_json())
    saved = store.load()
    if saved is None:
        persister = Persister(runtime, store, world_print)
        persister.save_now()
        return persister
    if saved.fingerprint != world_print:
        store.close()
        raise StateDirError(
            f"{store.path} holds the state of world {saved.world!r} loaded from a different world file "
            f"(fingerprint {saved.fingerprint}, this world {world_print}): start with that world file, "
            "or point --state at an empty directory"
        )
    try:
        runtime.import_state(saved.state)
    except StateError as err:
        store.close()
        raise StateDirError(f"{store.path}: {err}") from None
    log.info("resumed from %s (generation %d)", store.path, saved.generation)
    return Persister(runtime, store, world_print, saved.generation)
