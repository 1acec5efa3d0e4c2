"""GUI measurements, each in a fresh process (`python -m bench.gui_child WHAT …`).

The parent passes the wall-clock time it spawned this process in BENCH_SPAWN_T, so start-up
figures include the interpreter and every import. The result is one JSON line on stdout.
Run with QT_QPA_PLATFORM=offscreen (the parent sets it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

SPAWN_T = float(os.environ.get("BENCH_SPAWN_T") or time.time())
HEARTBEAT_MS = 5


def since_spawn() -> float:
    return time.time() - SPAWN_T


def rss_mb() -> float:
    """Resident memory now (VmRSS), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _first_paint(widget: Any, timeout_ms: int = 20_000) -> float | None:
    """Run the event loop until `widget` has been painted once; seconds since spawn."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    loop = QEventLoop()
    seen: dict[str, float] = {}

    class PaintWatch(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and "t" not in seen:
                # Take the time once this paint (and the data() calls it makes) has finished.
                QTimer.singleShot(0, lambda: (seen.setdefault("t", since_spawn()), loop.quit()))
            return False

    watch = PaintWatch()
    widget.installEventFilter(watch)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    widget.removeEventFilter(watch)
    return seen.get("t")


def _app_window(url: str) -> tuple[Any, Any, Any, dict[str, float]]:
    """Start like desktop_sms.app.run_gui does (no sign-in dialog: the admin acts)."""
    marks: dict[str, float] = {}
    from desktop_sms import app as app_module

    marks["imported_s"] = since_spawn()
    qapp = app_module._qt_application()
    db = app_module._open_database(url)
    marks["database_s"] = since_spawn()
    from bench.measure_flow import NoCredentials
    from desktop_sms.services.common import Actor
    from desktop_sms.services.container import build_services

    services = build_services(db, credentials=NoCredentials())
    actor = Actor(1, "admin", "admin", True)
    marks["services_s"] = since_spawn()
    window = app_module.build_main_window(services, actor)
    marks["window_built_s"] = since_spawn()
    return qapp, services, window, marks


def caselist(url: str, inputs: list[str], repeats: int) -> dict[str, Any]:
    """First rows painted, filter keystroke latency, RSS, on the Cases page."""
    qapp, services, window, marks = _app_window(url)
    page = window.cases_page
    window.show_page("Cases")  # Home is the first page after sign-in; this times the list
    window.show()
    painted = _first_paint(page.table.viewport())
    rows_cached = page.model.cached_row_count()
    rss_after_paint = rss_mb()
    per_input: dict[str, list[float]] = {text: [] for text in inputs}
    all_ms: list[float] = []
    for _ in range(repeats):
        for text in inputs:
            page.filter_edit.setText("")
            page.apply_filter()
            qapp.processEvents()
            t0 = time.perf_counter()
            page.filter_edit.setText(text)
            page.apply_filter()  # what the debounce timer calls when typing pauses
            page.table.viewport().repaint()  # paint the first rows now (their data() calls)
            ms = (time.perf_counter() - t0) * 1000
            per_input[text].append(ms)
            all_ms.append(ms)
    counts = {}
    for text in inputs:
        page.filter_edit.setText(text)
        page.apply_filter()
        counts[text] = page.model.rowCount()
    out = {"first_paint_s": painted, "rows_cached_at_paint": rows_cached,
           "rss_after_paint_mb": rss_after_paint, "rss_after_filters_mb": rss_mb(),
           "filter_ms": all_ms, "per_input_ms": per_input, "rows_per_input": counts,
           "total_rows": services.matters.count(), **marks}
    window.close()
    services.close()
    return out


def stall(url: str, n: int, latency_ms: int) -> dict[str, Any]:
    """Longest GUI event-loop gap while a poll of n replies runs in the background."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    from bench.common import OFFICE, SIZES
    from bench.datagen import BenchData, data_end_of
    from bench.measure_flow import FixedProviders, NoCredentials, inject_replies
    from desktop_sms import app as app_module
    from desktop_sms.db.database import Database
    from desktop_sms.providers.sandbox_server import SandboxServer
    from desktop_sms.providers.twilio_provider import TwilioProvider
    from desktop_sms.scheduling.alarm import BackgroundWork
    from desktop_sms.services.common import Actor
    from desktop_sms.services.container import build_services

    app_module._qt_application()
    server = SandboxServer(port=0, progress_delay=3600.0, incoming_numbers=[OFFICE]).start()
    sid, token = server.credentials
    provider = TwilioProvider(sid, token, api_base_url=server.base_url)
    db = Database(url)
    services = build_services(db, credentials=NoCredentials(),
                              providers=FixedProviders(lambda: provider))
    data = BenchData(url, SIZES["tiny"], data_end_of(url), 0.0)
    inject_replies(server, db, data, n, 0.0, seed=23)  # text only: see bench/README.md
    server.set_faults(latency_ms=latency_ms)
    window = app_module.build_main_window(services, Actor(1, "admin", "admin", True))
    window.show_page("Cases")
    window.show()
    _first_paint(window.cases_page.table.viewport())

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    heart = QTimer()
    heart.setTimerType(Qt.TimerType.PreciseTimer)
    heart.setInterval(HEARTBEAT_MS)
    heart.timeout.connect(beat)
    loop = QEventLoop()
    # Idle baseline: one second of heartbeat with nothing running.
    heart.start()
    QTimer.singleShot(1000, loop.quit)
    loop.exec()
    idle = gaps[1:]
    gaps.clear()
    reports: list[Any] = []
    window.background.polled.connect(lambda r: (reports.append(r), loop.quit()))
    work = BackgroundWork(dispatch=lambda: None, next_wakeup=lambda: None,
                          poll=services.poller.poll_once, poll_interval=lambda: 3600.0,
                          on_polled=window.background.report_poll,
                          on_error=window.background.report_error)
    t0 = time.perf_counter()
    last[0] = clock.nsecsElapsed()
    work.start()
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    poll_s = time.perf_counter() - t0
    heart.stop()
    work.shutdown()
    report = reports[0] if reports else None
    busy = gaps[1:]
    out = {
        "max_gap_ms": max(busy) if busy else None,
        "max_stall_ms": (max(busy) - HEARTBEAT_MS) if busy else None,
        "p99_gap_ms": sorted(busy)[int(len(busy) * 0.99)] if busy else None,
        "beats": len(busy), "idle_max_gap_ms": max(idle) if idle else None,
        "poll_s": poll_s, "filed": len(report.new_inbound_ids) if report else None,
        "errors": list(report.errors[:3]) if report else ["no poll report"],
        "latency_ms": latency_ms, "messages": n,
    }
    window.close()
    services.close()
    server.stop()
    return out


def coldstart_app(url: str) -> dict[str, Any]:
    qapp, services, window, marks = _app_window(url)
    window.show()
    shown = _first_paint(window)
    services.close()
    return {"shown_s": shown, **marks}


def coldstart_bare() -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication, QMainWindow

    qapp = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.resize(1180, 720)
    window.show()
    shown = _first_paint(window)
    del qapp
    return {"shown_s": shown}


def main(argv: list[str]) -> int:
    what = argv[0]
    if what == "caselist":
        result = caselist(argv[1], json.loads(argv[2]), int(argv[3]))
    elif what == "stall":
        result = stall(argv[1], int(argv[2]), int(argv[3]))
    elif what == "coldstart-app":
        result = coldstart_app(argv[1])
    elif what == "coldstart-bare":
        result = coldstart_bare()
    else:
        print(f"unknown measurement {what!r}", file=sys.stderr)
        return 2
    print("BENCH-RESULT " + json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
