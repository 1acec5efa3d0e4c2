"""SMS → Search (docs/conversations.md): one box over every message's text and numbers;
a result opens its case's SMS log at that message."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.conversations import ConversationService, SearchHit
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.widgets.notes_pane import local_time

COLUMNS = ("Time", "Direction", "Number", "Case", "Client", "Message")
DEBOUNCE_MS = 250


class SearchPage(QWidget):
    """The Search tab of the SMS page."""

    searched = Signal(int)  # hits shown
    open_message_requested = Signal(int, str, int)  # matter id, direction, message id

    def __init__(self, conversations: ConversationService, actor: Actor, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchPage")
        self._conversations = conversations
        self._actor = actor
        self._runner = runner
        self._generation = 0
        self.hits: list[SearchHit] = []
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("messageSearch")
        self.search_edit.setPlaceholderText("Search every text and number (at least 3 characters)")
        self.search_edit.setAccessibleName("Search messages")
        self.search_edit.setClearButtonEnabled(True)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.search)
        self.search_edit.textChanged.connect(lambda _t: self.debounce.start())
        self.search_edit.returnPressed.connect(self.search)
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("searchResults")
        self.table.setAccessibleName("Search results")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.table.activated.connect(lambda index: self.open_row(index.row()))
        self.error = ErrorLabel()
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(self.table, 1)

    def search(self) -> None:
        """Search for the box's text (on the runner); a too-short query says so."""
        self.debounce.stop()
        query = self.search_edit.text()
        self._generation += 1
        generation = self._generation
        if not query.strip():
            self._show([], generation)
            return
        self._runner.run(self._conversations.search, self._actor, query,
                         on_success=lambda hits: self._show(hits, generation),
                         on_failure=lambda exc: self._failed(generation, exc))

    def _show(self, hits: list[SearchHit], generation: int) -> None:
        if not widget_alive(self) or generation != self._generation:
            return
        self.error.show_error(None)
        self.hits = hits
        self.table.setRowCount(len(hits))
        for r, hit in enumerate(hits):
            values = (local_time(hit.at), "Received" if hit.direction == "inbound" else "Sent",
                      hit.number, hit.case_number or "Not filed", hit.client_name or "",
                      hit.snippet)
            for c, text in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if self.search_edit.text().strip():
            self.count_label.setText(f"{len(hits)} found" if hits else "Nothing found")
        else:
            self.count_label.setText("")
        if hits:
            self.table.selectRow(0)
        self.searched.emit(len(hits))

    def _failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._generation:
            self.table.setRowCount(0)
            self.hits = []
            self.count_label.setText("")
            self.error.show_error(str(exc) if isinstance(exc, ServiceError)
                                  else f"The search failed: {exc}")
            self.searched.emit(0)

    def open_row(self, row: int) -> None:
        """Open the hit's case at that message (unfiled replies have no case)."""
        if not 0 <= row < len(self.hits):
            return
        hit = self.hits[row]
        if hit.matter_id is None:
            self.error.show_error("This reply is not filed on a case; file it from SMS → "
                                  "Received (Link to case…) to see it in a case.")
            return
        self.open_message_requested.emit(hit.matter_id, hit.direction, hit.id)
