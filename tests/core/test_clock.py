"""SimClock: frozen and real time, advancing, and the job scheduler (pure unit tests, no sleeping)."""

from __future__ import annotations

import logging

import pytest

from sims.core.clock import SimClock, iso, to_datetime

T0 = 1_768_467_600.0  # 2026-01-15T09:00:00Z


class FakeWall:
    """A host clock the test moves by hand."""

    def __init__(self, now: float = 5_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def frozen(at: float = T0) -> SimClock:
    def no_wall() -> float:  # a frozen clock must never consult the host's time
        raise AssertionError("a frozen clock read the wall clock")

    return SimClock(frozen_at=at, wall=no_wall)


# -- reading ---------------------------------------------------------------------------------------
def test_frozen_clock_stands_still():
    clock = frozen()
    assert clock.frozen
    assert clock.now() == T0
    assert clock.now() == T0
    assert clock.now_dt() == to_datetime(T0)
    assert clock.now_dt().isoformat() == "2026-01-15T09:00:00+00:00"


def test_iso_has_milliseconds_and_z():
    assert iso(T0) == "2026-01-15T09:00:00.000Z"
    assert iso(T0 + 0.25) == "2026-01-15T09:00:00.250Z"


def test_state_describes_the_clock_and_pending_jobs():
    clock = frozen()
    clock.schedule(T0 + 20, "later", lambda: None)
    clock.every(10, "tick", lambda: None)
    gone = clock.schedule(T0 + 5, "cancelled", lambda: None)
    gone.cancel()
    state = clock.state()
    assert state["now"] == "2026-01-15T09:00:00.000Z"
    assert state["epoch"] == T0
    assert state["mode"] == "frozen"
    assert state["pending_jobs"] == [
        {"name": "tick", "due": "2026-01-15T09:00:10.000Z", "every": 10},
        {"name": "later", "due": "2026-01-15T09:00:20.000Z", "every": None},
    ]


def test_real_clock_follows_the_wall():
    wall = FakeWall(1000.0)
    clock = SimClock(wall=wall)
    assert not clock.frozen
    assert clock.state()["mode"] == "real"
    assert clock.now() == 1000.0
    wall.now += 2.5
    assert clock.now() == 1002.5


# -- advancing -------------------------------------------------------------------------------------
def test_advance_moves_a_frozen_clock():
    clock = frozen()
    assert clock.advance(90) == 0
    assert clock.now() == T0 + 90
    assert clock.frozen
    assert clock.advance(0) == 0
    assert clock.now() == T0 + 90


def test_negative_advance_raises_and_moves_nothing():
    clock = frozen()
    ran = []
    clock.schedule(T0 + 1, "job", lambda: ran.append(1))
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)
    assert clock.now() == T0
    assert ran == []


def test_advance_runs_due_jobs_in_due_order_at_their_due_time():
    clock = frozen()
    seen: list[tuple[str, float]] = []

    def job(name: str):
        return lambda: seen.append((name, clock.now()))

    # scheduled out of order; "c" and "c2" share a due time and keep their scheduling order
    clock.schedule(T0 + 30, "c", job("c"))
    clock.schedule(T0 + 10, "a", job("a"))
    clock.schedule(T0 + 20, "b", job("b"))
    clock.schedule(T0 + 30, "c2", job("c2"))
    clock.schedule(T0 + 100, "late", job("late"))

    assert clock.advance(30) == 4
    assert seen == [("a", T0 + 10), ("b", T0 + 20), ("c", T0 + 30), ("c2", T0 + 30)]
    assert clock.now() == T0 + 30
    assert [j["name"] for j in clock.state()["pending_jobs"]] == ["late"]

    assert clock.advance(69.5) == 0  # not due yet
    assert clock.advance(0.5) == 1
    assert seen[-1] == ("late", T0 + 100)


