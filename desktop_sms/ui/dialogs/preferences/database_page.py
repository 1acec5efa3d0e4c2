"""Preferences → Database: this desktop's SQLite file or PostgreSQL URL (effective on restart)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)
from sqlalchemy.engine import make_url

from desktop_sms.db import migrate
from desktop_sms.db.engine import make_engine, normalize_url, sqlite_path
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.local_config import LocalConfig
from desktop_sms.ui.dialogs.preferences.base import PreferencesPage, note_label
from desktop_sms.ui.tasks import TaskRunner

RESTART_NOTE = ("This choice belongs to this computer only (other desktops keep theirs) and "
                "takes effect on restart of Desktop SMS.")
CONNECT_TIMEOUT_SECONDS = 5


def masked(url: str) -> str:
    """The URL with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing secret to hide in a malformed string
        return url


def check_database(url: str) -> str:
    """Connect without changing anything and say what was found; runs on a worker thread."""
    url = normalize_url(url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return (f"The file {path} does not exist yet; Desktop SMS will create it when it "
                "restarts.")
    if make_url(url).get_backend_name() == "postgresql":
        engine = make_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    else:
        engine = make_engine(url)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    if current is None:
        return "OK: connected. The database is empty; Desktop SMS will set it up on restart."
    from alembic.script import ScriptDirectory  # only when the Test button is pressed

    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    if current == script.get_current_head():
        return "OK: connected. The database is ready."
    if current in {rev.revision for rev in script.walk_revisions()}:
        return ("OK: connected. The database will be backed up and upgraded when Desktop SMS "
                "restarts.")
    return ("Connected, but this database was made by a newer version of Desktop SMS; install "
            "that version to use it.")


class DatabasePage(PreferencesPage):
    """Writes the database URL to this desktop's LocalConfig, never to the shared database."""

    title = "Database"

    def __init__(self, runner: TaskRunner, in_use_url: str, config_file: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.in_use_url = in_use_url
        self.config_file = config_file
        self._loaded_url = ""
        self.use_sqlite = QRadioButton("SQLite file (this computer or a shared folder)")
        self.use_postgres = QRadioButton("PostgreSQL server")
        group = QButtonGroup(self)
        self.sqlite_file = QLineEdit()
        self.sqlite_file.setPlaceholderText("path of the .sqlite3 file")
        self.sqlite_file.setAccessibleName("SQLite file")
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.postgres_url = QLineEdit()
        self.postgres_url.setAccessibleName("PostgreSQL URL")
        self.postgres_url.setPlaceholderText("postgresql://user:password@server/desktop_sms")
        group.addButton(self.use_sqlite)
        group.addButton(self.use_postgres)
        editable: tuple[QWidget, ...] = (self.use_sqlite, self.use_postgres, self.sqlite_file,
                                         self.browse_button, self.postgres_url)
        for widget in editable:
            self.editable_widget(widget)
        self.test_button = QPushButton("&Test")
        self.test_button.clicked.connect(self.test_database)
        self.test_result = note_label("", "databaseTestResult")

        file_row = QHBoxLayout()
        file_row.addWidget(self.sqlite_file, 1)
        file_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow(self.use_sqlite)
        form.addRow("File", file_row)
        form.addRow(self.use_postgres)
        form.addRow("URL", self.postgres_url)
        self.body.addWidget(note_label(f"In use now: {masked(in_use_url)}", "databaseInUse"))
        self.body.addLayout(form)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        self.body.addLayout(test_row)
        self.body.addWidget(note_label(RESTART_NOTE, "databaseRestartNote"))
        self.use_sqlite.toggled.connect(self._enable_rows)
        self._editable = True

    def load(self) -> None:
        """Show the configured URL (or the one in use when none is configured)."""
        configured = LocalConfig.load(self.config_file).database_url
        self._show(configured or self.in_use_url)
        self._loaded_url = self.url()

    def _show(self, url: str) -> None:
        path = sqlite_path(normalize_url(url))
        if path is not None:
            self.use_sqlite.setChecked(True)
            self.sqlite_file.setText(str(path))
        else:
            self.use_postgres.setChecked(True)
            self.postgres_url.setText(url)
        self._enable_rows()

    def _enable_rows(self) -> None:
        sqlite = self.use_sqlite.isChecked()
        self.sqlite_file.setEnabled(self._editable and sqlite)
        self.browse_button.setEnabled(self._editable and sqlite)
        self.postgres_url.setEnabled(self._editable and not sqlite)

    def set_editable(self, editable: bool) -> None:
        super().set_editable(editable)
        self._editable = editable
        self._enable_rows()

    def url(self) -> str:
        """The URL the inputs describe ('' when incomplete)."""
        if self.use_sqlite.isChecked():
            text = self.sqlite_file.text().strip()
            return f"sqlite:///{Path(text).expanduser()}" if text else ""
        return self.postgres_url.text().strip()

    def _problem(self, url: str) -> str | None:
        if not url:
            return ("Choose the SQLite file." if self.use_sqlite.isChecked()
                    else "Type the PostgreSQL URL.")
        if self.use_postgres.isChecked() and not url.startswith(("postgresql", "postgres://")):
            return "A PostgreSQL URL starts with postgresql://"
        return None

    def is_dirty(self) -> bool:
        return self.url() != self._loaded_url

    def save(self, actor: Actor) -> list[str]:
        if not self.is_dirty():
            return []
        try:
            actor.require_admin("choose the database")
        except ServiceError as exc:
            return [str(exc)]
        url = self.url()
        problem = self._problem(url)
        if problem:
            return [problem]
        config = LocalConfig.load(self.config_file)
        config.database_url = url
        try:
            config.save(self.config_file)
        except OSError as exc:
            return [f"The choice could not be saved on this computer: {exc}"]
        self._loaded_url = url
        return []

    def test_database(self) -> None:
        """Open the URL on a worker thread and say OK or what went wrong."""
        url = self.url()
        problem = self._problem(url)
        if problem:
            self._show_result(problem)
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Testing…")
        self.runner.run(check_database, url, on_success=self._tested,
                        on_failure=self._test_failed)

    def _tested(self, sentence: str) -> None:
        self.test_button.setEnabled(True)
        self._show_result(sentence)

    def _test_failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        cause = getattr(exc, "orig", None) or exc
        first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        self._show_result(f"Could not open the database: {first_line}")

    def _show_result(self, text: str) -> None:
        self.test_result.setStyleSheet("color: #1b5e20;" if text.startswith("OK")
                                       else "color: #b00020;")
        self.test_result.setText(text)

    def _browse(self) -> None:
        dialog = QFileDialog(self, "SQLite database file")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite)
        dialog.setNameFilter("SQLite databases (*.sqlite3 *.sqlite *.db);;All files (*)")
        dialog.fileSelected.connect(self.sqlite_file.setText)
        dialog.open()
