"""SMS → Queue: texts waiting to go out (or that could not), with Cancel and Send now (docs/product.md F3).

Reads run on the background runner; the page refreshes when outbound messages change and
every few seconds while it is shown. Cancelling asks first, then reports for each text whether
it was canceled or why not (a text already sending or sent cannot be canceled).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, NotFound, ServiceError
from desktop_sms.services.container import Services
from desktop_sms.services.outbound import CancelOutcome, OutboundService, QueueRow
from desktop_sms.ui.models.queue_model import COLUMNS, QueueTableModel
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.view_state import remember_header
from desktop_sms.ui.widgets.error_label import ErrorLabel

REFRESH_INTERVAL_MS = 10_000
FILTER_DELAY_MS = 250
COLUMN_WIDTHS = (125, 80, 125, 95, 150, 120, 160)


def load_queue(services: Services, mine_user_id: int | None, case_text: str,
               sort: str = "Send time", descending: bool = False) -> list[QueueRow]:
    """The queue for the page's filters, ordered by the query (runs on a pool thread; no
    widgets here).

    An exact case number filters in the database; anything else matches case numbers that
    contain the text. sort / descending: as OutboundService.queue.
    """
    case_text = case_text.strip()
    order: dict[str, Any] = {"sort": sort, "descending": descending}
    if not case_text:
        return services.outbound.queue(mine_user_id=mine_user_id, **order)
    try:
        matter = services.matters.by_number(case_text)
    except NotFound:
        needle = case_text.lower()
        return [r for r in services.outbound.queue(mine_user_id=mine_user_id, **order)
                if r.case_number and needle in r.case_number.lower()]
    return services.outbound.queue(mine_user_id=mine_user_id, matter_id=matter.id, **order)


def load_queue_page(services: Services, mine_user_id: int | None, case_text: str,
                    sort: str = "Send time",
                    descending: bool = False) -> tuple[list[QueueRow], str]:
    """The queue (as load_queue) and the default region its numbers are shown for."""
    return (load_queue(services, mine_user_id, case_text, sort, descending),
            str(services.settings.get("default_region")))


def send_missed(outbound: OutboundService, actor: Actor,
                ids: list[int]) -> list[tuple[int, str | None]]:
    """Re-queue each missed message; (id, None) when queued, (id, sentence) when refused."""
    results: list[tuple[int, str | None]] = []
    for message_id in ids:
        try:
            outbound.send_missed_now(actor, message_id)
        except ServiceError as exc:
            results.append((message_id, str(exc)))
        else:
            results.append((message_id, None))
    return results


def describe(row: QueueRow | None, message_id: int) -> str:
    """'Maria Garcia (25-000001), 2026-03-02 10:15' for reports; the id if the row is gone."""
    if row is None:
        return f"Message {message_id}"
    who = row.client_name or row.to
    case = f" ({row.case_number})" if row.case_number else ""
    return f"{who}{case}, {row.send_at.astimezone().strftime('%Y-%m-%d %H:%M')}"


class QueuePage(QWidget):
    """The Queue tab of the SMS page."""

    refreshed = Signal()
    messages_changed = Signal()  # this page canceled or re-queued texts
    action_finished = Signal(str)  # the report shown after Cancel / Send now
    open_matter_requested = Signal(int)

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queuePage")
        self._services = services
        self._actor = actor
        self._runner = runner
        self._refreshing = False
        self._refresh_again = False
        self._busy = False
        self.confirm_box: QMessageBox | None = None

        self.mine_checkbox = QCheckBox("&My texts only")
        self.mine_checkbox.setToolTip("Only texts you wrote")
        self.mine_checkbox.setEnabled(actor.user_id is not None)
        self.case_filter = QLineEdit()
        self.case_filter.setPlaceholderText("Filter by case number")
        self.case_filter.setClearButtonEnabled(True)
        self.case_filter.setAccessibleName("Filter by case number")
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.refresh_button = QPushButton("&Refresh")
        self.cancel_button = QPushButton("&Cancel selected…")
        self.send_now_button = QPushButton("Send &now")
        self.send_now_button.setToolTip("Send the selected missed texts now")

        self.model = QueueTableModel(self)
        self.table = QTableView()
        self.table.setAccessibleName("Queue")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        # A header click sorts by the query (OutboundService.queue); widths and order kept.
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(COLUMNS.index("Send time"), Qt.SortOrder.AscendingOrder)
        remember_header(header, "queue")
        header.sortIndicatorChanged.connect(lambda _c, _o: self.refresh())

        self.result_label = QLabel()
        self.result_label.setObjectName("resultLabel")
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setVisible(False)
        self.error = ErrorLabel()

        bar = QHBoxLayout()
        bar.addWidget(self.case_filter, 1)
        bar.addWidget(self.mine_checkbox)
        bar.addSpacing(12)
        bar.addWidget(self.count_label)
        bar.addStretch(0)
        bar.addWidget(self.refresh_button)
        actions = QHBoxLayout()
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.send_now_button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.result_label)
        layout.addWidget(self.error)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.refresh)
        self.case_filter.textChanged.connect(lambda _t: self._filter_timer.start())
        self.mine_checkbox.toggled.connect(lambda _on: self.refresh())
        self.refresh_button.clicked.connect(self.refresh)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.send_now_button.clicked.connect(self.send_selected_now)
        self.table.doubleClicked.connect(self._open_index)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(lambda _s, _d: self._update_buttons())

        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(REFRESH_INTERVAL_MS)
        self.refresh_timer.timeout.connect(self._periodic_refresh)
        self.refresh_timer.start()
        self._update_buttons()
        self.refresh()

    # --- loading -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the queue again for the current filters (off the GUI thread)."""
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        mine = self._actor.user_id if self.mine_checkbox.isChecked() else None
        header = self.table.horizontalHeader()
        section = header.sortIndicatorSection()
        column = COLUMNS[section] if 0 <= section < len(COLUMNS) else "Send time"
        self._runner.run(load_queue_page, self._services, mine, self.case_filter.text(),
                         column, header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder,
                         on_success=self._on_loaded, on_failure=self._on_load_failed)

    def _periodic_refresh(self) -> None:
        if self.isVisible():
            self.refresh()

    def _on_loaded(self, loaded: tuple[list[QueueRow], str]) -> None:
        self._refreshing = False
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()
            return
        rows, region = loaded
        selected = set(self.selected_ids())
        self.model.set_rows(rows, region)
        self.select_ids([r.id for r in rows if r.id in selected])
        self.count_label.setText("1 text" if len(rows) == 1 else f"{len(rows):,} texts")
        self.error.show_error(None)
        self._update_buttons()
        self.refreshed.emit()

    def _on_load_failed(self, exc: BaseException) -> None:
        self._refreshing = False
        self._refresh_again = False
        self.error.show_error(f"The queue could not be read: {exc}")
        self.refreshed.emit()

    # --- selection -----------------------------------------------------------------------
    def selected_rows(self) -> list[QueueRow]:
        """The selected messages, in table order."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [r for r in (self.model.row_at(i) for i in rows) if r is not None]

    def selected_ids(self) -> list[int]:
        """The ids of the selected messages."""
        return [r.id for r in self.selected_rows()]

    def select_ids(self, ids: list[int]) -> None:
        """Select these messages (those in the table), replacing the selection."""
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for message_id in ids:
            row = self.model.row_of(message_id)
            if row >= 0:
                selection.select(self.model.index(row, 0), self.model.index(row, last))
        self.table.selectionModel().select(
            selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._update_buttons()

    def _update_buttons(self) -> None:
        rows = self.selected_rows()
        self.cancel_button.setEnabled(bool(rows) and not self._busy)
        self.send_now_button.setEnabled(any(r.state == "missed" for r in rows) and not self._busy)

    def _open_index(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None and row.matter_id is not None:
            self.open_matter_requested.emit(row.matter_id)

    # --- cancel --------------------------------------------------------------------------
    def cancel_selected(self) -> QMessageBox | None:
        """Ask to cancel the selected texts (non-blocking); cancels them if the user agrees."""
        rows = self.selected_rows()
        if not rows:
            return None
        known = {r.id: r for r in rows}
        what = "this text" if len(rows) == 1 else f"these {len(rows)} texts"
        listing = "\n".join(f"• {describe(r, r.id)}" for r in rows[:10])
        if len(rows) > 10:
            listing += f"\n… and {len(rows) - 10} more"
        box = QMessageBox(QMessageBox.Icon.Question, "Cancel texts",
                          f"Cancel {what}? They will not be sent.\n\n{listing}",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText("Cancel texts")
        box.button(QMessageBox.StandardButton.No).setText("Keep them")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: QAbstractButton) -> None:
            self.confirm_box = None
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self._cancel(list(known), known)

        box.buttonClicked.connect(answered)
        self.confirm_box = box
        box.open()
        return box

    def _cancel(self, ids: list[int], known: dict[int, QueueRow]) -> None:
        self._set_busy(True)
        self._runner.run(self._services.outbound.cancel, self._actor, ids,
                         on_success=lambda outcomes: self._on_canceled(outcomes, known),
                         on_failure=self._on_action_failed)

    def _on_canceled(self, outcomes: list[CancelOutcome], known: dict[int, QueueRow]) -> None:
        done = [describe(known.get(o.id), o.id) for o in outcomes if o.canceled]
        refused = [f"{describe(known.get(o.id), o.id)}: {o.reason}"
                   for o in outcomes if not o.canceled]
        lines: list[str] = []
        if done:
            lines.append("Canceled: " + "; ".join(done) + ".")
        if refused:
            lines.append("Not canceled:")
            lines.extend(refused)
        self._report("\n".join(lines))

    # --- send now ------------------------------------------------------------------------
    def send_selected_now(self) -> None:
        """Queue the selected missed texts to go out now."""
        rows = [r for r in self.selected_rows() if r.state == "missed"]
        if not rows:
            return
        known = {r.id: r for r in rows}
        self._set_busy(True)
        self._runner.run(send_missed, self._services.outbound, self._actor, list(known),
                         on_success=lambda results: self._on_sent_now(results, known),
                         on_failure=self._on_action_failed)

    def _on_sent_now(self, results: list[tuple[int, str | None]],
                     known: dict[int, QueueRow]) -> None:
        done = [describe(known.get(i), i) for i, why in results if why is None]
        refused = [f"{describe(known.get(i), i)}: {why}" for i, why in results if why]
        lines: list[str] = []
        if done:
            lines.append("Sending now: " + "; ".join(done) + ".")
        if refused:
            lines.append("Not sent:")
            lines.extend(refused)
        self._report("\n".join(lines))

    # --- shared --------------------------------------------------------------------------
    def _report(self, text: str) -> None:
        self._set_busy(False)
        self.result_label.setText(text)
        self.result_label.setVisible(bool(text))
        self.messages_changed.emit()
        self.refresh()
        self.action_finished.emit(text)

    def _on_action_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        text = str(exc) if isinstance(exc, ServiceError) else f"That did not work: {exc}"
        self.error.show_error(text)
        self.refresh()
        self.action_finished.emit(text)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()
