"""Schedules: parsing, next_run and the Scheduler's rules, with a fake clock."""

from __future__ import annotations

import pytest

from spacesync_gui.engine.errors import UserError
from spacesync_gui.engine.scheduler import (
    INSTANT,
    INTERVAL,
    MANUAL,
    Schedule,
    Scheduler,
    next_run,
    parse_schedule,
)

T0 = 1_700_000_000.0
EVERY_15M = Schedule(INTERVAL, 900)


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sched(clock: FakeClock) -> Scheduler:
    return Scheduler(clock, quiet=2.0)


def test_parse_schedule_round_trip() -> None:
    assert parse_schedule("interval:15m") == EVERY_15M
    assert str(parse_schedule(" Interval:2H ")) == "interval:2h"
    assert parse_schedule("instant") == Schedule(INSTANT)
    with pytest.raises(UserError, match="interval:N"):
        parse_schedule("every 5 minutes")


def test_next_run() -> None:
    assert next_run(Schedule(MANUAL), T0, T0) is None
    assert next_run(Schedule(INSTANT), T0, T0) is None
    assert next_run(EVERY_15M, None, T0) == T0  # never ran: now
    assert next_run(EVERY_15M, T0, T0 + 60) == T0 + 900
    # Missed while asleep for a day: due now, once.
    assert next_run(EVERY_15M, T0, T0 + 86400) == T0 + 86400
    # A last run "in the future" (clock set back) counts from now.
    assert next_run(EVERY_15M, T0 + 5000, T0) == T0 + 900


def test_interval_runs_on_time(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, EVERY_15M, last_run=T0)
    assert sched.due() == []
    assert sched.next_due(1) == T0 + 900
    clock.advance(899)
    assert sched.due() == []
    clock.advance(1)
    assert sched.due() == [1]
    assert sched.started(1)
    clock.advance(30)
    sched.finished(1)
    assert sched.due() == []
    assert sched.next_due(1) == T0 + 1800  # counted from the start of the run


def test_catch_up_after_sleep_runs_once(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, EVERY_15M, last_run=T0)
    clock.advance(8 * 3600)  # the laptop slept through 32 intervals
    assert sched.due() == [1]
    assert sched.due() == [1]  # asking again does not queue more runs
    sched.started(1)
    sched.finished(1)
    assert sched.due() == []
    assert sched.next_due(1) == clock.now + 900


def test_never_run_interval_conduit_is_due_now(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, EVERY_15M)
    assert sched.due() == [1]


def test_manual_never_runs_by_itself(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, Schedule(MANUAL))
    sched.notify_change(1)
    clock.advance(10 * 86400)
    assert sched.due() == []
    assert sched.next_due(1) is None
    assert sched.request(1)  # "sync now"
    assert sched.due() == [1]
    sched.started(1)
    assert sched.due() == []


def test_paused_conduit_never_runs(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, EVERY_15M, paused=True, last_run=T0)
    sched.set_conduit(2, Schedule(INSTANT), paused=True)
    sched.notify_change(2)
    clock.advance(86400)
    assert sched.due() == []
    assert sched.next_due(1) is None
    assert sched.next_wakeup() is None
    assert not sched.request(1)
    # Resuming: the missed interval runs once, the changes seen while paused are synced.
    sched.set_conduit(1, EVERY_15M, paused=False)
    sched.set_conduit(2, Schedule(INSTANT), paused=False)
    assert sorted(sched.due()) == [1, 2]


def test_no_overlap_and_one_follow_up(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, Schedule(INSTANT))
    clock.advance(2)
    assert sched.due() == [1]  # a new instant conduit catches up once
    assert sched.started(1)
    assert not sched.started(1)  # never two runs at once
    for _ in range(5):  # changes during the run
        clock.advance(1)
        sched.notify_change(1)
        assert sched.due() == []
    assert sched.is_running(1)
    sched.finished(1)
    clock.advance(2)
    assert sched.due() == [1]  # exactly one follow-up
    sched.started(1)
    sched.finished(1)
    clock.advance(60)
    assert sched.due() == []


def test_interval_due_during_a_long_run_gives_one_follow_up(
    sched: Scheduler, clock: FakeClock
) -> None:
    sched.set_conduit(1, EVERY_15M, last_run=T0 - 900)
    assert sched.due() == [1]
    sched.started(1)
    clock.advance(3 * 900)  # the run took three intervals
    assert sched.due() == []
    sched.finished(1)
    assert sched.due() == [1]
    sched.started(1)
    sched.finished(1)
    assert sched.due() == []


def test_request_during_run_follows_once(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, Schedule(MANUAL))
    sched.request(1)
    sched.started(1)
    sched.request(1)
    sched.request(1)
    assert sched.due() == []
    sched.finished(1)
    assert sched.due() == [1]
    sched.started(1)
    sched.finished(1)
    assert sched.due() == []


def test_instant_debounce(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, Schedule(INSTANT), last_run=T0)
    sched.started(1)  # the catch-up run of a new instant conduit
    sched.finished(1)
    assert sched.due() == []
    assert sched.next_due(1) is None

    sched.notify_change(1)
    assert sched.next_due(1) == clock.now + 2.0
    clock.advance(1.5)
    sched.notify_change(1)  # the other endpoint changed too: quiet starts again
    clock.advance(1.5)
    assert sched.due() == []
    clock.advance(0.5)
    assert sched.due() == [1]
    assert sched.next_wakeup() == clock.now


def test_changes_do_not_trigger_interval_conduits(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, EVERY_15M, last_run=T0)
    sched.notify_change(1)
    clock.advance(10)
    assert sched.due() == []


def test_due_lists_every_due_conduit_and_remove(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, EVERY_15M, last_run=T0)
    sched.set_conduit(2, EVERY_15M, last_run=T0 - 600)
    assert sched.next_wakeup() == T0 + 300
    clock.advance(3600)
    assert sched.due() == [1, 2]  # both are due "now"; ties are ordered by id
    sched.remove(1)
    assert sched.due() == [2]
    assert sched.next_due(1) is None


def test_schedule_change_to_instant_catches_up(sched: Scheduler, clock: FakeClock) -> None:
    sched.set_conduit(1, Schedule(MANUAL))
    assert sched.due() == []
    sched.set_conduit(1, Schedule(INSTANT))
    clock.advance(2)
    assert sched.due() == [1]
