"""File → Import cases…: the dialog imports good rows in the background and lists bad lines."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_sms.services.importer import ImportResult
from desktop_sms.ui.windows.main_window import MainWindow

CSV = """case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username
26-700001,Nora Quinn,(212) 555-0171,,intake,2026-01-05,,pat
26-700002,Omar Reyes,212.555.0172,,open,2026-01-06,2026-01-20,sam
26-700003,Bad Stage,,,pending,2026-01-07,,
26-700004,Lena Park,+12125550174,,intake,2026-01-08,,
26-700005,,212 555 0175,,intake,2026-01-09,,
26-700006,Bad Date,,,intake,31/31/2026,,
"""


def test_import_dialog_imports_good_rows_and_lists_bad_lines(
        qtbot: QtBot, main_window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(CSV, encoding="utf-8-sig")  # a spreadsheet's "CSV UTF-8", with BOM
    model = main_window.cases_page.model
    before = model.rowCount()

    main_window.import_action.trigger()
    dialog = main_window.import_dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.import_button.isEnabled()
    dialog.set_path(path)
    with qtbot.waitSignal(dialog.import_finished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        assert dialog.is_running()
    result: ImportResult = blocker.args[0]

    assert (result.created, result.updated) == (3, 0)
    assert model.rowCount() == before + 3
    lines = dialog.error_lines()
    assert [line.split(":")[0] for line in lines] == ["Line 4", "Line 6", "Line 7"]
    assert "pending" in lines[0] and "client name" in lines[1] and "date" in lines[2]
    assert dialog.error_list.isVisible()
    assert dialog.progress.value() == dialog.progress.maximum()
    assert "3 new cases" in dialog.summary.text()

    # The case list shows the imported matters (filter by a phone form of one of them).
    main_window.cases_page.filter_edit.setText("212-555-0172")
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    assert model.data(model.index(0, 1)) == "Omar Reyes"

    # Importing the same file again updates instead of duplicating.
    main_window.cases_page.filter_edit.clear()
    with qtbot.waitSignal(dialog.import_finished, timeout=20_000) as again:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert (again.args[0].created, again.args[0].updated) == (0, 3)
    qtbot.waitUntil(lambda: model.rowCount() == before + 3)

    with qtbot.waitSignal(dialog.finished):
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)


def test_import_dialog_refuses_a_file_that_is_not_utf8(qtbot: QtBot, main_window: MainWindow,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("case_number,client_name\n26-1,José\n".encode("latin-1"))
    before = main_window.cases_page.model.rowCount()
    dialog = main_window.open_import_dialog()
    dialog.set_path(path)
    with qtbot.waitSignal(dialog.import_failed, timeout=20_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible()
    assert "not UTF-8" in dialog.error.text()
    assert main_window.cases_page.model.rowCount() == before
    assert dialog.import_button.isEnabled()
