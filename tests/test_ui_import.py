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
26-700003,Bad Stage,,,suspended,2026-01-07,,
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
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        dialog.set_path(path)
    with qtbot.waitSignal(dialog.import_finished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        assert dialog.is_running()
    result: ImportResult = blocker.args[0]

    assert (result.created, result.updated) == (3, 0)
    assert model.rowCount() == before + 3
    lines = dialog.error_lines()
    assert [line.split(":")[0] for line in lines] == ["Line 4", "Line 6", "Line 7"]
    assert "suspended" in lines[0] and "client name" in lines[1] and "date" in lines[2]
    assert dialog.error_list.isVisible()
    assert dialog.progress.value() == dialog.progress.maximum()
    assert "3 added, 0 updated, 3 skipped" in dialog.summary.text()

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


def test_import_dialog_refuses_a_file_it_cannot_read(qtbot: QtBot, main_window: MainWindow,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(b"case_number,client_name\n26-1,Ann\n" + b"\x81\x8d\x00\xff" * 40)
    before = main_window.cases_page.model.rowCount()
    dialog = main_window.open_import_dialog()
    with qtbot.waitSignal(dialog.import_failed, timeout=20_000):
        dialog.set_path(path)
    assert dialog.error.isVisible()
    assert "could not be read" in dialog.error.text()
    assert main_window.cases_page.model.rowCount() == before
    assert not dialog.import_button.isEnabled()


def test_import_dialog_maps_an_xlsx_export_through_the_mapping_step(
        qtbot: QtBot, main_window: MainWindow, tmp_path: Path) -> None:
    from tests.test_import_formats import XLSX_ROWS, xlsx_bytes

    path = tmp_path / "export.xlsx"
    path.write_bytes(xlsx_bytes(XLSX_ROWS))
    dialog = main_window.open_import_dialog()
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000) as shown:
        dialog.set_path(path)
    assert shown.args[0].unknown_stages == ("On Hold",)
    assert dialog.mapping_box.isVisible() and dialog.preview_table.isVisible()
    assert dialog.column_combos["case_number"].currentText() == "Matter Number"
    assert dialog.column_combos["mobile_phone"].currentText() == "Cell Phone"
    assert dialog.stage_combos["Active"].currentText() == "open"
    assert dialog.stage_combos["On Hold"].currentText() == "(as written)"
    assert "Choose a stage for On Hold" in dialog.summary.text()
    assert dialog.preview_rows()[0][:4] == ["2", "26-50", "Nora Quinn", "2125550150"]

    # The user picks a stage for "On Hold" and does not want home phones: the preview is read again.
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        dialog.set_stage("On Hold", "intake")
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        dialog.set_column("home_phone", "(not in the file)")
    assert "home_phone" not in dialog.options().columns
    assert dialog.options().stages["On Hold"] == "intake"
    dialog.save_name.setText("Clio export")
    qtbot.mouseClick(dialog.save_mapping_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.saved_combo.findText("Clio export") > 0, timeout=20_000)

    with qtbot.waitSignal(dialog.import_finished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    result: ImportResult = blocker.args[0]
    assert (result.created, result.errors) == (4, [])
    assert dialog.summary.text() == ("Import finished: 4 added, 0 updated, 0 skipped (read as an "
                                     "Excel workbook, sheet 'Matters').")
    assert not dialog.save_skipped_button.isVisible()
    saved = main_window.services.importer.saved_mapping("Clio export")
    assert saved.stages == {"On Hold": "intake", "Active": "open", "Pending": "intake",
                            "Declined": "rejected"}


def test_import_dialog_semicolon_csv_with_a_column_chosen_by_hand_and_skipped_lines_saved(
        qtbot: QtBot, main_window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "europe.csv"
    path.write_bytes(("Dossier;Client;Portable;Status;Intake Date\n"
                      "26-800001;Zoë Faure;(212) 555-0181;Intake;2026-01-05\n"
                      "26-800002;Marc Petit;not a phone;Pending;2026-01-06\n").encode("cp1252"))
    dialog = main_window.open_import_dialog()
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        dialog.set_path(path)
    assert "Windows-1252, semicolon-separated" in dialog.file_info.text()
    assert not dialog.import_button.isEnabled()  # "Dossier" is not a header we know
    assert "case_number" in dialog.summary.text()
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        dialog.set_column("case_number", "Dossier")
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        dialog.set_column("mobile_phone", "Portable")
    assert dialog.import_button.isEnabled()
    assert dialog.preview_rows()[0][1:3] == ["26-800001", "Zoë Faure"]
    with qtbot.waitSignal(dialog.import_finished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].created == 1
    assert "1 added, 0 updated, 1 skipped" in dialog.summary.text()
    assert dialog.error_lines()[0].startswith("Line 3:")
    assert dialog.save_skipped_button.isVisible()
    target = tmp_path / "skipped.csv"
    with qtbot.waitSignal(dialog.skipped_saved, timeout=20_000):
        dialog.save_skipped(target)
    text = target.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "line,reason" and text.splitlines()[1].startswith("3,")
