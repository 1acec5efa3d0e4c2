"""The dispatcher's pace: never more than `max_messages_per_second` texts (docs/templates.md).

Twilio queues what a number can't send at once and answers 429 when its queue is full
(https://www.twilio.com/docs/api/errors/20429); sending no faster than the sender's rate (one a
second for a long code) keeps a normal batch clear of that. One Pacer is shared by all the
dispatcher's sending threads: each send reserves the next free slot, then waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Spaces calls at least 1/rate seconds apart across threads.

    Args:
        rate: calls per second (> 0).
        monotonic: seconds on a monotonic clock (injectable for tests).
        sleep: waits that many seconds (injectable for tests).
    """

    def __init__(self, rate: float = 1.0, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.monotonic = monotonic
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next: float | None = None
        self.rate = rate

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        if value <= 0:
            raise ValueError("the rate must be above zero")
        with self._lock:
            self._rate = float(value)
            self._interval = 1.0 / self._rate

    def wait_turn(self) -> float:
        """Block until this caller's slot; returns the seconds waited."""
        with self._lock:
            now = self.monotonic()
            slot = now if self._next is None or self._next <= now else self._next
            self._next = slot + self._interval
        delay = slot - now
        if delay > 0:
            self.sleep(delay)
        return max(delay, 0.0)
