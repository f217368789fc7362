"""The simulated clock and its job scheduler.

Every timestamp, lifetime, schedule and background job in every sim reads this clock. It is the
only place that reads the host's wall clock: in ``real`` mode it follows it (plus an offset that
``advance`` and ``set`` move); in ``frozen`` mode time stands still until advanced. Advancing runs
the jobs that fall due, one by one in due order, with the clock set to each job's due time.
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

log = logging.getLogger("sims.clock")


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def iso(ts: float) -> str:
    """RFC 3339 with milliseconds and a Z, the form most of the real services print."""
    return to_datetime(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(order=True)
class Job:
    due: float
    seq: int
    name: str = field(compare=False)
    action: Callable[[], Awaitable[None] | None] = field(compare=False, repr=False)
    every: float | None = field(default=None, compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class SimClock:
    """A clock that is either following real time or frozen, and that runs scheduled jobs."""

    def __init__(self, *, frozen_at: float | None = None, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._lock = threading.RLock()
        self._jobs: list[Job] = []
        self._seq = itertools.count()
        self._frozen_at: float | None = frozen_at
        self._offset = 0.0
        self._running_jobs = False
        self._current: Job | None = None  # the job running now (clear_jobs must cancel it too)

    # -- reading ---------------------------------------------------------------------------------
    def now(self) -> float:
        frozen = self._frozen_at
        return frozen if frozen is not None else self._wall() + self._offset

    def now_dt(self) -> datetime:
        return to_datetime(self.now())

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def state(self) -> dict:
        now = self.now()
        return {
            "now": iso(now),
            "epoch": now,
            "mode": "frozen" if self.frozen else "real",
            "pending_jobs": [
                {"name": j.name, "due": iso(j.due), "every": j.every}
                for j in sorted(self._jobs)
                if not j.cancelled
            ],
        }

    # -- moving ----------------------------------------------------------------------------------
    def _set(self, ts: float) -> None:
        if self._frozen_at is not None:
            self._frozen_at = ts
        else:
            self._offset = ts - self._wall()

    def freeze(self, at: float | None = None) -> None:
        """Stop time (at ``at`` if given, which may not go backwards past due jobs' semantics)."""
        with self._lock:
            self._frozen_at = self.now() if at is None else at

    def resume(self) -> None:
        """Follow real time again, from the current simulated instant."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._wall()
                self._frozen_at = None

    def follow_real_time(self) -> None:
        """Back to the host's own time, with no offset."""
        with self._lock:
            self._frozen_at = None
            self._offset = 0.0

    def set(self, ts: float) -> None:
        """Jump to ``ts``; jumping forward runs the jobs that fall due, backwards runs none."""
        with self._lock:
            if ts > self.now():
                self.advance(ts - self.now())
            else:
                self._set(ts)

    def advance(self, seconds: float) -> int:
        """Move time forward, running every job due up to the target in order. Returns jobs run."""
        if seconds < 0:
            raise ValueError("the clock cannot be advanced by a negative amount")
        with self._lock:
            target = self.now() + seconds
            ran = self._run_due(until=target)
            self._set(target)
            return ran

    def run_due(self) -> int:
        """Run jobs due at the current instant (called periodically while following real time)."""
        with self._lock:
            return self._run_due(until=self.now(), move=False)

    def _due_jobs(self, until: float, move: bool) -> Iterator[Job]:
        """Each job due up to ``until``, in due order, with the clock at its due time while it runs;
        recurring jobs are put back after. The one place both runners share."""
        if self._running_jobs:
            if move:  # a job moving time would skip the jobs due before its target
                raise RuntimeError("a scheduled job may not advance or set the clock")
            return
        self._running_jobs = True
        try:
            while self._jobs and self._jobs[0].due <= until:
                job = heapq.heappop(self._jobs)
                if job.cancelled:
                    continue
                self._current = job
                if move and job.due > self.now():
                    self._set(job.due)
                yield job
                if job.every and not job.cancelled:
                    job.due += job.every
                    job.seq = next(self._seq)
                    heapq.heappush(self._jobs, job)
        finally:
            self._running_jobs = False
            self._current = None

    def _run_due(self, until: float, move: bool = True) -> int:
        ran = 0
        for job in self._due_jobs(until, move):
            try:
                result = job.action()
                if inspect.isawaitable(result):  # only the async runner can await it
                    if inspect.iscoroutine(result):
                        result.close()
                    log.error("job %s is async: advance the clock with advance_async", job.name)
            except Exception:  # a failing job must not stop time
                log.exception("scheduled job %s failed", job.name)
            ran += 1
        return ran

    # -- the same, for jobs that await (an integration calling other sims over HTTP) ---------------
    async def advance_async(self, seconds: float) -> int:
        """``advance`` that awaits async jobs; the serving loop and the control plane use this one."""
        if seconds < 0:
            raise ValueError("the clock cannot be advanced by a negative amount")
        target = self.now() + seconds
        ran = await self._run_due_async(until=target)
        self._set(target)
        return ran

    async def set_async(self, ts: float) -> None:
        if ts > self.now():
            await self.advance_async(ts - self.now())
        else:
            self._set(ts)

    async def run_due_async(self) -> int:
        return await self._run_due_async(until=self.now(), move=False)

    async def _run_due_async(self, until: float, move: bool = True) -> int:
        # No lock across awaits: every caller runs on the one serving loop; the flag in _due_jobs
        # stops re-entry (a job's HTTP call reaching the control plane's advance, or the ticker).
        ran = 0
        for job in self._due_jobs(until, move):
            try:
                result = job.action()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a failing job must not stop time
                log.exception("scheduled job %s failed", job.name)
            ran += 1
        return ran

    # -- scheduling ------------------------------------------------------------------------------
    def schedule(
        self, due: float, name: str, action: Callable[[], Awaitable[None] | None], every: float | None = None
    ) -> Job:
        if every is not None and every <= 0:
            raise ValueError("a recurring job needs a positive interval")
        job = Job(due=due, seq=next(self._seq), name=name, action=action, every=every)
        with self._lock:
            heapq.heappush(self._jobs, job)
        return job

    def every(
        self,
        seconds: float,
        name: str,
        action: Callable[[], Awaitable[None] | None],
        first: float | None = None,
    ) -> Job:
        return self.schedule(self.now() + seconds if first is None else first, name, action, every=seconds)

    def clear_jobs(self) -> None:
        with self._lock:
            for job in self._jobs:
                job.cancelled = True
            self._jobs.clear()
            if self._current is not None:
                self._current.cancelled = True
