"""The alarm clock: asked for its next wake-up time, waited on by events (no sleeping)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from desktop_sms.scheduling.alarm import BackgroundWork


def test_dispatcher_runs_at_start_then_is_set_for_the_next_due_time() -> None:
    due = datetime.now(UTC) + timedelta(hours=3)
    ran = threading.Event()
    work = BackgroundWork(dispatch=lambda: "report", next_wakeup=lambda: due,
                          on_dispatched=lambda r: ran.set())
    work.start()
    try:
        assert ran.wait(10), "the start-up run did not happen"
        assert work.next_wake_time() == due
        sooner = datetime.now(UTC) + timedelta(hours=1)
        work.wake(sooner)  # a message added for sooner moves the alarm earlier
        assert work.next_wake_time() == sooner
        work.wake(datetime.now(UTC) + timedelta(hours=2))  # a later one does not push it back
        assert work.next_wake_time() == sooner
    finally:
        work.shutdown()


def test_a_failing_dispatch_keeps_the_alarm_set_and_reports_the_error() -> None:
    due = datetime.now(UTC) + timedelta(hours=3)
    errors: list[str] = []
    seen = threading.Event()

    def boom() -> None:
        raise RuntimeError("database is locked")

    work = BackgroundWork(dispatch=boom, next_wakeup=lambda: due,
                          on_error=lambda kind, exc: (errors.append(kind), seen.set()))
    work.start()
    try:
        assert seen.wait(10)
        assert errors == ["dispatch"]
        assert work.next_wake_time() == due
    finally:
        work.shutdown()


def test_poll_backs_off_after_errors_and_recovers() -> None:
    results = iter([False, False, True])
    polled = threading.Event()
    work = BackgroundWork(dispatch=lambda: None, next_wakeup=lambda: None,
                          poll=lambda: next(results), poll_ok=lambda ok: bool(ok),
                          poll_interval=lambda: 20, on_polled=lambda r: polled.set())
    assert work.poll_delay() == timedelta(seconds=20)
    work._poll_failures = 2  # as after two failed polls
    assert work.poll_delay() == timedelta(seconds=80)
    work._poll_failures = 10
    assert work.poll_delay() == timedelta(minutes=5)
    work._poll_failures = 0
    work.start()
    try:
        assert polled.wait(10)
    finally:
        work.shutdown()
    assert work._poll_failures == 1  # the first poll reported an error


def test_a_wake_up_during_a_run_makes_it_go_once_more() -> None:
    """A text queued while the dispatcher runs must not wait for the next safety tick."""
    entered = threading.Event()
    release = threading.Event()
    runs: list[int] = []
    second_done = threading.Event()

    def dispatch() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            entered.set()
            release.wait(10)
        elif len(runs) == 2:
            second_done.set()

    work = BackgroundWork(dispatch=dispatch, next_wakeup=lambda: None)
    work.start()
    try:
        assert entered.wait(10)
        work.wake()  # arrives while the first run is still going
        release.set()
        assert second_done.wait(10), "the wake-up during the run was lost"
        assert len(runs) == 2
    finally:
        work.shutdown()
