"""Texts to many clients in the main window (docs/templates.md): Cases → Text selected…, and
the batches with their progress above SMS → Queue (cancel a batch while its texts wait)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.batches import BatchProgress
from desktop_sms.services.container import Services
from desktop_sms.ui.dialogs.batch_dialog import BatchDialog
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.windows.main_window import MainWindow


def progress_text(p: BatchProgress) -> str:
    """'Batch 3: 12 of 40 sent, 2 skipped — 28 waiting, done about 3:41 PM'."""
    text = p.label
    if p.canceled_at is not None and not p.waiting:
        return text + " — canceled"
    if p.waiting and p.estimated_finish is not None:
        finish = p.estimated_finish.astimezone()
        hour = finish.hour % 12 or 12
        text += (f" — {p.waiting} waiting, done about {hour}:{finish.minute:02d} "
                 f"{'AM' if finish.hour < 12 else 'PM'}")
    return text


class BatchesPanel(QGroupBox):
    """Recent batches with progress; Cancel batch cancels every text still waiting."""

    refreshed = Signal()

    def __init__(self, services: Services, actor: Any, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__("Batches", parent)
        self.services, self.actor, self.runner = services, actor, runner
        self.rows: list[BatchProgress] = []
        self.list = QListWidget()
        self.list.setAccessibleName("Batches")
        self.list.setMaximumHeight(110)
        self.cancel_button = QPushButton("Cancel &batch")
        self.cancel_button.setEnabled(False)
        self.error = ErrorLabel()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.error)
        layout.addLayout(row)
        self.list.currentRowChanged.connect(self._selection)
        self.cancel_button.clicked.connect(self.cancel_current)

    def refresh(self) -> None:
        self.runner.run(self.services.batches.progress, on_success=self._loaded,
                        on_failure=lambda exc: self.error.show_error(str(exc)))

    def _loaded(self, rows: Any) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        current = self.list.currentRow()
        self.rows = list(rows)
        self.list.clear()
        for p in self.rows:
            self.list.addItem(QListWidgetItem(progress_text(p)))
        if 0 <= current < len(self.rows):
            self.list.setCurrentRow(current)
        self.setVisible(bool(self.rows))
        self._selection(self.list.currentRow())
        self.refreshed.emit()

    def _selection(self, index: int) -> None:
        self.cancel_button.setEnabled(0 <= index < len(self.rows)
                                      and self.rows[index].waiting > 0)

    def cancel_current(self) -> None:
        index = self.list.currentRow()
        if not 0 <= index < len(self.rows):
            return
        self.runner.run(self.services.batches.cancel, self.actor, self.rows[index].id,
                        on_success=lambda _n: self._changed(),
                        on_failure=lambda exc: self.error.show_error(str(exc)))

    def _changed(self) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        window = self.window()
        if isinstance(window, MainWindow):
            window.background.outbound_changed.emit()
        self.refresh()


class BulkUi(QObject):
    """The window's batch pieces: the Text selected… button and the batches panel."""

    def __init__(self, window: MainWindow, queue_page: QWidget | None) -> None:
        super().__init__(window)
        self.setObjectName("bulkUi")
        self.window = window
        self.dialog: BatchDialog | None = None
        self.panel: BatchesPanel | None = None
        cases = window.cases_page
        cases.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.text_selected_button = QPushButton("&Text selected…")
        self.text_selected_button.setToolTip("One text to the selected cases (or, with none "
                                             "selected, to every case the filter finds)")
        self.text_selected_button.setVisible(window.actor.sms_access)
        self.text_selected_button.clicked.connect(self.open_batch_dialog)
        bar = cases.layout().itemAt(1)  # the filter bar: heading, bar, table
        if bar is not None and bar.layout() is not None:
            bar.layout().addWidget(self.text_selected_button)  # type: ignore[union-attr]
        if queue_page is not None and window.actor.sms_access:
            self.panel = BatchesPanel(window.services, window.actor, window.runner)
            self.panel.setVisible(False)
            layout = queue_page.layout()
            if isinstance(layout, QVBoxLayout):
                layout.insertWidget(0, self.panel)
            window.background.outbound_changed.connect(self.panel.refresh)
            self.panel.refresh()

    def selected_matter_ids(self) -> list[int]:
        cases = self.window.cases_page
        model = cases.table.selectionModel()
        rows = sorted({i.row() for i in model.selectedRows()}) if model is not None else []
        ids = [cases.model.matter_id_at(r) for r in rows]
        return [i for i in ids if i is not None]

    def open_batch_dialog(self) -> BatchDialog:
        """The selected cases, or every case matching the filter when none is selected."""
        window = self.window
        ids = self.selected_matter_ids()
        dialog = BatchDialog(window.services, window.actor, window.runner, ids,
                             "" if ids else window.cases_page.filter_edit.text().strip(),
                             parent=window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.batch_sent.connect(lambda _r: window.background.outbound_changed.emit())
        dialog.destroyed.connect(self._forget)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget(self, *_args: Any) -> None:
        self.dialog = None


def install_bulk(window: MainWindow, queue_page: QWidget | None) -> BulkUi:
    """Add the batch UI once (calling again returns the installed one)."""
    found = window.findChild(BulkUi, "bulkUi")
    return found if found is not None else BulkUi(window, queue_page)
