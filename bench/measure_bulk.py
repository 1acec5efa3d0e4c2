"""Texts to many clients and the dispatcher's pace (docs/templates.md).

* ``bulk_queue_1000_s``: `BatchService.send` of one template to 1,000 matters (the tiny
  size has fewer; its time is scaled to 1,000), after a 5-recipient warm-up batch (both
  removed afterwards, so later parts never sample unsent texts):
  each text filled, checked (consent, number, opt-out, quiet hours, length) and inserted with
  its batch, in one call on SQLite.
* ``dispatch_paced_error_s``: with ``max_messages_per_second`` = 10, 50 due texts
  sent by one `Dispatcher.run_due()` to the in-process local server; the value is the
  relative error of the measured rate against 10 (0.05 = 5%); the rate is N - 1 intervals
  over the span between the first and the last provider call's start.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from bench.common import Figure
from bench.datagen import BenchData
from bench.measure_flow import _queue_due, _settle, local_office
from desktop_sms.db.models import Matter, OutboundBatch, OutboundMessage
from desktop_sms.services.common import SYSTEM

PACED_RATE = 10.0


def measure_bulk(data: BenchData, log: Any = print) -> list[Figure]:
    """Both figures, over the bench's SQLite database."""
    n = 1000  # the tiny size has fewer matters: the figure is scaled to 1,000
    figures: list[Figure] = []
    with local_office(data.url) as (services, _server):
        db = services.db
        with db.session() as s:
            ids = list(s.scalars(select(Matter.id).where(Matter.mobile_e164.is_not(None))
                                 .order_by(Matter.id).limit(n)))
        with db.engine.begin() as conn:
            conn.execute(update(Matter).where(Matter.id.in_(ids)).values(consent="yes"))
        services.settings.set(SYSTEM, "office_name", "Garcia & Lee")
        services.templates.save(SYSTEM, "bench closed",
                                "Hi {client_first_name}, the courthouse is closed tomorrow "
                                "({case_number}). {office_name}")
        # Warm-up (statements compiled, modules loaded), then canceled.
        services.batches.send(SYSTEM, ids[:5], template_name="bench closed")
        t0 = time.perf_counter()
        result = services.batches.send(SYSTEM, ids, template_name="bench closed")
        elapsed = time.perf_counter() - t0
        queued = sum(1 for line in result.lines if line.status == "queued")
        skipped = len(result.lines) - queued
        # Later parts (matching, the stall) sample sent texts: the bench's unsent ones go.
        with db.engine.begin() as conn:
            conn.execute(delete(OutboundMessage).where(OutboundMessage.batch_id.is_not(None)))
            conn.execute(delete(OutboundBatch))
        log(f"  bulk: {queued} queued, {skipped} skipped of {len(ids)} in {elapsed:.3f} s")
        figures.append(Figure("bulk_queue_1000_s", elapsed * 1000 / max(len(ids), 1), "s",
                              "<= 2 s", {"recipients": len(ids), "queued": queued,
                                         "skipped": skipped, "seconds": round(elapsed, 3)}))

        m = 50
        services.settings.set(SYSTEM, "max_messages_per_second", str(PACED_RATE))
        due = _queue_due(db, m, datetime.now(UTC) - timedelta(seconds=5), seed=17)
        starts: list[float] = []
        real_wait = services.dispatcher.pacer.wait_turn

        def timed_wait() -> float:
            waited = real_wait()
            starts.append(time.perf_counter())  # the provider call starts now
            return waited

        services.dispatcher.pacer.wait_turn = timed_wait  # type: ignore[method-assign]
        t0 = time.perf_counter()
        report = services.dispatcher.run_due()
        elapsed = time.perf_counter() - t0
        _settle(db, due)
        sent = len(report.sent)
        span = max(starts) - min(starts) if len(starts) > 1 else 0.0
        # The rate at which sends started: N - 1 intervals between the first and the last.
        rate = (len(starts) - 1) / span if span > 0 else 0.0
        error = abs(rate - PACED_RATE) / PACED_RATE
        with db.session() as s:
            left = s.scalar(select(OutboundMessage.id).where(OutboundMessage.id.in_(due),
                                                             OutboundMessage.state == "queued"))
        log(f"  paced: {sent}/{m} sent in {elapsed:.2f} s = {rate:.2f}/s at a pace of "
            f"{PACED_RATE:g}/s (error {error:.1%})")
        figures.append(Figure("dispatch_paced_error_s", error, "ratio", "<= 0.1",
                              {"messages": m, "sent": sent, "seconds": round(elapsed, 3),
                               "span_s": round(span, 3),
                               "measured_per_s": round(rate, 3), "pace_per_s": PACED_RATE,
                               "left_queued": left is not None}))
    return figures