def test_job_due_exactly_now_runs_on_zero_advance():
    clock = frozen()
    ran = []
    clock.schedule(T0, "now", lambda: ran.append(clock.now()))
    assert clock.advance(0) == 1
    assert ran == [T0]


def test_overdue_job_runs_without_moving_time_back():
    clock = frozen()
    ran = []
    clock.schedule(T0 - 50, "overdue", lambda: ran.append(clock.now()))
    assert clock.advance(10) == 1
    assert ran == [T0]  # the clock is never moved backwards to an overdue job's due time
    assert clock.now() == T0 + 10


def test_jobs_scheduled_by_a_job_run_in_the_same_advance_when_due():
    clock = frozen()
    seen = []

    def first() -> None:
        seen.append(("first", clock.now()))
        clock.schedule(clock.now() + 5, "follow-up", lambda: seen.append(("follow-up", clock.now())))
        clock.schedule(clock.now() + 500, "far", lambda: seen.append(("far", clock.now())))

    clock.schedule(T0 + 10, "first", first)
    assert clock.advance(60) == 2
    assert seen == [("first", T0 + 10), ("follow-up", T0 + 15)]
    assert [j["name"] for j in clock.state()["pending_jobs"]] == ["far"]


# -- recurring jobs --------------------------------------------------------------------------------
def test_every_runs_once_per_period_at_each_due_time():
    clock = frozen()
    times: list[float] = []
    job = clock.every(60, "minutely", lambda: times.append(clock.now()))
    assert job.every == 60
    assert job.due == T0 + 60

    assert clock.advance(59) == 0
    assert clock.advance(1) == 1
    assert clock.advance(180) == 3
    assert times == [T0 + 60, T0 + 120, T0 + 180, T0 + 240]
    assert clock.state()["pending_jobs"] == [{"name": "minutely", "due": iso(T0 + 300), "every": 60}]


def test_every_with_explicit_first_run():
    clock = frozen()
    times: list[float] = []
    clock.every(100, "job", lambda: times.append(clock.now()), first=T0 + 5)
    assert clock.advance(210) == 3
    assert times == [T0 + 5, T0 + 105, T0 + 205]


def test_recurring_jobs_interleave_in_due_order():
    clock = frozen()
    seen: list[tuple[str, float]] = []
    clock.every(30, "a", lambda: seen.append(("a", clock.now() - T0)))
    clock.every(45, "b", lambda: seen.append(("b", clock.now() - T0)))
    assert clock.advance(90) == 5
    # at 90 both are due: ties go to the job (re)scheduled first, and b was re-queued at 45, a at 60
    assert seen == [("a", 30), ("b", 45), ("a", 60), ("b", 90), ("a", 90)]


@pytest.mark.parametrize("interval", [0, -5])
def test_recurring_job_needs_a_positive_interval(interval):
    clock = frozen()
    with pytest.raises(ValueError, match="positive interval"):
        clock.every(interval, "bad", lambda: None)
    with pytest.raises(ValueError, match="positive interval"):
        clock.schedule(T0 + 1, "bad", lambda: None, every=interval)


# -- cancelling ------------------------------------------------------------------------------------
def test_cancelled_job_never_runs():
    clock = frozen()
    ran = []
    job = clock.schedule(T0 + 10, "job", lambda: ran.append("job"))
    other = clock.schedule(T0 + 10, "other", lambda: ran.append("other"))
    job.cancel()
    assert job.cancelled
    assert clock.advance(20) == 1
    assert ran == ["other"]
    assert other.cancelled is False


def test_cancelling_a_recurring_job_stops_it():
    clock = frozen()
    ran = []
    job = clock.every(10, "tick", lambda: ran.append(clock.now()))
    clock.advance(25)
    job.cancel()
    assert clock.advance(100) == 0
    assert ran == [T0 + 10, T0 + 20]
    assert clock.state()["pending_jobs"] == []


