"""The one background runner: work off the GUI thread, results back on it by a queued signal.

Shaped like Anki's ``QueryOp``: ``runner.run(fn, *args, on_success=..., on_failure=...)``.
The work function runs on a pool thread and must never touch a widget; the callbacks run on
the GUI thread. With ``on_progress`` the work function is also given a ``progress=`` keyword
argument, a thread-safe callable whose arguments reach ``on_progress`` on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from desktop_sms.db.errors import describe_error, is_database_error
from desktop_sms.services.access import AccountDeactivated

log = logging.getLogger(__name__)

SuccessCallback = Callable[[Any], None]
FailureCallback = Callable[[BaseException], None]
ProgressCallback = Callable[..., None]


@dataclass
class _Callbacks:
    on_success: SuccessCallback | None
    on_failure: FailureCallback | None
    on_progress: ProgressCallback | None


class _Job(QRunnable):
    """One call of a work function on a pool thread; reports through the runner's signals."""

    def __init__(self, runner: TaskRunner, job_id: int, fn: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the Python object alive until delivery
        self._runner = runner
        self._job_id = job_id
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def run(self) -> None:
        """Call the work function; never raises into Qt."""
        try:
            result = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # every failure is reported, none is lost
            self._runner._finished.emit(self._job_id, False, exc)
        else:
            self._runner._finished.emit(self._job_id, True, result)


class TaskRunner(QObject):
    """Runs slow or network work on a thread pool and delivers results on the GUI thread."""

    task_failed = Signal(str)  # a failure nobody handled: the status bar shows it
    # any task refused because the signed-in account was deactivated (services/access.py),
    # whether or not the task had its own on_failure: the main window signs out on it
    account_deactivated = Signal(str)
    busy_changed = Signal(bool)

    _finished = Signal(int, bool, object)
    _progress = Signal(int, object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._lock = threading.Lock()
        self._next_id = 0
        self._jobs: dict[int, tuple[_Job, _Callbacks]] = {}
        self._closed = False
        # Queued: the slots run on this object's (the GUI) thread whichever thread emits.
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._progress.connect(self._deliver_progress, Qt.ConnectionType.QueuedConnection)

    @property
    def is_closed(self) -> bool:
        """True once `shutdown` was called: `run` then starts nothing."""
        return self._closed

    def run(self, fn: Callable[..., Any], *args: Any, on_success: SuccessCallback | None = None,
            on_failure: FailureCallback | None = None,
            on_progress: ProgressCallback | None = None, **kwargs: Any) -> int:
        """Start fn(*args, **kwargs) on a pool thread; returns a job id.

        After `shutdown` (the window is closing) nothing is started and -1 is returned: a
        debounce or refresh timer that fires while the window closes has no one left to
        answer, and must not raise into Qt's event loop.
        """
        if self._closed:
            log.debug("task %s not started: the runner is shut down",
                      getattr(fn, "__qualname__", "?"))
            return -1
        with self._lock:
            self._next_id += 1
            job_id = self._next_id
        if on_progress is not None:
            kwargs["progress"] = self._progress_reporter(job_id)
        job = _Job(self, job_id, fn, args, kwargs)
        was_idle = not self._jobs
        self._jobs[job_id] = (job, _Callbacks(on_success, on_failure, on_progress))
        if was_idle:
            self.busy_changed.emit(True)
        self._pool.start(job)
        return job_id

    def is_busy(self) -> bool:
        """True while any job has not yet delivered its result."""
        return bool(self._jobs)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Refuse new work, drop queued jobs and wait for running ones; True if all finished."""
        self._closed = True
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)

    def _progress_reporter(self, job_id: int) -> Callable[..., None]:
        def report(*values: Any) -> None:
            self._progress.emit(job_id, values)
        return report

    @Slot(int, object)
    def _deliver_progress(self, job_id: int, values: tuple[Any, ...]) -> None:
        entry = self._jobs.get(job_id)
        if entry is not None and entry[1].on_progress is not None:
            entry[1].on_progress(*values)

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, payload: Any) -> None:
        entry = self._jobs.pop(job_id, None)
        if not self._jobs:
            self.busy_changed.emit(False)
        if entry is None or self._closed:
            return  # after shutdown the views are closing: their callbacks must not start work
        callbacks = entry[1]
        if ok:
            if callbacks.on_success is not None:
                callbacks.on_success(payload)
            return
        if isinstance(payload, AccountDeactivated):
            self.account_deactivated.emit(str(payload))
        if callbacks.on_failure is not None:
            callbacks.on_failure(payload)
            return
        log.error("background task failed: %s", type(payload).__name__)
        if is_database_error(payload):
            self.task_failed.emit(describe_error(payload))  # never the SQL: it may quote a body
        else:
            self.task_failed.emit(str(payload) or type(payload).__name__)
