"""UI fixtures: services over a fresh SQLite database, the demo data, and a shown main window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.db.database import Database
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.demo import seed_demo
from desktop_sms.ui.windows.main_window import MainWindow


@pytest.fixture
def ui_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep this desktop's own configuration (last username) inside the test's folder."""
    path = tmp_path / "config"
    monkeypatch.setenv("DESKTOP_SMS_CONFIG_DIR", str(path))
    return path


@pytest.fixture
def services(sqlite_db: Database) -> Services:
    """Every service over a fresh, empty SQLite database."""
    return build_services(sqlite_db)


@pytest.fixture
def demo_actor(services: Services) -> Actor:
    """The demo data seeded; the demo admin as the acting user."""
    return seed_demo(services)


@pytest.fixture
def main_window(qtbot: QtBot, services: Services, demo_actor: Actor,
                ui_config_dir: Path) -> Iterator[MainWindow]:
    """The main window over the demo data, signed in as the demo admin, shown."""
    window = build_main_window(services, demo_actor)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
