"""Export conversation (docs/conversations.md): the command line and the matter window's
dialog write a PDF with Qt; its text, read back with pypdf, holds every text of the case in
order, the case number and the local times; the reply's photo is embedded as an image."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.app import build_main_window
from desktop_sms.cli import main
from desktop_sms.db.database import Database, open_database
from desktop_sms.db.models import Document
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.conversation_export import conversation_export
from desktop_sms.services.demo import seed_demo
from desktop_sms.ui.export_conversation import ExportDialog, local_stamp
from tests.helpers.clock import FakeClock
from tests.helpers.outbound_fixtures import MemoryCredentialStore

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def demo(tmp_path: Path) -> tuple[str, Database, Services]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    db, _ = open_database(url)
    services = build_services(db, FakeClock(NOW), credentials=MemoryCredentialStore())
    seed_demo(services)
    return url, db, services


def maria_case(services: Services) -> str:
    """The demo case whose client sent a photo."""
    for row in services.inbound.received.rows(actor=services.users.get("pat").actor()):
        if row.media_count and row.links:
            return row.links[0].case_number
    raise AssertionError("the demo has no reply with a photo")


def pdf_text(path: Path) -> tuple[str, PdfReader]:
    reader = PdfReader(str(path))
    return "\n".join(page.extract_text() for page in reader.pages), reader


def image_count(reader: PdfReader) -> int:
    return sum(len(page.images) for page in reader.pages)


def squash(text: str) -> str:
    """One space between words; ligatures (ﬃ) as letters, as the PDF's text layer has them."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_export_conversation_command_writes_every_text_in_order(
        qapp: QApplication, demo: tuple[str, Database, Services], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, db, services = demo
    case = maria_case(services)
    export = conversation_export(db, "US", ["+12125550100"], case)
    bodies = [it.body for it in export.items]
    assert len(bodies) == 4 and bodies[1] == "Thank you! Should I bring my lease?"
    out = tmp_path / "maria.pdf"
    assert main(["--db", url, "export-conversation", "--case", case, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: 4 texts"
    text, reader = pdf_text(out)
    flat = squash(text)
    assert f"case {case}" in flat and squash(export.client_name) in flat
    positions = [flat.find(squash(body)) for body in bodies]
    assert all(p >= 0 for p in positions), (positions, flat[:3000])
    assert positions == sorted(positions)  # in time order
    for item in export.items:
        assert local_stamp(item.at) in flat  # local time with its zone
    assert "Sent to (212) 555-0119 by Pat Paralegal" in flat
    assert "Received from (212) 555-0119" in flat
    assert image_count(reader) == 1  # the photo, embedded
    assert squash(reader.pages[-1].extract_text()).endswith(str(len(reader.pages)))  # page no.


def test_export_date_range_and_unknown_case(
        qapp: QApplication, demo: tuple[str, Database, Services], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, _db, services = demo
    case = maria_case(services)
    out = tmp_path / "recent.pdf"
    since = (NOW - timedelta(days=3)).astimezone().date().isoformat()
    assert main(["--db", url, "export-conversation", "--case", case, "--out", str(out),
                 "--since", since]) == 0
    text, reader = pdf_text(out)
    assert "Here is the last letter they sent me" in squash(text)
    assert "Thank you! Should I bring my lease?" not in squash(text)
    assert image_count(reader) == 1
    # A reply unlinked from the case stays in the export, marked withdrawn.
    pat = services.users.get("pat").actor()
    row = next(r for r in services.inbound.received.rows(actor=pat) if r.media_count)
    services.inbound.linking.unlink(services.users.get("pat").actor(), row.links[0].link_id)
    assert main(["--db", url, "export-conversation", "--case", case, "--out", str(out),
                 "--since", since]) == 0
    text, _reader = pdf_text(out)
    assert "WITHDRAWN from this case" in squash(text)
    assert "Here is the last letter they sent me" in squash(text)
    capsys.readouterr()
    assert main(["--db", url, "export-conversation", "--case", "99-999999", "--out",
                 str(tmp_path / "x.pdf")]) == 1
    assert capsys.readouterr().err.strip() == \
        "desktop-sms: There is no case numbered '99-999999'."


def test_export_dialog_saves_the_pdf_as_a_case_document(
        qtbot: QtBot, demo: tuple[str, Database, Services], tmp_path: Path,
        ui_config_dir: Path) -> None:
    _url, db, services = demo
    case = maria_case(services)
    pat = services.users.get("pat").actor()
    window = build_main_window(services, pat)
    qtbot.addWidget(window)
    matter = services.matters.by_number(case)
    view = window.open_matter(matter.id)
    qtbot.waitExposed(view)
    action = view.export_action
    assert action.text() == "Export conversation…"
    action.trigger()
    dialog = view.export_dialog
    assert isinstance(dialog, ExportDialog) and dialog.file_check.isChecked()
    out = tmp_path / "from the dialog.pdf"
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.buttons.accepted.emit()
    assert out.exists() and dialog.document_id is not None
    with db.session() as s:
        doc = s.scalar(select(Document).where(Document.id == dialog.document_id))
        assert doc is not None and doc.matter_id == matter.id
        assert doc.folder == "Correspondence" and doc.name == "from the dialog.pdf"
        assert doc.content_type == "application/pdf" and bytes(doc.data) == out.read_bytes()
    assert [e.username for e in services.audit.entries(SYSTEM, action="conversation.export")] \
        == ["pat"]
    window.close()


def test_export_needs_sms_access_on_the_stored_user(
        qapp: QApplication, demo: tuple[str, Database, Services], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, _db, services = demo
    admin = services.users.get("admin").actor()
    services.users.update(admin, services.users.get("ivy").id, sms_access=False)
    out = tmp_path / "no.pdf"
    assert main(["--db", url, "--as", "ivy", "export-conversation", "--case",
                 maria_case(services), "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == \
        "desktop-sms: You need SMS access to export conversations."
    assert not out.exists()