def test_recurring_job_can_cancel_itself():
    clock = frozen()
    ran = []
    holder = {}

    def action() -> None:
        ran.append(clock.now())
        if len(ran) == 2:
            holder["job"].cancel()

    holder["job"] = clock.every(10, "twice", action)
    assert clock.advance(100) == 2
    assert ran == [T0 + 10, T0 + 20]
    assert clock.state()["pending_jobs"] == []


def test_a_job_can_cancel_a_later_job():
    clock = frozen()
    ran = []
    later = clock.schedule(T0 + 20, "later", lambda: ran.append("later"))
    clock.schedule(T0 + 10, "canceller", lambda: (ran.append("canceller"), later.cancel()))
    assert clock.advance(30) == 1
    assert ran == ["canceller"]


def test_clear_jobs_cancels_everything():
    clock = frozen()
    ran = []
    jobs = [
        clock.schedule(T0 + 1, "once", lambda: ran.append("once")),
        clock.every(5, "tick", lambda: ran.append("tick")),
    ]
    clock.clear_jobs()
    assert all(j.cancelled for j in jobs)
    assert clock.state()["pending_jobs"] == []
    assert clock.advance(3600) == 0
    assert ran == []
    # scheduling after a clear works as usual
    clock.schedule(clock.now() + 1, "new", lambda: ran.append("new"))
    assert clock.advance(1) == 1
    assert ran == ["new"]


def test_clear_jobs_from_inside_a_recurring_job_cancels_it_too():
    clock = frozen()
    ran = []

    def action() -> None:
        ran.append(clock.now())
        clock.clear_jobs()

    job = clock.every(10, "self-clearing", action)
    clock.advance(35)
    assert ran == [T0 + 10]
    assert job.cancelled
    assert clock.state()["pending_jobs"] == []


# -- setting ---------------------------------------------------------------------------------------
def test_set_backwards_runs_nothing():
    clock = frozen()
    ran = []
    clock.schedule(T0 + 10, "future", lambda: ran.append(1))
    clock.set(T0 - 3600)
    assert clock.now() == T0 - 3600
    assert ran == []
    # the job is still pending and runs once time gets there
    assert [j["name"] for j in clock.state()["pending_jobs"]] == ["future"]
    assert clock.advance(3600 + 10) == 1
    assert ran == [1]


def test_set_forward_runs_due_jobs_like_advance():
    clock = frozen()
    seen = []
    clock.schedule(T0 + 10, "a", lambda: seen.append(clock.now()))
    clock.every(100, "r", lambda: seen.append(clock.now()))
    clock.set(T0 + 250)
    assert seen == [T0 + 10, T0 + 100, T0 + 200]
    assert clock.now() == T0 + 250


def test_set_to_the_same_instant_runs_due_jobs_only():
    clock = frozen()
    ran = []
    clock.schedule(T0 + 1, "future", lambda: ran.append(1))
    clock.set(T0)
    assert clock.now() == T0
    assert ran == []


def test_freeze_at_an_instant_runs_no_jobs():
    clock = frozen()
    ran = []
    clock.schedule(T0 + 10, "job", lambda: ran.append(1))
    clock.freeze(T0 + 100)
    assert clock.now() == T0 + 100
    assert ran == []  # only advance/set run jobs
    assert clock.run_due() == 1
    assert ran == [1]


# -- real mode, resume and freeze -----------------------------------------------------------------
def test_resume_follows_real_time_from_the_frozen_instant():
    wall = FakeWall(9_999_999.0)
    clock = SimClock(frozen_at=T0, wall=wall)
    wall.now += 1000  # the host's time moves, a frozen clock does not
    assert clock.now() == T0
    clock.resume()
    assert not clock.frozen
    assert clock.now() == T0
    wall.now += 42.5
    assert clock.now() == T0 + 42.5
    clock.resume()  # resuming a running clock changes nothing
    assert clock.now() == T0 + 42.5


