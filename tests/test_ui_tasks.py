"""The background runner: work off the GUI thread, results and progress back on it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop_sms.ui.tasks import TaskRunner


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[TaskRunner]:
    task_runner = TaskRunner()
    yield task_runner
    assert task_runner.shutdown(5000)


def test_work_runs_off_the_gui_thread_and_result_arrives_on_it(qtbot: QtBot,
                                                               runner: TaskRunner) -> None:
    gui_thread = threading.get_ident()
    seen: dict[str, object] = {}

    def work(a: int, b: int) -> int:
        seen["work_thread"] = threading.get_ident()
        return a + b

    def done(result: int) -> None:
        seen["result"] = result
        seen["callback_thread"] = threading.get_ident()

    with qtbot.waitSignal(runner.busy_changed, check_params_cb=lambda busy: not busy):
        runner.run(work, 2, 3, on_success=done)
    assert seen["result"] == 5
    assert seen["work_thread"] != gui_thread
    assert seen["callback_thread"] == gui_thread
    assert not runner.is_busy()


def test_failure_goes_to_on_failure_or_to_task_failed(qtbot: QtBot, runner: TaskRunner) -> None:
    errors: list[BaseException] = []

    def boom() -> None:
        raise ValueError("the provider answered garbage")

    with qtbot.waitSignal(runner.busy_changed, check_params_cb=lambda busy: not busy):
        runner.run(boom, on_failure=errors.append)
    assert [str(e) for e in errors] == ["the provider answered garbage"]

    with qtbot.waitSignal(runner.task_failed) as blocker:
        runner.run(boom)
    assert blocker.args == ["the provider answered garbage"]


def test_progress_is_delivered_on_the_gui_thread_in_order(qtbot: QtBot,
                                                          runner: TaskRunner) -> None:
    gui_thread = threading.get_ident()
    reports: list[tuple[int, int, bool]] = []

    def work(n: int, progress: Callable[[int, int], None]) -> str:
        for i in range(n):
            progress(i + 1, n)
        return "done"

    results: list[str] = []
    runner.run(work, 5, on_success=results.append,
               on_progress=lambda d, t: reports.append((d, t, threading.get_ident() == gui_thread)))
    qtbot.waitUntil(lambda: results == ["done"])
    assert reports == [(i, 5, True) for i in range(1, 6)]


def test_a_shut_down_runner_starts_no_new_work(runner: TaskRunner) -> None:
    """A timer that fires while the window closes submits work: nothing runs, nothing raises
    into Qt's event loop, and no callback comes."""
    ran: list[str] = []
    runner.shutdown()
    assert runner.is_closed
    job = runner.run(lambda: ran.append("work"), on_success=lambda _r: ran.append("success"),
                     on_failure=lambda _e: ran.append("failure"))
    assert job == -1
    assert runner.shutdown(1000)  # nothing was left running
    assert ran == []
