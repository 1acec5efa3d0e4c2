"""File → Import cases…: pick a CSV or Excel file, check the column and stage mapping on a
preview, import in the background with progress, list bad lines and save them as CSV."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.importer import (
    COLUMNS,
    DEFAULT_STAGE_MAP,
    REQUIRED,
    CaseImporter,
    ImportOptions,
    ImportResult,
    Preview,
)
from desktop_sms.services.matters import STAGES
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

log = logging.getLogger(__name__)

NOT_IN_FILE = "(not in the file)"
KEEP_VALUE = "(as written)"


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8-sig", newline="")


class ImportDialog(QDialog):
    """Runs CaseImporter on the TaskRunner; emits import_finished or import_failed.

    Choosing a file reads a preview in the background (``preview_ready``): the mapping step
    shows our columns with the file's headers guessed and editable, the file's stage values
    with the stage each becomes, and the first rows as they will be read.
    """

    import_finished = Signal(object)  # ImportResult
    import_failed = Signal(str)
    preview_ready = Signal(object)  # Preview
    skipped_saved = Signal(str)  # the path written

    def __init__(self, importer: CaseImporter, actor: Actor, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._importer = importer
        self._actor = actor
        self._runner = runner
        self._running = False
        self._preview: Preview | None = None
        self._filling = False
        self.result_: ImportResult | None = None
        self.setWindowTitle("Import cases")
        self.setMinimumSize(720, 620)

        intro = QLabel("Choose a CSV or Excel (.xlsx) file whose first line names the columns. "
                       "Our columns are " + ", ".join(COLUMNS) + "; other headers can be "
                       "matched to them below.")
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
        self.file_info = QLabel("")
        self.file_info.setTextFormat(Qt.TextFormat.PlainText)

        # --- mapping step -----------------------------------------------------------------
        self.mapping_box = QGroupBox("Columns and stage values")
        self.column_combos: dict[str, QComboBox] = {}
        columns_form = QFormLayout()
        for column in COLUMNS:
            combo = QComboBox()
            combo.setAccessibleName(f"File column for {column}")
            combo.currentIndexChanged.connect(self._mapping_changed)
            self.column_combos[column] = combo
            columns_form.addRow(column + (" *" if column in REQUIRED else ""), combo)
        self.stage_table = QTableWidget(0, 2)
        self.stage_table.setHorizontalHeaderLabels(["Value in the file", "Becomes stage"])
        self.stage_table.setAccessibleName("Stage values")
        self.stage_table.horizontalHeader().setStretchLastSection(True)
        self.stage_combos: dict[str, QComboBox] = {}
        self.saved_combo = QComboBox()
        self.saved_combo.setAccessibleName("Saved mappings")
        self.saved_combo.activated.connect(self._use_saved)
        self.save_name = QLineEdit()
        self.save_name.setPlaceholderText("Name this mapping, e.g. Clio export")
        self.save_mapping_button = QPushButton("Save &mapping")
        self.save_mapping_button.clicked.connect(self.save_mapping)
        saved_row = QHBoxLayout()
        saved_row.addWidget(QLabel("Saved:"))
        saved_row.addWidget(self.saved_combo, 1)
        saved_row.addWidget(self.save_name, 1)
        saved_row.addWidget(self.save_mapping_button)
        mapping_layout = QHBoxLayout()
        mapping_layout.addLayout(columns_form, 1)
        mapping_layout.addWidget(self.stage_table, 1)
        box_layout = QVBoxLayout(self.mapping_box)
        box_layout.addLayout(mapping_layout)
        box_layout.addLayout(saved_row)
        self.mapping_box.setVisible(False)

        self.preview_table = QTableWidget(0, len(COLUMNS))
        self.preview_table.setHorizontalHeaderLabels(["line", *COLUMNS[:-1]])
        self.preview_table.setAccessibleName("First rows as they will be read")
        self.preview_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.preview_table.setVisible(False)

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
        self.save_skipped_button = QPushButton("Save skipped lines as CSV…")
        self.save_skipped_button.clicked.connect(self.choose_skipped_path)
        self.save_skipped_button.setVisible(False)

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("&Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self.start_import)
        self.close_button.clicked.connect(self.reject)

        self._layout = QVBoxLayout(self)
        self._layout.addWidget(intro)
        self._layout.addLayout(row)
        self._layout.addWidget(self.file_info)
        self._layout.addWidget(self.mapping_box)
        self._layout.addWidget(self.preview_table)
        self._layout.addWidget(self.progress)
        self._layout.addWidget(self.summary)
        self._layout.addWidget(self.error)
        self._layout.addWidget(self.error_list, 1)
        self._layout.addWidget(self.save_skipped_button)
        self._layout.addStretch(1)  # takes the space while there is no list of bad lines
        self._layout.addWidget(self.buttons)
        self._runner.run(self._importer.saved_mappings, on_success=self._fill_saved,
                         on_failure=self._on_side_failure)

    # --- public --------------------------------------------------------------------------
    def choose_file(self) -> None:
        """Ask for a CSV or Excel file with the platform's file dialog."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Import cases", "", "Spreadsheets (*.csv *.txt *.xlsx);;All files (*)")
        if path:
            self.set_path(Path(path))

    def set_path(self, path: Path | str) -> None:
        """Use this file (the file dialog calls this; tests call it directly): read a preview."""
        self.path_edit.setText(str(path))
        self._preview = None
        self.import_button.setEnabled(False)
        self.error.show_error(None)
        self.refresh_preview(guess=True)

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

    def options(self) -> ImportOptions:
        """The mapping as shown: our column → the file's header, stage value → stage."""
        columns = {c: combo.currentText() for c, combo in self.column_combos.items()
                   if combo.currentIndex() > 0}
        stages = {value: combo.currentText() for value, combo in self.stage_combos.items()
                  if combo.currentIndex() > 0}
        return ImportOptions(columns, stages)

    def set_column(self, column: str, header: str) -> None:
        """Map one of our columns to a header of the file (as picking it in its list does)."""
        combo = self.column_combos[column]
        combo.setCurrentIndex(max(combo.findText(header), 0))

    def set_stage(self, value: str, stage: str) -> None:
        """Map a stage value of the file to one of ours (as picking it in its list does)."""
        combo = self.stage_combos[value]
        combo.setCurrentIndex(max(combo.findText(stage), 0))

    def preview_rows(self) -> list[list[str]]:
        """The preview table's cells, row by row (line first)."""
        return [[(self.preview_table.item(r, c).text() if self.preview_table.item(r, c) else "")
                 for c in range(self.preview_table.columnCount())]
                for r in range(self.preview_table.rowCount())]

    def refresh_preview(self, guess: bool = False) -> None:
        """Read the file's first rows again with the mapping shown (or a guessed one)."""
        path = self.path()
        if path is None:
            return
        options = None if guess else self.options()
        self.summary.setText(f"Reading {path.name}…")
        self._runner.run(self._importer.preview_file, path, options,
                         on_success=self._on_preview, on_failure=self._on_failure)

    def save_mapping(self) -> None:
        """Save the mapping shown under the typed name, for the next import."""
        name = self.save_name.text().strip()
        options = self.options()
        self._runner.run(self._importer.save_mapping, self._actor, name, options,
                         on_success=lambda _: self._saved(name), on_failure=self._on_side_failure)

    def choose_skipped_path(self) -> None:
        """Ask where to save the skipped lines, then save them."""
        path, _ = QFileDialog.getSaveFileName(self, "Save skipped lines", "skipped-lines.csv",
                                              "CSV files (*.csv)")
        if path:
            self.save_skipped(Path(path))

    def save_skipped(self, path: Path) -> None:
        """Write the skipped lines with their reasons as CSV (line,reason) in the background."""
        if self.result_ is None:
            return
        self._runner.run(_write_text, path, self.result_.skipped_csv(),
                         on_success=lambda _: self.skipped_saved.emit(str(path)),
                         on_failure=self._on_side_failure)

    def start_import(self) -> None:
        """Import the chosen file with the mapping shown, on the background runner."""
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
                         options=self.options(), on_success=self._on_success,
                         on_failure=self._on_failure, on_progress=self._on_progress)

    # --- filling the mapping step --------------------------------------------------------
    def _on_preview(self, preview: Preview) -> None:
        self._preview = preview
        self._filling = True
        try:
            for column, combo in self.column_combos.items():
                combo.clear()
                combo.addItems([NOT_IN_FILE, *[h for h in preview.headers if h.strip()]])
                header = preview.options.columns.get(column)
                combo.setCurrentIndex(max(combo.findText(header), 0) if header else 0)
            self._fill_stages(preview)
            self._fill_preview_rows(preview)
        finally:
            self._filling = False
        self.file_info.setText(f"{preview.row_count:,} lines, {preview.table_description}.")
        self.mapping_box.setVisible(True)
        self.preview_table.setVisible(True)
        missing = [c for c in REQUIRED if c not in preview.options.columns]
        if missing:
            self.summary.setText("Choose the file's column for " + ", ".join(missing) + ".")
        elif preview.unknown_stages:
            self.summary.setText("Choose a stage for " + ", ".join(preview.unknown_stages)
                                 + " (rows with other values are skipped).")
        else:
            self.summary.setText("Check the columns and the first rows, then Import.")
        self.import_button.setEnabled(not missing and not self._running)
        self.preview_ready.emit(preview)

    def _fill_stages(self, preview: Preview) -> None:
        chosen = dict(preview.options.stages)
        self.stage_table.setRowCount(0)
        self.stage_combos.clear()
        for value in preview.stage_values:
            r = self.stage_table.rowCount()
            self.stage_table.insertRow(r)
            item = QTableWidgetItem(value)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.stage_table.setItem(r, 0, item)
            combo = QComboBox()
            combo.setAccessibleName(f"Stage for {value}")
            combo.addItems([KEEP_VALUE, *STAGES])
            target = chosen.get(value) or DEFAULT_STAGE_MAP.get(value.lower())
            combo.setCurrentIndex(max(combo.findText(target), 0) if target else 0)
            combo.currentIndexChanged.connect(self._mapping_changed)
            self.stage_table.setCellWidget(r, 1, combo)
            self.stage_combos[value] = combo

    def _fill_preview_rows(self, preview: Preview) -> None:
        shown = ["line", *[c for c in COLUMNS if c in preview.options.columns]]
        self.preview_table.setColumnCount(len(shown))
        self.preview_table.setHorizontalHeaderLabels(shown)
        self.preview_table.setRowCount(len(preview.rows))
        for r, (line, values) in enumerate(preview.rows):
            for c, column in enumerate(shown):
                text = str(line) if column == "line" else values.get(column, "")
                self.preview_table.setItem(r, c, QTableWidgetItem(text))  # plain text cells

    def _mapping_changed(self) -> None:
        if not self._filling and self._preview is not None:
            self.import_button.setEnabled(False)
            self.refresh_preview()

    def _fill_saved(self, saved: dict[str, ImportOptions]) -> None:
        self._saved_mappings = saved
        self.saved_combo.clear()
        self.saved_combo.addItems(["(choose a saved mapping)", *saved])

    def _use_saved(self, index: int) -> None:
        options = getattr(self, "_saved_mappings", {}).get(self.saved_combo.itemText(index))
        if options is None or self._preview is None:
            return
        self._filling = True
        try:
            for column, combo in self.column_combos.items():
                header = options.columns.get(column)
                combo.setCurrentIndex(max(combo.findText(header), 0) if header else 0)
            for value, combo in self.stage_combos.items():
                if value in options.stages:
                    combo.setCurrentIndex(max(combo.findText(options.stages[value]), 0))
        finally:
            self._filling = False
        self.save_name.setText(self.saved_combo.itemText(index))
        self._mapping_changed()

    def _saved(self, name: str) -> None:
        self.summary.setText(f"Mapping '{name}' saved for the next import.")
        self._runner.run(self._importer.saved_mappings, on_success=self._fill_saved,
                         on_failure=self._on_side_failure)

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
        text = "Import finished: " + result.summary()
        if result.errors:
            text += " The skipped lines are listed below."
        self.summary.setText(text)
        for err in result.errors:
            self.error_list.addItem(f"Line {err.line}: {err.reason}")
        self._show_error_list(bool(result.errors))
        self.save_skipped_button.setVisible(bool(result.errors))
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

    def _on_side_failure(self, exc: BaseException) -> None:
        if not isinstance(exc, ServiceError):
            log.error("import dialog task failed", exc_info=exc)
        self.error.show_error(str(exc) or type(exc).__name__)

    def _show_error_list(self, visible: bool) -> None:
        self.error_list.setVisible(visible)
        self._layout.setStretch(self._layout.indexOf(self.error_list) + 2, 0 if visible else 1)

    def _finish(self) -> None:
        self._running = False
        self.choose_button.setEnabled(True)
        self.import_button.setEnabled(self._preview is not None)
