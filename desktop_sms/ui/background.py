"""Qt side of the background work: turns the alarm clock's callbacks into signals.

The dispatcher and the poller run on the scheduler's worker threads (scheduling/alarm.py);
their callbacks only emit these signals, which Qt delivers on the GUI thread (queued
connections), where views refresh. No widget is touched off the GUI thread.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class BackgroundBridge(QObject):
    """Signals every view can listen to, whether or not background work is running."""

    outbound_changed = Signal()  # a text was queued, sent, failed, canceled, refreshed
    inbound_changed = Signal(object)  # PollReport: replies stored/filed, media fetched
    polled = Signal(object)  # PollReport after every poll (status bar)
    dispatched = Signal(object)  # DispatchReport
    error = Signal(str, str)  # (what: "poll" / "dispatch", a sentence)

    def report_dispatch(self, report: Any) -> None:
        """Called on a worker thread after a dispatcher run."""
        self.dispatched.emit(report)
        if getattr(report, "changed", True):
            self.outbound_changed.emit()

    def report_poll(self, report: Any) -> None:
        """Called on a worker thread after a poll."""
        self.polled.emit(report)
        if (getattr(report, "new_inbound_ids", None) or getattr(report, "media_completed_ids", None)
                or getattr(report, "set_aside_sids", None)):
            self.inbound_changed.emit(report)
        if getattr(report, "updated_outbound_ids", None):
            self.outbound_changed.emit()

    def report_error(self, what: str, exc: BaseException) -> None:
        """Called on a worker thread when a run raised."""
        self.error.emit(what, f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