def test_freeze_stops_a_real_clock_where_it_is():
    wall = FakeWall(1000.0)
    clock = SimClock(wall=wall)
    wall.now += 5
    clock.freeze()
    assert clock.frozen
    wall.now += 100
    assert clock.now() == 1005.0
    clock.resume()
    wall.now += 1
    assert clock.now() == 1006.0


def test_advance_and_set_shift_a_real_clock():
    wall = FakeWall(1000.0)
    clock = SimClock(wall=wall)
    ran = []
    clock.schedule(1030.0, "job", lambda: ran.append(clock.now()))
    assert clock.advance(60) == 1
    assert ran == [1030.0]
    assert clock.now() == 1060.0
    wall.now += 1
    assert clock.now() == 1061.0  # still following the wall, now with an offset
    clock.set(500.0)
    assert clock.now() == 500.0
    wall.now += 2
    assert clock.now() == 502.0


def test_follow_real_time_drops_the_offset():
    wall = FakeWall(1000.0)
    clock = SimClock(frozen_at=T0, wall=wall)
    clock.follow_real_time()
    assert not clock.frozen
    assert clock.now() == 1000.0
    clock.advance(10)
    clock.follow_real_time()
    assert clock.now() == 1000.0


def test_run_due_in_real_mode_runs_jobs_the_wall_reached_without_moving_time():
    wall = FakeWall(1000.0)
    clock = SimClock(wall=wall)
    seen = []
    clock.schedule(1010.0, "a", lambda: seen.append(("a", clock.now())))
    clock.every(20, "r", lambda: seen.append(("r", clock.now())))
    assert clock.run_due() == 0
    wall.now = 1025.0
    assert clock.run_due() == 2
    # run_due does not move time: jobs see the present, and the clock stays on the wall
    assert seen == [("a", 1025.0), ("r", 1025.0)]
    assert clock.now() == 1025.0
    assert clock.state()["pending_jobs"] == [{"name": "r", "due": iso(1040.0), "every": 20}]


# -- robustness ------------------------------------------------------------------------------------
def test_a_failing_job_does_not_stop_the_others(caplog):
    clock = frozen()
    ran = []

    def boom() -> None:
        ran.append("boom")
        raise RuntimeError("job exploded")

    clock.schedule(T0 + 1, "boom", boom)
    clock.schedule(T0 + 2, "after", lambda: ran.append("after"))
    clock.every(1, "recurring-boom", boom, first=T0 + 3)
    with caplog.at_level(logging.ERROR, logger="sims.clock"):
        assert clock.advance(4) == 4
    assert ran == ["boom", "after", "boom", "boom"]
    assert clock.now() == T0 + 4
    assert "boom failed" in caplog.text
    # the failing recurring job stays scheduled
    assert [j["name"] for j in clock.state()["pending_jobs"]] == ["recurring-boom"]


def test_a_job_that_advances_the_clock_does_not_recurse():
    clock = frozen()
    calls = []

    def advancer() -> None:
        calls.append(clock.now())
        assert clock.advance(5) == 0  # inner advance runs no jobs (no re-entry into the loop)

    clock.every(10, "advancer", advancer)
    assert clock.advance(35) == 3
    assert calls == [T0 + 10, T0 + 20, T0 + 30]
    assert clock.now() == T0 + 35


def test_a_job_that_advances_the_clock_keeps_time_monotonic_and_due_times_exact():
    clock = frozen()
    seen = []

    def advancer() -> None:
        seen.append(("advancer", clock.now()))
        clock.advance(100)

    clock.schedule(T0 + 10, "advancer", advancer)
    clock.schedule(T0 + 15, "b", lambda: seen.append(("b", clock.now())))
    clock.schedule(T0 + 50, "c", lambda: seen.append(("c", clock.now())))
    clock.advance(20)
    observed = [t for _, t in seen] + [clock.now()]
    assert observed == sorted(observed), f"time went backwards: {seen}, then {clock.now()}"
    assert ("b", T0 + 15) in seen
