"""UI fixtures over the `office` (fake clock, local Twilio server): a main window in sandbox
mode for the outbound views, one with the inbound views on SQLite, and the helpers their
tests share (one poll, the inbound integration, a matter's tab, a small PNG)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.db.database import Database
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.poller import PollReport
from desktop_sms.services.provider_factory import ProviderFactory
from desktop_sms.services.settings import SettingsService
from desktop_sms.ui.inbound_integration import (
    InboundIntegration,
    inbound_integration_of,
    install_inbound,
)
from desktop_sms.ui.outbound_integration import OutboundUi, install_outbound, outbound_ui
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import MemoryCredentialStore, Office, make_office

TabT = TypeVar("TabT", bound=QWidget)

CLIENT = "+12125550123"  # Maria Garcia's mobile, the office's matter


class OfficeSandbox(ProviderFactory):
    """Sandbox mode whose in-process server is the test's local server (kept running after).

    With started=False the sandbox counts as not started until start_sandbox() is called, as
    on a desktop that has not opened the simulated phone yet.
    """

    def __init__(self, settings: SettingsService, server: SandboxServer,
                 provider: SmsProvider, *, started: bool = True) -> None:
        super().__init__(settings, MemoryCredentialStore())
        self._server = server
        self._provider = provider
        self.started = started

    @property
    def sandbox(self) -> SandboxServer | None:
        return self._server if self.started else None

    def start_sandbox(self) -> SandboxServer:
        self.started = True
        return self._server

    def __call__(self) -> SmsProvider:
        return self._provider

    def close(self) -> None:
        pass


def shown(qtbot: QtBot, window: MainWindow) -> Iterator[MainWindow]:
    """Show a window for a fixture to yield, and close it after the test."""
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


@pytest.fixture
def office_sandbox(office: Office, twilio_provider: SmsProvider) -> OfficeSandbox:
    """The office's provider in sandbox mode, the sandbox already started."""
    return OfficeSandbox(office.services.settings, office.server, twilio_provider)


@pytest.fixture
def office_window(qtbot: QtBot, office: Office, office_sandbox: OfficeSandbox,
                  ui_config_dir: Path) -> Iterator[MainWindow]:
    """The main window over the office in sandbox mode, signed in as Pat (staff with SMS access)."""
    office.services.providers = office_sandbox
    office.services.dispatcher.provider_factory = office_sandbox
    window = build_main_window(office.services, office.staff)
    install_outbound(window)  # build_main_window installed it already: this changes nothing
    yield from shown(qtbot, window)


@pytest.fixture
def ui_office(sqlite_db: Database, sandbox_server: SandboxServer,
              twilio_provider: SmsProvider, ui_config_dir: Path) -> Office:
    """The `office` (fake clock, local Twilio server) on SQLite, for the UI."""
    return make_office(sqlite_db, sandbox_server, lambda: twilio_provider)


@pytest.fixture
def window(qtbot: QtBot, ui_office: Office) -> Iterator[MainWindow]:
    """The main window over `ui_office`, signed in as the paralegal, with the inbound views."""
    w = build_main_window(ui_office.services, ui_office.staff)
    install_inbound(w)  # build_main_window installed them already: this changes nothing
    yield from shown(qtbot, w)


def second_matter(office: Office, client_name: str) -> int:
    """Case 25-000002 for client_name, mobile (212) 555-0124, opened today, consent given."""
    matter_id = office.services.matters.save(office.admin, MatterInput(
        "25-000002", client_name, "intake", mobile="(212) 555-0124",
        intake_date=office.clock().date()))
    office.services.matters.set_consent(office.admin, matter_id, "yes")
    return matter_id


def outbound_ui_of(window: MainWindow) -> OutboundUi:
    """The outbound views installed on a window."""
    ui = outbound_ui(window)
    assert ui is not None
    return ui


def integration(window: MainWindow) -> InboundIntegration:
    """The inbound views installed on a window."""
    found = inbound_integration_of(window)
    assert found is not None
    return found


def poll(office: Office, provider: SmsProvider, window: MainWindow) -> PollReport:
    """One poll of the local server, reported to the window as the background worker does."""
    report = office.services.inbound.poller(lambda: provider).poll_once()
    assert report.errors == []
    window.background.report_poll(report)
    return report


def matter_tab(qtbot: QtBot, window: MainWindow, matter_id: int, name: str,
               kind: type[TabT]) -> TabT:
    """Open a matter's window and bring its tab `name` (a `kind`) to the front."""
    view = window.open_matter(matter_id)
    qtbot.waitExposed(view)
    view.tabs.setCurrentIndex(view.tab_index(name))
    tab = view.tab(name)
    assert isinstance(tab, kind)
    return tab


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A small real PNG made by Qt."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#1d5fa8"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())
