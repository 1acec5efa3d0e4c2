"""File → Import cases…: pick a CSV, import it in the background with progress, list bad lines."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.importer import COLUMNS, CaseImporter, ImportResult
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

log = logging.getLogger(__name__)


class ImportDialog(QDialog):
    """Runs CaseImporter on the TaskRunner; emits import_finished or import_failed."""

    import_finished = Signal(object)  # ImportResult
    import_failed = Signal(str)

    def __init__(self, importer: CaseImporter, actor: Actor, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._importer = importer
        self._actor = actor
        self._runner = runner
        self._running = False
        self.result_: ImportResult | None = None
        self.setWindowTitle("Import cases")
        self.setMinimumSize(560, 420)

        intro = QLabel("Choose a CSV file (UTF-8) whose first line names the columns: "
                       + ", ".join(COLUMNS) + ".")
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("No file chosen")
        self.choose_button = QPushButton("&Choose file…")
        self.choose_button.clicked.connect(self.choose_file)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.choose_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.error = ErrorLabel()
        self.error_list = QListWidget()
        self.error_list.setAccessibleName("Lines that were not imported")
        self.error_list.setVisible(False)

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("&Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self.start_import)
        self.close_button.clicked.connect(self.reject)

        self._layout = QVBoxLayout(self)
        self._layout.addWidget(intro)
        self._layout.addLayout(row)
        self._layout.addWidget(self.progress)
        self._layout.addWidget(self.summary)
        self._layout.addWidget(self.error)
        self._layout.addWidget(self.error_list, 1)
        self._layout.addStretch(1)  # takes the space while there is no list of bad lines
        self._layout.addWidget(self.buttons)

    # --- public --------------------------------------------------------------------------
    def choose_file(self) -> None:
        """Ask for a CSV file with the platform's file dialog."""
        path, _ = QFileDialog.getOpenFileName(self, "Import cases", "",
                                              "CSV files (*.csv);;All files (*)")
        if path:
            self.set_path(Path(path))

    def set_path(self, path: Path | str) -> None:
        """Use this file (the file dialog calls this; tests call it directly)."""
        self.path_edit.setText(str(path))
        self.import_button.setEnabled(not self._running)

    def path(self) -> Path | None:
        """The chosen file, if any."""
        text = self.path_edit.text()
        return Path(text) if text else None

    def is_running(self) -> bool:
        """True while the import runs in the background."""
        return self._running

    def error_lines(self) -> list[str]:
        """The bad lines as listed (e.g. 'Line 4: …')."""
        return [self.error_list.item(i).text() for i in range(self.error_list.count())]

    def start_import(self) -> None:
        """Import the chosen file on the background runner."""
        path = self.path()
        if path is None or self._running:
            return
        self._running = True
        self.import_button.setEnabled(False)
        self.choose_button.setEnabled(False)
        self.error.show_error(None)
        self.error_list.clear()
        self._show_error_list(False)
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.summary.setText(f"Importing {path.name}…")
        self._runner.run(self._importer.import_file, self._actor, path,
                         on_success=self._on_success, on_failure=self._on_failure,
                         on_progress=self._on_progress)

    # --- runner callbacks (GUI thread) ---------------------------------------------------
    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_success(self, result: ImportResult) -> None:
        self._finish()
        self.result_ = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        parts = [f"{result.created} new case{'s' if result.created != 1 else ''}",
                 f"{result.updated} updated"]
        if result.errors:
            parts.append(f"{len(result.errors)} line{'s' if len(result.errors) != 1 else ''} "
                         "not imported (listed below)")
        self.summary.setText("Import finished: " + ", ".join(parts) + ".")
        for err in result.errors:
            self.error_list.addItem(f"Line {err.line}: {err.reason}")
        self._show_error_list(bool(result.errors))
        self.import_finished.emit(result)

    def _on_failure(self, exc: BaseException) -> None:
        if not isinstance(exc, ServiceError):
            log.error("case import failed", exc_info=exc)
        self._finish()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.summary.setText("Nothing was imported.")
        self.error.show_error(str(exc) or type(exc).__name__)
        self.import_failed.emit(str(exc))

    def _show_error_list(self, visible: bool) -> None:
        self.error_list.setVisible(visible)
        self._layout.setStretch(self._layout.indexOf(self.error_list) + 1, 0 if visible else 1)

    def _finish(self) -> None:
        self._running = False
        self.choose_button.setEnabled(True)
        self.import_button.setEnabled(self.path() is not None)
