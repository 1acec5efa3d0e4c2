"""SMS → Received (docs/product.md F8): every received message newest first, with the cases it is filed
on and the rule; *needs review* for unmatched ones; Link to case… and Unlink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor
from desktop_sms.services.linking import LinkingService
from desktop_sms.services.received import (
    SORTABLE_COLUMNS,
    LinkInfo,
    ReceivedLog,
    ReceivedRow,
    SetAsideRow,
)
from desktop_sms.ui.dialogs.link_dialog import LinkDialog
from desktop_sms.ui.models.received_model import COLUMNS, ReceivedTableModel
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.view_state import remember_header
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.notes_pane import local_time

LINK_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_LIMIT = 1000
SEARCH_DELAY_MS = 250


@dataclass(frozen=True)
class ReceivedSnapshot:
    """One load of the log: the rows and the needs-review count."""

    rows: list[ReceivedRow]
    needs_review: int
    total: int
    set_aside: tuple[SetAsideRow, ...] = ()


def load_received(received: ReceivedLog, actor: Actor, needs_review_only: bool,
                  search: str = "", sort_column: str = "Received",
                  descending: bool = True) -> ReceivedSnapshot:
    """Read the log (on the runner), filtered by search and sorted by the query."""
    return ReceivedSnapshot(received.rows(actor=actor, needs_review_only=needs_review_only,
                                          limit=ROW_LIMIT, search=search,
                                          sort_column=sort_column, descending=descending),
                            received.needs_review_count(),
                            received.count(needs_review_only=needs_review_only, search=search),
                            tuple(received.set_aside_rows()))


TryAgain = Callable[[Actor, int], object]  # (acting user, set-aside id) → filed (raises if not)


def set_aside_line(row: SetAsideRow) -> str:
    """One line of the *could not be filed* list: when, who from, the reason (plain text)."""
    when = local_time(row.received_at) if row.received_at is not None else "date unknown"
    preview = " ".join(row.text.split())
    preview = preview if len(preview) <= 60 else preview[:59] + "…"
    return (f"{when} · from {row.from_display or 'unknown sender'} · could not be filed "
            f"({row.attempts} tries): {row.reason} · “{preview}”")


def _plain(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


class ReceivedPage(QWidget):
    """The Received tab of the SMS page."""

    refreshed = Signal()
    needs_review_count_changed = Signal(int)
    links_changed = Signal(object)  # list of matter ids whose notes / documents / log changed
    action_failed = Signal(str)

    def __init__(self, received: ReceivedLog, linking: LinkingService, runner: TaskRunner,
                 actor: Actor, parent: QWidget | None = None, *,
                 try_again: TryAgain | None = None) -> None:
        super().__init__(parent)
        self._try_again = try_again
        self.setObjectName("receivedPage")
        self._received = received
        self._linking = linking
        self._runner = runner
        self._actor = actor
        self._generation = 0
        self._pending_select: int | None = None
        self.needs_review_count = 0
        self.link_dialog: LinkDialog | None = None
        self.unlink_box: QMessageBox | None = None

        self.needs_review_only = QCheckBox("Needs review only")
        self.needs_review_only.toggled.connect(lambda _on: self.refresh())
        self.count_label = _plain("", "countLabel")
        self.link_button = QPushButton("Link to case…")
        self.link_button.clicked.connect(self.open_link_dialog)
        self.unlink_button = QPushButton("Unlink")
        self.unlink_button.setToolTip("Undo the selected link; its case note stays, marked "
                                      "withdrawn.")
        self.unlink_button.clicked.connect(self.confirm_unlink)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        # Search: text, sender's number or case number; typed words are searched by the query.
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("receivedSearch")
        self.search_edit.setPlaceholderText("Search text, number or case")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search received messages")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_edit.returnPressed.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.search_edit)
        top.addWidget(self.needs_review_only)
        top.addWidget(self.count_label, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.link_button)
        top.addWidget(self.unlink_button)

        self.model = ReceivedTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("receivedTable")
        self.table.setAccessibleName("Received messages")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COLUMNS.index("Text"), QHeaderView.ResizeMode.Stretch)
        for name, width in (("Received", 130), ("From", 130), ("Media", 60), ("Cases", 110),
                            ("Rule", 150), ("Review", 100)):
            self.table.setColumnWidth(COLUMNS.index(name), width)
        # Sorted by the query (ReceivedLog.rows), never by the view over the shown rows.
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(COLUMNS.index("Received"), Qt.SortOrder.DescendingOrder)
        self._sorted_by = ("Received", Qt.SortOrder.DescendingOrder)
        # Widths and sort order as last left; columns fit their contents only until then.
        self._fit_on_load = not remember_header(header, "received")
        section = header.sortIndicatorSection()
        if 0 <= section < len(COLUMNS) and COLUMNS[section] in SORTABLE_COLUMNS:
            self._sorted_by = (COLUMNS[section], header.sortIndicatorOrder())
        else:
            header.setSortIndicator(COLUMNS.index("Received"), Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._on_sort_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.table.doubleClicked.connect(lambda _i: self.open_link_dialog())

        # The selected message in full, and its links (select one to Unlink it).
        self.detail_heading = _plain("Select a message to see it in full.", "receivedDetail")
        self.detail_text = QPlainTextEdit()
        self.detail_text.setReadOnly(True)
        self.detail_text.setAccessibleName("Message text")
        self.links_list = QListWidget()
        self.links_list.setAccessibleName("Filed on")
        self.links_list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.error_label = _plain("", "errorLabel")
        self.error_label.setStyleSheet("color: #b42318;")
        self.error_label.hide()
        detail = QWidget()
        detail_col = QVBoxLayout(detail)
        detail_col.setContentsMargins(0, 0, 0, 0)
        detail_col.addWidget(self.detail_heading)
        row = QHBoxLayout()
        row.addWidget(self.detail_text, 3)
        links_col = QVBoxLayout()
        links_col.addWidget(QLabel("Filed on:"))
        links_col.addWidget(self.links_list)
        row.addLayout(links_col, 2)
        detail_col.addLayout(row)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        # Replies that could not be filed after a few tries (docs/set_aside.md).
        self.set_aside_box = QWidget()
        self.set_aside_box.setObjectName("setAsideBox")
        self.set_aside_label = _plain("", "setAsideLabel")
        self.set_aside_label.setStyleSheet("color: #b42318; font-weight: 600;")
        self.set_aside_list = QListWidget()
        self.set_aside_list.setObjectName("setAsideList")
        self.set_aside_list.setAccessibleName("Could not be filed")
        self.set_aside_list.setMaximumHeight(110)
        self.set_aside_list.setWordWrap(True)
        self.set_aside_list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.try_again_button = QPushButton("Try again")
        self.try_again_button.setObjectName("tryAgainButton")
        self.try_again_button.setToolTip("File the selected message again (administrators), "
                                         "once what stopped it has been put right.")
        self.try_again_button.clicked.connect(self.try_again_selected)
        self.try_again_button.setVisible(try_again is not None and actor.is_admin)
        aside_col = QVBoxLayout(self.set_aside_box)
        aside_col.setContentsMargins(0, 0, 0, 0)
        aside_head = QHBoxLayout()
        aside_head.addWidget(self.set_aside_label, 1)
        aside_head.addWidget(self.try_again_button)
        aside_col.addLayout(aside_head)
        aside_col.addWidget(self.set_aside_list)
        self.set_aside_box.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error_label)
        layout.addWidget(self.set_aside_box)
        layout.addWidget(splitter, 1)
        self._update_buttons()
        self.refresh()

    # --- loading -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the log again (on the runner); `refreshed` follows. The selection is kept."""
        self._generation += 1
        generation = self._generation
        selected = self.selected_message()
        if selected is not None and self._pending_select is None:
            self._pending_select = selected.id
        column, descending = self.sort_order()
        self._runner.run(load_received, self._received, self._actor,
                         self.needs_review_only.isChecked(), self.search_edit.text().strip(),
                         column, descending,
                         on_success=lambda snap: self._loaded(generation, snap),
                         on_failure=lambda exc: self._failed(generation, exc))

    def _on_sort_changed(self, section: int, _order: Qt.SortOrder) -> None:
        if COLUMNS[section] not in SORTABLE_COLUMNS:  # Cases, Rule: keep the previous order
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(COLUMNS.index(self._sorted_by[0]), self._sorted_by[1])
            header.blockSignals(False)
            return
        self._sorted_by = (COLUMNS[section], _order)
        self.refresh()

    def sort_order(self) -> tuple[str, bool]:
        """(column name, descending) of the header's sort indicator; a column the query
        cannot sort by (Cases, Rule) falls back to Received, newest first."""
        header = self.table.horizontalHeader()
        index = header.sortIndicatorSection()
        name = COLUMNS[index] if 0 <= index < len(COLUMNS) else "Received"
        if name not in SORTABLE_COLUMNS:
            return "Received", True
        return name, header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    def _loaded(self, generation: int, snap: ReceivedSnapshot) -> None:
        if not widget_alive(self) or generation != self._generation:
            return
        keep = self._pending_select
        self._pending_select = None
        self.model.set_rows(snap.rows)
        if self._fit_on_load and snap.rows:  # once; then the person's widths are kept
            self._fit_on_load = False
            self._fit_columns()
        shown = len(snap.rows)
        what = "need review" if self.needs_review_only.isChecked() else "received"
        text = f"{snap.total} {what}"
        if shown < snap.total:
            text += f" (newest {shown} shown)"
        if not self.needs_review_only.isChecked():
            text += f" · {snap.needs_review} need{'s' if snap.needs_review == 1 else ''} review"
        self.count_label.setText(text)
        self.error_label.hide()
        self._show_set_aside(snap.set_aside)
        if keep is not None:
            self.select_message(keep)
        self._on_selection()
        if snap.needs_review != self.needs_review_count:
            self.needs_review_count = snap.needs_review
            self.needs_review_count_changed.emit(snap.needs_review)
        self.refreshed.emit()

    def _fit_columns(self) -> None:
        """Size every column but Text (which stretches) to its contents and header, so
        "needs review" and long rule names are never cut off; the user may still drag them."""
        for column, name in enumerate(COLUMNS):
            if name != "Text":
                self.table.resizeColumnToContents(column)

    def _failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._generation:
            self._show_error(f"The Received Log could not be read: {exc}")
            self.refreshed.emit()

    # --- selection -----------------------------------------------------------------------
    def selected_message(self) -> ReceivedRow | None:
        """The message selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_message(self, inbound_id: int) -> bool:
        """Select a message by id; False when it is not listed."""
        row = self.model.row_of(inbound_id)
        if row < 0:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
        return True

    def selected_link(self) -> LinkInfo | None:
        """The link selected under "Filed on"."""
        item = self.links_list.currentItem()
        link = item.data(LINK_ROLE) if item is not None else None
        return link if isinstance(link, LinkInfo) else None

    def select_link(self, case_number: str) -> bool:
        """Select the selected message's link to a case; False when there is none."""
        for i in range(self.links_list.count()):
            link = self.links_list.item(i).data(LINK_ROLE)
            if isinstance(link, LinkInfo) and link.case_number == case_number:
                self.links_list.setCurrentRow(i)
                return True
        return False

    def _on_selection(self) -> None:
        msg = self.selected_message()
        self.links_list.clear()
        if msg is None:
            self.detail_heading.setText("Select a message to see it in full.")
            self.detail_text.setPlainText("")
        else:
            media = f" · {msg.media_count} attachment{'s' if msg.media_count != 1 else ''}" \
                if msg.media_count else ""
            if msg.media_note:
                media += f" · {msg.media_note}"
            review = " · needs review" if msg.needs_review else ""
            cut = " · truncated: the text was longer than 64 KB" if msg.truncated else ""
            self.detail_heading.setText(f"From {msg.from_display} to {msg.to_number}, "
                                        f"{local_time(msg.received_at)}{media}{review}{cut}")
            self.detail_text.setPlainText(msg.text)
            for link in msg.links:
                item = QListWidgetItem(f"{link.case_number} — {link.rule_label}")
                item.setData(LINK_ROLE, link)
                self.links_list.addItem(item)
            if len(msg.links) == 1:
                self.links_list.setCurrentRow(0)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.link_button.setEnabled(self.selected_message() is not None)
        self.unlink_button.setEnabled(self.selected_link() is not None)
        self.try_again_button.setEnabled(self.selected_set_aside() is not None)

    # --- could not be filed ----------------------------------------------------------------
    def _show_set_aside(self, rows: tuple[SetAsideRow, ...]) -> None:
        keep = self.selected_set_aside()
        self.set_aside_list.clear()
        for row in rows:
            item = QListWidgetItem(set_aside_line(row))
            item.setData(LINK_ROLE, row)
            self.set_aside_list.addItem(item)
            if keep is not None and keep.id == row.id:
                self.set_aside_list.setCurrentItem(item)
        n = len(rows)
        self.set_aside_label.setText(
            f"{n} repl{'y' if n == 1 else 'ies'} could not be filed"
            + ("" if self._actor.is_admin else " — an administrator can try again"))
        self.set_aside_box.setVisible(bool(rows))
        if rows and self.set_aside_list.currentItem() is None:
            self.set_aside_list.setCurrentRow(0)

    def set_aside_rows(self) -> list[SetAsideRow]:
        """The set-aside messages listed."""
        return [self.set_aside_list.item(i).data(LINK_ROLE)
                for i in range(self.set_aside_list.count())]

    def selected_set_aside(self) -> SetAsideRow | None:
        """The set-aside message selected in the *could not be filed* list."""
        item = self.set_aside_list.currentItem()
        row = item.data(LINK_ROLE) if item is not None else None
        return row if isinstance(row, SetAsideRow) else None

    def try_again_selected(self) -> None:
        """Try again to file the selected set-aside message (on the runner), then refresh."""
        row = self.selected_set_aside()
        if row is None or self._try_again is None:
            return
        self.try_again_button.setEnabled(False)
        self._runner.run(self._try_again, self._actor, row.id,
                         on_success=lambda _r: self._after_try_again(),
                         on_failure=self._on_action_failed)

    def _after_try_again(self) -> None:
        if not widget_alive(self):
            return
        self.refresh()
        self.links_changed.emit([])

    # --- Link to case… -------------------------------------------------------------------
    def open_link_dialog(self) -> LinkDialog | None:
        """Link to case… for the selected message (non-blocking dialog)."""
        msg = self.selected_message()
        if msg is None:
            return None
        dialog = LinkDialog(self._linking, self._runner, self._actor, msg, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.linked.connect(lambda _ids, m=msg, d=dialog: self._after_link(m, d.chosen_matter_ids()))
        self.link_dialog = dialog
        dialog.open()
        return dialog

    def _after_link(self, msg: ReceivedRow, matter_ids: list[int]) -> None:
        if not widget_alive(self):
            return
        self._pending_select = msg.id
        self.refresh()
        self.links_changed.emit(list(matter_ids))

    # --- Unlink --------------------------------------------------------------------------
    def confirm_unlink(self) -> QMessageBox | None:
        """Ask before undoing the selected link (non-blocking); Yes → unlink."""
        msg = self.selected_message()
        link = self.selected_link()
        if msg is None or link is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Question, "Unlink",
                          f"Unlink this message from case {link.case_number}?\n\n"
                          "The case note stays on the case, marked withdrawn.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self.unlink(link))
        self.unlink_box = box
        box.open()
        return box

    def unlink(self, link: LinkInfo) -> None:
        """Withdraw a link (on the runner), then refresh."""
        self.unlink_button.setEnabled(False)
        inbound_id = self._inbound_of(link)
        self._runner.run(self._linking.unlink, self._actor, link.link_id,
                         on_success=lambda _r: self._after_unlink(link, inbound_id),
                         on_failure=self._on_action_failed)

    def _inbound_of(self, link: LinkInfo) -> int | None:
        for r in self.model.rows():
            if any(lk.link_id == link.link_id for lk in r.links):
                return r.id
        return None

    def _after_unlink(self, link: LinkInfo, inbound_id: int | None) -> None:
        if not widget_alive(self):
            return
        if inbound_id is not None:
            self._pending_select = inbound_id
        self.refresh()
        self.links_changed.emit([link.matter_id])

    def _on_action_failed(self, exc: BaseException) -> None:
        if not widget_alive(self):
            return
        self._show_error(str(exc) or type(exc).__name__)
        self._update_buttons()
        self.action_failed.emit(str(exc))
        self.refresh()

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
