"""Schedules (SPEC 3.8): parsing schedule strings, and deciding when conduits run.

`manual`, `instant`, or `interval:N{m,h,d}` (e.g. `interval:15m`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import UserError

MANUAL = "manual"
INSTANT = "instant"
INTERVAL = "interval"

_INTERVAL_RE = re.compile(r"^interval:(\d+)([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Schedule:
    kind: str  # manual | instant | interval
    seconds: int = 0  # interval length, for `interval`

    def __str__(self) -> str:
        if self.kind != INTERVAL:
            return self.kind
        for unit in ("d", "h", "m"):
            n, rest = divmod(self.seconds, _UNIT_SECONDS[unit])
            if not rest:
                return f"interval:{n}{unit}"
        raise AssertionError("interval not a whole number of minutes")


def parse_schedule(text: str) -> Schedule:
    """Parse a schedule string or raise UserError with the accepted forms."""
    s = text.strip().lower()
    if s in (MANUAL, INSTANT):
        return Schedule(s)
    m = _INTERVAL_RE.match(s)
    if m and int(m.group(1)) > 0:
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        if seconds > 366 * 86400:
            raise UserError(
                f"invalid schedule {text!r}: intervals longer than a year are not supported"
            )
        return Schedule(INTERVAL, seconds)
    raise UserError(
        f"invalid schedule {text!r}: use manual, instant or interval:N followed by m, h or d "
        "(e.g. interval:15m)"
    )


# --- Deciding when conduits run -------------------------------------------------------------
#
# Times here are wall-clock seconds (time.time()), not monotonic ones: `last_run` comes from
# the database, and on Linux the monotonic clock stops during suspend, so a machine that
# slept through a due time would otherwise not notice the missed run.


def next_run(schedule: Schedule, last_run: float | None, now: float) -> float | None:
    """When an interval conduit is due next; None for manual and instant ones.

    A run that was missed (the machine slept, the app was not running) is due `now`,
    and only once: after it starts, the next one is an interval later.
    """
    if schedule.kind != INTERVAL:
        return None
    if last_run is None:
        return now
    # min(): a last run "in the future" means the clock was set back; count from now.
    return max(min(last_run, now) + schedule.seconds, now)


@dataclass
class _ConduitTimes:
    schedule: Schedule
    paused: bool
    last_run: float | None  # start time of the last run (see Scheduler.started)
    running: bool = False
    changed_at: float | None = None  # latest change not yet covered by a run's start
    requested: bool = False  # "sync now" that has not started yet


class Scheduler:
    """Decides which conduits are due; the daemon or GUI loop polls `due()`.

    No threads and no timers of its own: the caller asks `due(now)` (or sleeps until
    `next_wakeup(now)`), starts the runs, and reports `started`/`finished`. Rules:
    a paused conduit never runs; a conduit never runs twice at once; a change, a request or
    a due time that arrives while a conduit runs gives exactly one follow-up run after it.
    Interval times count from the *start* of the last run, so a run longer than its
    interval is followed by one immediate run, not by a backlog.
    An instant conduit is due `quiet` seconds after the last change of either endpoint;
    a newly added instant conduit is due once (changes made while the app was not running
    were not seen by the watcher).
    Thread-safe: the watcher thread may call `notify_change` while the GUI polls `due`.
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, quiet: float = 2.0) -> None:
        self._clock = clock
        self._quiet = quiet
        self._lock = threading.Lock()  # guards _conduits and every _ConduitTimes in it
        self._conduits: dict[int, _ConduitTimes] = {}

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def set_conduit(
        self,
        cid: int,
        schedule: Schedule,
        paused: bool = False,
        last_run: float | None = None,
        now: float | None = None,
    ) -> None:
        """Add or update a conduit. `last_run` is the start time of its last run, if any."""
        now = self._now(now)
        with self._lock:
            c = self._conduits.get(cid)
            if c is None:
                c = self._conduits[cid] = _ConduitTimes(schedule, paused, last_run)
                if schedule.kind == INSTANT:
                    c.changed_at = now
                return
            if schedule.kind == INSTANT and c.schedule.kind != INSTANT:
                c.changed_at = now  # becoming instant: catch up with what was not synced
            c.schedule, c.paused = schedule, paused
            if last_run is not None and (c.last_run is None or last_run > c.last_run):
                c.last_run = last_run

    def remove(self, cid: int) -> None:
        with self._lock:
            self._conduits.pop(cid, None)

    def notify_change(self, cid: int, now: float | None = None) -> None:
        """An endpoint of an instant conduit changed; others ignore it (they run on time)."""
        now = self._now(now)
        with self._lock:
            c = self._conduits.get(cid)
            if c is not None and c.schedule.kind == INSTANT:
                c.changed_at = now  # kept while paused, so resuming syncs what changed

    def request(self, cid: int) -> bool:
        """Sync now: due at once (or right after the current run). False if paused or unknown."""
        with self._lock:
            c = self._conduits.get(cid)
            if c is None or c.paused:
                return False
            c.requested = True
            return True

    def _due_at(self, c: _ConduitTimes, now: float) -> float | None:
        """When `c` may start next, ignoring whether it runs now (caller checks that)."""
        if c.paused:
            return None
        times = []
        if c.requested:
            times.append(now)
        if c.changed_at is not None and c.schedule.kind == INSTANT:
            times.append(c.changed_at + self._quiet)
        t = next_run(c.schedule, c.last_run, now)
        if t is not None:
            times.append(t)
        return min(times) if times else None

    def due(self, now: float | None = None) -> list[int]:
        """Conduits that should start now, by due time then id. Call `started` for each."""
        now = self._now(now)
        with self._lock:
            ready = []
            for cid, c in self._conduits.items():
                if c.running:
                    continue
                t = self._due_at(c, now)
                if t is not None and t <= now:
                    ready.append((t, cid))
        return [cid for _, cid in sorted(ready)]

    def started(self, cid: int, now: float | None = None) -> bool:
        """Record that a run starts; False (and nothing changes) if one is already running."""
        now = self._now(now)
        with self._lock:
            c = self._conduits.get(cid)
            if c is None:
                return True  # not scheduled here (e.g. a CLI run of an unknown conduit)
            if c.running:
                return False
            c.running = True
            c.last_run = now
            # The run scans after this moment, so it covers every earlier change and request.
            c.changed_at = None
            c.requested = False
            return True

    def finished(self, cid: int, now: float | None = None) -> None:
        """Record that the run ended (whatever its outcome); a follow-up may now be due.

        `now` is accepted for symmetry with `started`: intervals count from the start, and a
        follow-up's time was fixed when its change or request arrived.
        """
        with self._lock:
            c = self._conduits.get(cid)
            if c is not None:
                c.running = False

    def is_running(self, cid: int) -> bool:
        with self._lock:
            c = self._conduits.get(cid)
            return c is not None and c.running

    def next_due(self, cid: int, now: float | None = None) -> float | None:
        """When the conduit runs next, for display; None if never by itself or running."""
        now = self._now(now)
        with self._lock:
            c = self._conduits.get(cid)
            if c is None or c.running:
                return None
            return self._due_at(c, now)

    def next_wakeup(self, now: float | None = None) -> float | None:
        """The earliest time any idle conduit becomes due, to sleep until (None: nothing).

        A Qt timer must clamp the delay (QTimer takes at most 2**31-1 ms) and re-plan.
        """
        now = self._now(now)
        with self._lock:
            times = [
                t
                for c in self._conduits.values()
                if not c.running and (t := self._due_at(c, now)) is not None
            ]
        return min(times) if times else None
