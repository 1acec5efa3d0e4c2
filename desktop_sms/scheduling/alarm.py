"""The in-process alarm clock (APScheduler 3.11): wakes the dispatcher and the poller.

One scheduler per process with its own memory job store, never shared: the database is the
source of truth, the scheduler only decides *when* to look. The dispatcher runs at the next
due time, when a message is added, on start-up, and on a periodic safety tick (which also
catches messages another desktop scheduled, and a machine waking from sleep: a date trigger
whose time passed while asleep runs at once, misfires are never dropped). The poller runs
every poll interval, backing off after errors. Each job runs on the scheduler's own worker
threads, never on the GUI thread; results go to callbacks the UI turns into Qt signals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

SAFETY_TICK = timedelta(seconds=30)
MAX_POLL_BACKOFF = timedelta(minutes=5)
WAKE_JOB = "dispatch-wake"
TICK_JOB = "dispatch-tick"
POLL_JOB = "poll"
FAR = 3650  # days: the interval of jobs that only ever run when their next run time is moved
STOP_TIMEOUT_S = 3.0  # shutdown waits at most this long for running jobs


class BackgroundWork:
    """Runs the dispatcher and the poller off the GUI thread, at the right times."""

    def __init__(self, *, dispatch: Callable[[], Any],
                 next_wakeup: Callable[[], datetime | None],
                 poll: Callable[[], Any] | None = None,
                 poll_interval: Callable[[], float] = lambda: 20.0,
                 poll_ok: Callable[[Any], bool] = lambda report: True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 safety_tick: timedelta = SAFETY_TICK,
                 on_dispatched: Callable[[Any], None] | None = None,
                 on_polled: Callable[[Any], None] | None = None,
                 on_error: Callable[[str, BaseException], None] | None = None,
                 on_stop: Callable[[Iterable[threading.Thread]], None] | None = None,
                 stop_timeout: float = STOP_TIMEOUT_S) -> None:
        """on_stop: called at shutdown with the threads running jobs, to cut off their
        network requests (see twilio_provider.cancel_requests); stop_timeout: seconds
        shutdown waits for running jobs after that."""
        self._dispatch = dispatch
        self._on_stop = on_stop
        self._stop_timeout = stop_timeout
        self._job_threads: set[threading.Thread] = set()
        self._jobs_done = threading.Condition()
        self._next_wakeup = next_wakeup
        self._poll = poll
        self._poll_interval = poll_interval
        self._poll_ok = poll_ok
        self._clock = clock
        self._safety_tick = safety_tick
        self._on_dispatched = on_dispatched
        self._on_polled = on_polled
        self._on_error = on_error
        self._lock = threading.Lock()
        self._poll_failures = 0
        # A request that arrives during a run makes that run go once more when it ends.
        self._running = {"dispatch": False, "poll": False}
        self._again = {"dispatch": False, "poll": False}
        # Two workers: a slow poll never delays a due text, and each job runs one at a time.
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(2)},
            # Overlapping runs are folded into one by the flags below, not by max_instances:
            # APScheduler would silently drop a wake-up that arrives while a run is going on.
            job_defaults={"coalesce": True, "max_instances": 4, "misfire_grace_time": None},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start the scheduler; the dispatcher runs at once (start-up catch-up), then polls.

        Each kind of work is one long-lived job whose next run time is moved (never a job
        added and removed per wake-up: APScheduler can race with itself over a job id that is
        being replaced while it fires).
        """
        now = self._clock()
        self._scheduler.start()
        self._scheduler.add_job(self._run_dispatch,
                                IntervalTrigger(seconds=self._safety_tick.total_seconds(),
                                                timezone=UTC),
                                id=TICK_JOB, replace_existing=True)
        self._scheduler.add_job(self._run_dispatch, IntervalTrigger(days=FAR, timezone=UTC),
                                id=WAKE_JOB, replace_existing=True, next_run_time=now)
        if self._poll is not None:
            self._scheduler.add_job(self._run_poll, IntervalTrigger(days=FAR, timezone=UTC),
                                    id=POLL_JOB, replace_existing=True, next_run_time=now)

    def shutdown(self) -> None:
        """Stop within about stop_timeout seconds, even while a request hangs.

        No new job starts; on_stop cuts off the running jobs' requests (a cut-off send is
        looked up at the provider before any retry, so nothing is sent twice); then the
        running jobs get stop_timeout seconds to record their results.
        """
        if not self._scheduler.running:
            return
        self._scheduler.shutdown(wait=False)
        with self._jobs_done:
            threads = set(self._job_threads)
        if threads and self._on_stop is not None:
            try:
                self._on_stop(threads)
            except Exception:
                log.exception("could not cut off the running requests")
        end = time.monotonic() + self._stop_timeout
        with self._jobs_done:
            while self._job_threads and (left := end - time.monotonic()) > 0:
                self._jobs_done.wait(left)
            if self._job_threads:
                log.warning("shutdown: %d background job(s) still running were left behind",
                            len(self._job_threads))

    def _job_started(self) -> None:
        with self._jobs_done:
            self._job_threads.add(threading.current_thread())

    def _job_ended(self) -> None:
        with self._jobs_done:
            self._job_threads.discard(threading.current_thread())
            self._jobs_done.notify_all()

    # --- dispatcher ---------------------------------------------------------------------
    def wake(self, at: datetime | None = None) -> None:
        """Run the dispatcher at `at` (now by default) unless an earlier run is already set."""
        self._move(WAKE_JOB, at or self._clock(), only_earlier=True)

    def _move(self, job_id: str, when: datetime, only_earlier: bool) -> None:
        """Set a job's next run time (the job itself lives as long as the scheduler)."""
        with self._lock:
            if not self._scheduler.running:
                return
            job = self._scheduler.get_job(job_id)
            if job is None:
                return
            if (only_earlier and job.next_run_time is not None
                    and job.next_run_time <= when):
                return  # an earlier run is set; it sets the next one after running
            self._scheduler.modify_job(job_id, next_run_time=when)

    def next_wake_time(self) -> datetime | None:
        """When the dispatcher will next run (for tests and diagnostics)."""
        job = self._scheduler.get_job(WAKE_JOB)
        return job.next_run_time if job is not None else None

    def _enter(self, kind: str) -> bool:
        """True if this run may go; else the running one is asked to go once more."""
        with self._lock:
            if self._running[kind]:
                self._again[kind] = True
                return False
            self._running[kind] = True
            self._again[kind] = False
            return True

    def _leave(self, kind: str) -> bool:
        """End a run; True when a request came meanwhile and the run must go again."""
        with self._lock:
            if self._again[kind]:
                self._again[kind] = False
                return True
            self._running[kind] = False
            return False

    def _run_dispatch(self) -> None:
        if not self._enter("dispatch"):
            return
        self._job_started()
        try:
            again = True
            while again:
                self._dispatch_once()
                again = self._leave("dispatch") and self.running
        finally:
            self._job_ended()

    def _dispatch_once(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = self._dispatch()
        except Exception as exc:  # the alarm must keep ringing after any failure
            log.exception("dispatcher run failed")
            error = exc
        self._set_next_wake()  # before telling anyone, so listeners see the alarm already set
        if error is not None:
            if self._on_error:
                self._on_error("dispatch", error)
        elif self._on_dispatched:
            self._on_dispatched(result)

    def _set_next_wake(self) -> None:
        try:
            upcoming = self._next_wakeup()
        except Exception:
            log.exception("could not read the next due time")
            return
        if upcoming is not None:
            self._move(WAKE_JOB, max(upcoming, self._clock()), only_earlier=True)

    # --- poller -------------------------------------------------------------------------
    def poll_now(self) -> None:
        """Poll at once (the Poll now menu item, a changed interval or provider)."""
        self._move(POLL_JOB, self._clock(), only_earlier=True)

    def poll_delay(self) -> timedelta:
        """The wait before the next poll: the interval, doubled per failure up to 5 minutes."""
        base = timedelta(seconds=max(5.0, float(self._poll_interval())))
        if self._poll_failures:
            return min(MAX_POLL_BACKOFF, base * int(2 ** min(self._poll_failures, 6)))
        return base

    def _schedule_poll(self, delay: timedelta) -> None:
        self._move(POLL_JOB, self._clock() + delay, only_earlier=False)

    def _run_poll(self) -> None:
        if not self._enter("poll"):
            return
        self._job_started()
        try:
            again = True
            while again:
                self._poll_once()
                again = self._leave("poll") and self.running
            self._schedule_poll(self.poll_delay())
        finally:
            self._job_ended()

    def _poll_once(self) -> None:
        assert self._poll is not None
        try:
            report = self._poll()
        except Exception as exc:
            log.exception("poll failed")
            self._poll_failures += 1
            if self._on_error:
                self._on_error("poll", exc)
        else:
            self._poll_failures = 0 if self._poll_ok(report) else self._poll_failures + 1
            if self._on_polled:
                self._on_polled(report)
