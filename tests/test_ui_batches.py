"""pytest-qt: the compose dialog's template picker, Text selected… with its preview, the
batches panel on SMS → Queue, and Preferences → Templates."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.db.models import OutboundMessage
from desktop_sms.services.matters import MatterInput
from desktop_sms.ui.bulk_integration import BulkUi
from desktop_sms.ui.dialogs.compose_dialog import ComposeDialog
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import Office
from tests.helpers.ui_office import outbound_ui_of, second_matter


def _compose(qtbot: QtBot, window: MainWindow, matter_id: int) -> ComposeDialog:
    view = window.open_matter(matter_id)
    qtbot.waitExposed(view)
    view.send_sms_action.trigger()
    dialog = outbound_ui_of(window).compose_dialogs[matter_id]
    qtbot.waitExposed(dialog)
    return dialog

def test_the_template_picker_fills_the_text_for_the_case(qtbot: QtBot, ui_office: Office,
                                                         window: MainWindow) -> None:
    svc = ui_office.services
    svc.templates.save(ui_office.admin, "Closed", "Hi {client_first_name}, court is closed.")
    svc.settings.set(ui_office.admin, "office_name", "")  # the default is "our law office"
    svc.templates.save(ui_office.admin, "Signed", "Thanks, {office_name}")  # no office name
    dialog = _compose(qtbot, window, ui_office.matter_id)
    qtbot.waitUntil(lambda: dialog.template_combo.count() == 3)
    with qtbot.waitSignal(dialog.template_applied) as applied:
        dialog.template_combo.setCurrentIndex(1)
        dialog.template_combo.activated.emit(1)
    assert applied.args == [True]
    assert dialog.body() == "Hi Maria, court is closed."
    assert dialog.counter_label.text() == "26 characters · GSM-7 · 1 segment"
    with qtbot.waitSignal(dialog.template_applied) as applied:
        dialog.template_combo.setCurrentIndex(2)
        dialog.template_combo.activated.emit(2)
    assert applied.args == [False]
    assert dialog.template_error.text() == ("This template can't be used for this client: "
                                            "office name is empty.")
    assert dialog.body() == "Hi Maria, court is closed."  # nothing with a gap replaced it

def test_text_selected_previews_skips_sends_and_the_batch_can_be_canceled(
        qtbot: QtBot, ui_office: Office, window: MainWindow) -> None:
    svc = ui_office.services
    second_matter(ui_office, "Bob Jones")
    svc.matters.save(ui_office.admin, MatterInput("25-000003", "Nell Noconsent", "intake",
                                                  mobile="(212) 555-0125",
                                                  intake_date=ui_office.clock().date()))
    window.show_page("Cases")
    cases = window.cases_page
    cases.refresh()
    qtbot.waitUntil(lambda: cases.model.rowCount() == 3)
    cases.table.selectAll()
    bulk = window.findChild(BulkUi, "bulkUi")
    assert bulk is not None and bulk.text_selected_button.isVisible()
    qtbot.mouseClick(bulk.text_selected_button, Qt.MouseButton.LeftButton)
    dialog = bulk.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.scope_label.text() == "3 cases"
    qtbot.keyClicks(dialog.body_edit, "Court is closed tomorrow, {client_first_name}.")
    with qtbot.waitSignal(dialog.preview_ready):
        qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    texts = {dialog.sending_table.item(r, 0).text(): (dialog.sending_table.item(r, 3).text(),
                                                      dialog.sending_table.item(r, 4).text())
             for r in range(dialog.sending_table.rowCount())}
    assert texts == {"25-000001": ("1", "Court is closed tomorrow, Maria."),
                     "25-000002": ("1", "Court is closed tomorrow, Bob.")}
    assert [(dialog.skipped_table.item(r, 0).text(), dialog.skipped_table.item(r, 2).text())
            for r in range(dialog.skipped_table.rowCount())] == [("25-000003", "no consent")]
    assert dialog.summary.text() == "2 text(s), 2 segment(s); 1 skipped."

    dialog.schedule_radio.setChecked(True)
    assert dialog.send_button.isEnabled()
    with qtbot.waitSignal(dialog.batch_sent) as sent:
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    result = sent.args[0]
    assert sorted((line.case, line.status) for line in result.lines) == [
        ("25-000001", "scheduled"), ("25-000002", "scheduled"), ("25-000003", "skipped")]

    panel = bulk.panel
    assert panel is not None
    qtbot.waitUntil(lambda: panel.list.count() == 1)
    assert panel.list.item(0).text().startswith("Batch 1: 0 of 2 sent, 1 skipped — 2 waiting")
    panel.list.setCurrentRow(0)
    assert panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.list.count() == 1
                    and panel.list.item(0).text().endswith("— canceled"))
    ui_office.clock.advance(hours=2)
    assert svc.dispatcher.run_due().sent == []
    with svc.db.session() as s:
        assert set(s.scalars(select(OutboundMessage.state))) == {"canceled"}

def test_preferences_templates_page_saves_and_refuses(qtbot: QtBot, ui_office: Office,
                                                      window: MainWindow) -> None:
    from desktop_sms.ui.admin_integration import AdminIntegration

    admin_window = window
    admin_window.actor = ui_office.admin  # the page is for administrators
    found = admin_window.findChild(AdminIntegration)
    assert found is not None
    dialog = found.open_preferences()
    page = dialog.templates
    assert page is not None
    dialog.show_page("Templates")
    page.set_editable(True)
    page.name_edit.setText("Closed")
    page.body_edit.setPlainText("Hi {client_nick}")
    qtbot.mouseClick(page.save_template_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.template_error.isVisible())
    assert "{client_nick}, which is not a merge field" in page.template_error.text()
    page.body_edit.setPlainText("Hi {client_first_name}")
    with qtbot.waitSignal(page.templates_changed):
        qtbot.mouseClick(page.save_template_button, Qt.MouseButton.LeftButton)
    assert [t.name for t in ui_office.services.templates.list()] == ["Closed"]
    assert page.list.count() == 1
    dialog.close()


def test_the_event_dialog_sets_client_reminders_and_shows_their_status(
        qtbot: QtBot, ui_office: Office, window: MainWindow) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from PySide6.QtWidgets import QDialogButtonBox

    from desktop_sms.ui.calendar_integration import CalendarIntegration

    ny = ZoneInfo("America/New_York")
    svc = ui_office.services
    svc.calendar.tz = ny
    svc.templates.save(ui_office.admin, "Hearing", "Hearing {event_date} {event_time}, "
                                                   "{client_first_name}.")
    integration = window.findChild(CalendarIntegration)
    assert integration is not None
    view = window.open_matter(ui_office.matter_id)
    qtbot.waitExposed(view)
    view.add_event_action.trigger()
    dialog = integration.dialog
    assert dialog is not None and dialog.client_offsets_edit.isVisible()
    qtbot.keyClicks(dialog.title_edit, "Hearing")
    dialog.set_start(datetime(2026, 3, 4, 9, 30, tzinfo=ny))
    dialog.client_template_combo.setCurrentIndex(1)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    dialog.client_offsets_edit.setText("soon")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "not a reminder offset" in dialog.error.text()
    assert svc.calendar.for_matter(ui_office.matter_id) == []  # nothing stored
    dialog.client_offsets_edit.setText("1d,2h")
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    item_id = saved.args[0]
    lines = svc.client_reminders.for_item(item_id)
    assert [(x.description, x.status) for x in lines] == [("1 day before", "scheduled"),
                                                          ("2 hours before", "scheduled")]
    with svc.db.session() as s:
        bodies = set(s.scalars(select(OutboundMessage.body)))
    assert bodies == {"Hearing Wed Mar 4 9:30 AM, Maria."}

    # The case's Tasks & events tab lists them with their status.
    tab = view.tab("Tasks & events")
    assert tab is not None
    tab.refresh()  # type: ignore[attr-defined]
    tree = tab.tree  # type: ignore[attr-defined]
    top = tree.topLevelItem(0)
    children = [(top.child(i).text(1), top.child(i).text(3)) for i in range(top.childCount())]
    assert ("Client reminder 1 day before", "scheduled") in children
    assert ("Client reminder 2 hours before", "scheduled") in children

    edit = integration.open_item_dialog(item_id=item_id)
    assert edit.client_offsets_edit.text() == "1d,2h"
    assert edit.client_status.text().splitlines() == [
        "Client reminder 1 day before: scheduled", "Client reminder 2 hours before: scheduled"]
    edit.close()
