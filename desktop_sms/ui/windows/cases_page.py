"""The Cases page: the case table, filter-as-you-type, "My cases" and New case…."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor
from desktop_sms.services.matters import (
    CASE_SORT_KEYS,
    COUNT_CAP,
    MatterService,
    count_is_capped,
)
from desktop_sms.ui.dialogs.case_form_dialog import CaseFormDialog
from desktop_sms.ui.models.case_table_model import COLUMNS, CaseTableModel
from desktop_sms.ui.view_state import remember_header

FILTER_DELAY_MS = 150
COLUMN_WIDTHS = (105, 190, 85, 125, 125, 95, 100, 150)


class CasesPage(QWidget):
    """Lists matters; emits open_matter_requested(matter id) on double-click or Enter."""

    open_matter_requested = Signal(int)

    def __init__(self, matters: MatterService, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._matters = matters
        self._actor = actor
        self.form_dialog: CaseFormDialog | None = None

        heading = QLabel("Cases")
        heading.setObjectName("pageHeading")
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by case number, client or phone")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter cases")
        self.mine_checkbox = QCheckBox("&My cases")
        self.mine_checkbox.setToolTip("Only cases where you hold a current assignment")
        self.mine_checkbox.setEnabled(actor.user_id is not None)
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.new_case_button = QPushButton("&New case…")
        self.new_case_button.clicked.connect(self.new_case)

        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.mine_checkbox)
        bar.addSpacing(12)
        bar.addWidget(self.count_label)
        bar.addStretch(0)
        bar.addWidget(self.new_case_button)

        self.model = CaseTableModel(matters, self)
        self.table = QTableView()
        self.table.setAccessibleName("Cases")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(False)
        # Fixed row heights and column widths: Qt never measures every row, so 100,000 rows
        # cost no more than the ones on screen.
        vheader = self.table.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 10)
        hheader = self.table.horizontalHeader()
        hheader.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hheader.setStretchLastSection(True)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        # A header click sorts by the query (MatterService.page), never over the rows in
        # memory; widths and order are kept between sessions (desktop_sms/ui/view_state.py).
        hheader.setSectionsClickable(True)
        hheader.setSortIndicatorShown(True)
        hheader.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        remember_header(hheader, "cases")
        self._apply_sort(hheader.sortIndicatorSection(), hheader.sortIndicatorOrder())
        hheader.sortIndicatorChanged.connect(self._apply_sort)
        self.table.doubleClicked.connect(self._open_index)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.open_current)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

        # Debounce: one query when typing pauses, not one per keystroke.
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(self._filter_timer.start)
        self.filter_edit.returnPressed.connect(self._filter_return)
        self.mine_checkbox.toggled.connect(self.apply_filter)
        self.model.modelReset.connect(self._update_count)
        self._update_count()

    def apply_filter(self) -> None:
        """Query now with the filter text and the My cases toggle."""
        self._filter_timer.stop()
        mine = self._actor.user_id if self.mine_checkbox.isChecked() else None
        self.model.set_filter(self.filter_edit.text(), mine)

    def _apply_sort(self, section: int, order: Qt.SortOrder) -> None:
        key = COLUMNS[section][0] if 0 <= section < len(COLUMNS) else ""
        if key not in CASE_SORT_KEYS:  # Primary assignee, Texts: keep the order shown
            current = self.model.sort_order()
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator([k for k, _ in COLUMNS].index(current[0]),
                                    Qt.SortOrder.DescendingOrder if current[1]
                                    else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)
            return
        self.model.set_sort(key, order == Qt.SortOrder.DescendingOrder)

    def refresh(self) -> None:
        """Reload after matters changed (an import, a new or edited case)."""
        self.model.refresh()

    def open_current(self) -> None:
        """Open the selected matter."""
        index = self.table.currentIndex()
        if index.isValid():
            self._open_index(index)

    def select_row(self, row: int) -> None:
        """Make a row current and selected (keyboard users and tests)."""
        self.table.selectRow(row)
        self.table.setCurrentIndex(self.model.index(row, 0))

    def new_case(self) -> CaseFormDialog:
        """Open the New case… form (non-blocking); the list refreshes when it is saved."""
        dialog = CaseFormDialog(self._matters, self._actor, parent=self)
        dialog.saved.connect(self._on_saved)
        dialog.finished.connect(dialog.deleteLater)
        self.form_dialog = dialog
        dialog.open()
        return dialog

    def _on_saved(self, _matter_id: int) -> None:
        self.refresh()

    def _open_index(self, index: QModelIndex) -> None:
        matter_id = self.model.matter_id_at(index.row())
        if matter_id is not None:
            self.open_matter_requested.emit(matter_id)

    def _filter_return(self) -> None:
        self.apply_filter()
        if self.model.rowCount() == 1:
            self.select_row(0)
            self.open_current()
        elif self.model.rowCount() > 0:
            self.table.setFocus()
            self.select_row(0)

    def _update_count(self) -> None:
        n = self.model.rowCount()
        if count_is_capped(self.model.filter_text(), n):  # a 1–2 character filter
            self.count_label.setText(f"{COUNT_CAP:,}+ cases")
            self.count_label.setToolTip("Type more of the name, number or phone to narrow "
                                        "the list; only the first matches are listed.")
            return
        self.count_label.setToolTip("")
        total_word = "case" if n == 1 else "cases"
        self.count_label.setText(f"{n:,} {total_word}")
