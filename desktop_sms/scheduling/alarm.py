"""The in-process alarm clock (APScheduler 3.11): wakes the dispatcher when a text falls due.

One scheduler per process with its own memory job store, never shared: the database is the
source of truth, the scheduler only decides *when* to look. It wakes the dispatcher at the next
due time, when a message is added, on start-up, and on a periodic safety tick (which also
catches messages another desktop scheduled and a machine waking from sleep: a date trigger
whose time passed while asleep runs at once, misfires are never dropped).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

SAFETY_TICK = timedelta(seconds=30)
WAKE_JOB = "dispatch-wake"
TICK_JOB = "dispatch-tick"


class DispatchAlarm:
    """Runs `work()` (the dispatcher) at `next_wakeup()` and whenever woken."""

    def __init__(self, work: Callable[[], Any], next_wakeup: Callable[[], datetime | None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 safety_tick: timedelta = SAFETY_TICK,
                 on_done: Callable[[Any], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._work = work
        self._next_wakeup = next_wakeup
        self._clock = clock
        self._on_done = on_done
        self._on_error = on_error
        self._safety_tick = safety_tick
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start the scheduler and run the dispatcher once now (start-up catch-up)."""
        self._scheduler.start()
        self._scheduler.add_job(self._run, IntervalTrigger(seconds=self._safety_tick.total_seconds(),
                                                           timezone=UTC),
                                id=TICK_JOB, replace_existing=True)
        self.wake()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def wake(self, at: datetime | None = None) -> None:
        """Run the dispatcher at `at` (now by default), replacing any earlier wake-up."""
        when = at or self._clock()
        with self._lock:
            if not self._scheduler.running:
                return
            existing = self._scheduler.get_job(WAKE_JOB)
            if existing is not None and existing.next_run_time is not None \
                    and existing.next_run_time <= when and at is not None:
                return  # an earlier wake-up is already set; it will reschedule after running
            self._scheduler.add_job(self._run, DateTrigger(run_date=when, timezone=UTC),
                                    id=WAKE_JOB, replace_existing=True)

    def next_wake_time(self) -> datetime | None:
        """When the scheduler will next run the dispatcher (for tests and the status bar)."""
        job = self._scheduler.get_job(WAKE_JOB)
        return job.next_run_time if job is not None else None

    def _run(self) -> None:
        try:
            result = self._work()
        except BaseException as exc:  # the alarm must keep ringing after any failure
            log.exception("dispatcher run failed")
            if self._on_error:
                self._on_error(exc)
            result = None
        else:
            if self._on_done:
                self._on_done(result)
        try:
            upcoming = self._next_wakeup()
        except Exception:
            log.exception("could not read the next due time")
            return
        if upcoming is not None:
            now = self._clock()
            with self._lock:
                if self._scheduler.running:
                    self._scheduler.add_job(self._run,
                                            DateTrigger(run_date=max(upcoming, now), timezone=UTC),
                                            id=WAKE_JOB, replace_existing=True)
