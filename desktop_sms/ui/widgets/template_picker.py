"""The template picker shared by the compose dialog and the reply box (docs/templates.md).

It lists the office's templates (read on the task runner), and when one is picked fills it for
the one matter with ``BatchService.preview`` (on the runner, so the database is never read on
the GUI thread). A filled text is emitted as ``filled(text)`` for the owner to put in its text
box; a template with a merge field that is empty for this client is refused with the reason
shown on ``error`` ("This template can't be used for this client: client first name is
empty.") and nothing is emitted, so the typed text stays. The owner lays out ``combo`` and
``error`` where it wants them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel

NO_TEMPLATE = "(none: type the text)"


class TemplatePicker(QObject):
    """A template combo box and its error line, filling a template for one matter.

    Signals: ``templates_loaded()`` once the list is read; ``filled(str)`` with the text
    filled for the matter; ``applied(bool)`` after every pick that reached the service
    (True: filled, False: refused or failed, the reason shown on ``error``).
    """

    templates_loaded = Signal()
    filled = Signal(str)
    applied = Signal(bool)

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner, matter_id: int,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self._services = services
        self._actor = actor
        self._runner = runner
        self._owner = parent
        self.matter_id = matter_id
        self.combo = QComboBox(parent)
        self.combo.setAccessibleName("Template")
        self.combo.addItem(NO_TEMPLATE, None)
        self.error = ErrorLabel(parent)
        self.combo.activated.connect(self.pick)
        self._runner.run(services.templates.list, on_success=self._loaded,
                         on_failure=self._load_failed)

    def pick(self, index: int) -> None:
        """Fill the template at ``index`` for the matter (on the runner); index 0 is none."""
        name = self.combo.itemData(index)
        self.error.show_error(None)
        if name is None:
            return
        self._runner.run(self._services.batches.preview, self._actor, [self.matter_id],
                         template_name=name, on_success=self._filled,
                         on_failure=self._failed)

    def _alive(self) -> bool:
        return widget_alive(self._owner) and widget_alive(self.combo)

    def _loaded(self, rows: Any) -> None:
        if not self._alive():  # closed before the answer came
            return
        for row in rows:
            self.combo.addItem(row.name, row.name)
        self.templates_loaded.emit()

    def _load_failed(self, exc: BaseException) -> None:
        if self._alive():
            self.error.show_error(str(exc))

    def _filled(self, preview: Any) -> None:
        if not self._alive():  # closed before the answer came
            return
        recipient = preview.recipients[0]
        if recipient.fill_reason:
            self.error.show_error(
                f"This template can't be used for this client: {recipient.fill_reason}.")
            self.applied.emit(False)
            return
        self.filled.emit(recipient.text)
        self.applied.emit(True)

    def _failed(self, exc: BaseException) -> None:
        if not self._alive():  # closed before the answer came
            return
        self.error.show_error(str(exc))
        self.applied.emit(False)
