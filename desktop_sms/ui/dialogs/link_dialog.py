"""Link to case… (docs/product.md F8): file a received message on one or more cases by hand.

Search matters by number, name or phone (MatterService.search on the runner), tick one or
more, OK → LinkingService.link. Opened non-blocking (`open()`); `linked` tells the caller.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor
from desktop_sms.services.linking import LinkingService
from desktop_sms.services.matters import MatterRow
from desktop_sms.services.received import ReceivedRow
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.dialog_buttons import action_buttons
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.notes_pane import local_time

SEARCH_DELAY_MS = 250
MATTER_ROLE = Qt.ItemDataRole.UserRole + 1


def matter_line(m: MatterRow) -> str:
    """'24-000123 — Maria Garcia — intake — (212) 555-0123'."""
    parts = [m.case_number, m.client_name, m.stage]
    phones = " / ".join(p for p in (m.mobile, m.home) if p)
    if phones:
        parts.append(phones)
    return " — ".join(parts)


def _plain(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class LinkDialog(QDialog):
    """Choose the cases to file one received message on."""

    search_finished = Signal(int)  # how many matters were found
    linked = Signal(object)  # list of new link ids
    link_failed = Signal(str)

    def __init__(self, linking: LinkingService, runner: TaskRunner, actor: Actor,
                 message: ReceivedRow, parent: QWidget | None = None,
                 search: Callable[[str], list[MatterRow]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Link to case")
        self.setObjectName("linkDialog")
        self.resize(560, 480)
        self._linking = linking
        self._runner = runner
        self._actor = actor
        self.message = message
        self._search = search or linking.search
        self._search_generation = 0
        self._checked: dict[int, MatterRow] = {}
        self._already = {lk.matter_id for lk in message.links}

        about = _plain(f"From {message.from_display}, received {local_time(message.received_at)}")
        text = QPlainTextEdit(message.text)
        text.setReadOnly(True)
        text.setMaximumHeight(80)
        text.setAccessibleName("Message text")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search by case number, client name or phone")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search cases")
        self.results = QListWidget()
        self.results.setAccessibleName("Cases found")
        self.results.itemChanged.connect(self._on_item_changed)
        self.results.itemActivated.connect(self._toggle)
        self.status = _plain()
        self.status.setObjectName("linkStatus")
        self.error = _plain()
        self.error.setObjectName("errorLabel")
        self.error.setStyleSheet("color: #b42318;")
        self.error.hide()
        self.buttons, self.ok_button = action_buttons(self, "Link",
                                                      self.link_checked)
        self.ok_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(text)
        layout.addWidget(QLabel("Find the case (tick one or more):"))
        layout.addWidget(self.search_edit)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search_now)
        self.search_edit.textChanged.connect(lambda _t: self._timer.start())
        if message.from_e164:  # start with the sender's number: the likeliest cases
            self.search_edit.setText(message.from_e164)
        self.search_now()

    # --- searching -----------------------------------------------------------------------
    def search_now(self) -> None:
        """Search for the text typed (on the runner); `search_finished` follows."""
        self._timer.stop()
        self._search_generation += 1
        generation = self._search_generation
        text = self.search_edit.text()
        self.status.setText("Searching…")
        self._runner.run(self._search, text,
                         on_success=lambda rows: self._found(generation, rows),
                         on_failure=lambda exc: self._search_failed(generation, exc))

    def _found(self, generation: int, rows: list[MatterRow]) -> None:
        if not widget_alive(self) or generation != self._search_generation:
            return
        self.results.blockSignals(True)
        self.results.clear()
        for m in rows:
            item = QListWidgetItem(matter_line(m))
            item.setData(MATTER_ROLE, m)
            if m.id in self._already:
                item.setText(matter_line(m) + " (already filed here)")
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            else:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if m.id in self._checked
                                   else Qt.CheckState.Unchecked)
            self.results.addItem(item)
        self.results.blockSignals(False)
        if not rows:
            self.status.setText("No case matches. Try a case number, a name or a phone number.")
        else:
            self.status.setText(self._status_text(len(rows)))
        self.search_finished.emit(len(rows))

    def _search_failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._search_generation:
            self.status.setText(f"The search failed: {exc}")
            self.search_finished.emit(0)

    def _status_text(self, found: int) -> str:
        picked = len(self._checked)
        text = f"{found} case{'s' if found != 1 else ''} found"
        if picked:
            text += f"; {picked} chosen: " + ", ".join(m.case_number for m in self._checked.values())
        return text

    # --- choosing ------------------------------------------------------------------------
    def _toggle(self, item: QListWidgetItem) -> None:
        if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            item.setCheckState(Qt.CheckState.Unchecked if item.checkState() == Qt.CheckState.Checked
                               else Qt.CheckState.Checked)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        m = item.data(MATTER_ROLE)
        if not isinstance(m, MatterRow):
            return
        if item.checkState() == Qt.CheckState.Checked:
            self._checked[m.id] = m
        else:
            self._checked.pop(m.id, None)
        self.ok_button.setEnabled(bool(self._checked))
        self.status.setText(self._status_text(self.results.count()))

    def found_case_numbers(self) -> list[str]:
        """The case numbers listed by the last search."""
        out = []
        for i in range(self.results.count()):
            m = self.results.item(i).data(MATTER_ROLE)
            if isinstance(m, MatterRow):
                out.append(m.case_number)
        return out

    def check_case(self, case_number: str, checked: bool = True) -> bool:
        """Tick (or untick) a listed case by number; False when it is not listed or linkable."""
        for i in range(self.results.count()):
            item = self.results.item(i)
            m = item.data(MATTER_ROLE)
            if (isinstance(m, MatterRow) and m.case_number == case_number
                    and item.flags() & Qt.ItemFlag.ItemIsUserCheckable):
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return True
        return False

    def chosen_matter_ids(self) -> list[int]:
        """The matters ticked, across searches."""
        return list(self._checked)

    # --- linking -------------------------------------------------------------------------
    def link_checked(self) -> None:
        """File the message on the chosen cases (on the runner); closes on success."""
        ids = self.chosen_matter_ids()
        if not ids:
            self._show_error("Choose at least one case to link the message to.")
            return
        self.ok_button.setEnabled(False)
        self.error.hide()
        self.status.setText("Linking…")
        self._runner.run(self._linking.link, self._actor, self.message.id, ids,
                         on_success=self._on_linked, on_failure=self._on_link_failed)

    def _on_linked(self, link_ids: list[int]) -> None:
        if not widget_alive(self):
            return
        self.linked.emit(list(link_ids))
        self.accept()

    def _on_link_failed(self, exc: BaseException) -> None:
        if not widget_alive(self):
            return
        self._show_error(str(exc) or type(exc).__name__)
        self.ok_button.setEnabled(bool(self._checked))
        self.link_failed.emit(str(exc))

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
