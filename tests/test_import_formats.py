"""Importing cases as offices export them (issue 14, reproductions 1-3 and their kind).

Files are written the way spreadsheets write them (encodings, separators, numeric phone cells,
day-first dates, .xlsx with other systems' headers) and imported through the service and the
command line, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from desktop_sms.cli import main
from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter
from desktop_sms.services.common import SYSTEM, ValidationError
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.importer import (
    ImportOptions,
    decode_text,
    guess_mapping,
    options_from_args,
    phone_cell,
    read_delimited,
    sniff_delimiter,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OURS = "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened"
OTHER_HEADERS = ["Matter Number", "Client", "Cell Phone", "Home Phone", "Status",
                 "Intake Date", "Date Opened", "Primary Attorney"]


def office(db: Database, region: str = "US") -> Services:
    """Services with an administrator, in the given default_region."""
    svc = build_services(db, clock=lambda: NOW)
    if svc.users.needs_first_admin():
        svc.users.add(None, "boss", "Office Manager", password="correct horse")
    svc.settings.set(SYSTEM, "default_region", region)
    return build_services(db, clock=lambda: NOW)  # the region is read when services start


def admin(svc: Services):  # type: ignore[no-untyped-def]
    return svc.users.get("boss").actor()


def stored(db: Database) -> dict[str, Matter]:
    with db.session() as s:
        return {m.case_number: m for m in s.scalars(select(Matter))}


# --- 1. Excel turned phone numbers into numbers ------------------------------------------

@pytest.mark.parametrize(("cell", "digits"), [
    ("2125550123.0", "2125550123"),
    ("2125550123.00", "2125550123"),
    ("2.125550123E+09", "2125550123"),
    ("2,125550123E+09", "2125550123"),  # a comma decimal separator
    ("1.2125550123e10", "12125550123"),
    ("(212) 555-0123", "(212) 555-0123"),  # text is left for the phone rules
])
def test_numeric_phone_cells_read_back_as_digits(cell: str, digits: str) -> None:
    assert phone_cell(cell, "mobile_phone") == digits


@pytest.mark.parametrize("cell", ["2.12555E+09", "5.255E+11", "2E+09"])
def test_a_shortened_exponent_form_is_refused_with_a_sentence(cell: str) -> None:
    with pytest.raises(ValidationError, match="shortened by the spreadsheet"):
        phone_cell(cell, "mobile_phone")


def test_phone_cells_excel_turned_into_numbers_import(db: Database) -> None:
    svc = office(db)
    data = (f"{OURS}\n"
            "26-1,Ann,2125550123.0,,intake,2024-01-05,\n"
            "26-2,Bo,2.125550124E+09,,intake,2024-01-05,\n"
            "26-3,Cy,12125550125,,intake,2024-01-05,\n"
            "26-4,Di,525512345678,,intake,2024-01-05,\n"  # Mexico with its country code
            "26-5,Ed,2.12555E+09,,intake,2024-01-05,\n").encode()
    result = svc.importer.import_bytes(admin(svc), data)
    assert (result.created, [e.line for e in result.errors]) == (4, [6])
    assert "shortened by the spreadsheet" in result.errors[0].reason
    rows = stored(db)
    assert [rows[n].mobile_e164 for n in ("26-1", "26-2", "26-3", "26-4")] == [
        "+12125550123", "+12125550124", "+12125550125", "+525512345678"]


# --- 2. delimiters and encodings -------------------------------------------------------------

SEMICOLON = (OURS.replace(",", ";") + "\n"
             "26-10;José Müller;(212) 555-0130;;open;2024-01-05;2024-01-20\n"
             "26-11;\"Smith; Ann\";212 555 0131;;intake;2024-01-06;\n")


@pytest.mark.parametrize(("text", "encoding", "name"), [
    (SEMICOLON, "utf-8", "read as UTF-8, semicolon-separated"),
    (SEMICOLON, "utf-8-sig", "read as UTF-8 with BOM, semicolon-separated"),
    (SEMICOLON, "cp1252", "read as Windows-1252, semicolon-separated"),
    (SEMICOLON.replace(";", "\t").replace('"Smith\t Ann"', "Smith; Ann"), "utf-16",
     "read as UTF-16, tab-separated"),  # Excel's "Unicode text"
    (SEMICOLON.replace(";", ",").replace('"Smith, Ann"', '"Smith; Ann"'), "utf-8",
     "read as UTF-8, comma-separated"),
])
def test_delimiters_and_encodings_are_detected_and_named(db: Database, text: str, encoding: str,
                                                         name: str) -> None:
    svc = office(db)
    result = svc.importer.import_bytes(admin(svc), text.encode(encoding))
    assert result.errors == [] and result.created == 2
    assert result.summary() == f"2 added, 0 updated, 0 skipped ({name})."
    rows = stored(db)
    assert rows["26-10"].client_name == "José Müller" and rows["26-11"].client_name == "Smith; Ann"
    assert rows["26-10"].mobile_e164 == "+12125550130"


def test_decode_and_sniff_directly() -> None:
    assert decode_text("a;b\n".encode("utf-16"))[1] == "UTF-16"
    assert decode_text("Müller".encode("cp1252")) == ("Müller", "Windows-1252")
    assert sniff_delimiter("a,b;c;d\n1,2;3;4\n") == ";"
    assert sniff_delimiter('"x,y";z\n"1,2";3\n') == ";"
    assert sniff_delimiter("single\nvalue\n") == ","


# --- 3. day before month ---------------------------------------------------------------------

def test_slash_dates_are_read_in_the_regions_order(db: Database) -> None:
    svc = office(db, "GB")
    data = (f"{OURS}\n26-20,Ann,,,open,03/05/2024,15/05/2024\n"
            "26-21,Bo,,,intake,15/04/2024,\n26-22,Cy,,,intake,1.2.2024,\n").encode()
    result = svc.importer.import_bytes(admin(svc), data)
    assert result.errors == [] and result.created == 3
    rows = stored(db)
    assert rows["26-20"].intake_date == date(2024, 5, 3)  # 3 May, not 5 March
    assert rows["26-20"].date_opened == date(2024, 5, 15)
    assert rows["26-21"].intake_date == date(2024, 4, 15)
    assert rows["26-22"].intake_date == date(2024, 2, 1)


def test_a_us_office_reads_month_first_unless_the_file_shows_day_first(db: Database) -> None:
    svc = office(db, "US")
    data = f"{OURS}\n26-30,Ann,,,intake,03/05/2024,\n26-31,Bo,,,intake,12/31/2024,\n".encode()
    assert svc.importer.import_bytes(admin(svc), data).errors == []
    assert stored(db)["26-30"].intake_date == date(2024, 3, 5)
    data = f"{OURS}\n26-32,Cy,,,intake,03/05/2024,\n26-33,Di,,,intake,15/04/2024,\n".encode()
    result = svc.importer.import_bytes(admin(svc), data)
    assert stored(db)["26-33"].intake_date == date(2024, 4, 15)  # only one reading
    [err] = result.errors
    assert err.line == 2 and "could be 5 March 2024 or 3 May 2024" in err.reason
    assert "month/day/year" in err.reason and "2024-03-05 or 2024-05-03" in err.reason


def test_a_date_readable_both_ways_in_a_file_of_the_other_order_is_refused(db: Database) -> None:
    svc = office(db, "GB")
    data = f"{OURS}\n26-40,Ann,,,intake,04/15/2024,\n26-41,Bo,,,intake,03/05/2024,\n".encode()
    result = svc.importer.import_bytes(admin(svc), data)
    assert stored(db)["26-40"].intake_date == date(2024, 4, 15)
    [err] = result.errors
    assert err.line == 3
    assert "could be 3 May 2024 or 5 March 2024" in err.reason
    assert "26-41" not in stored(db)


# --- other systems' headers, stage values, xlsx ----------------------------------------------

def xlsx_bytes(rows: list[list[object]], headers: list[str] = OTHER_HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Matters"
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX_ROWS: list[list[object]] = [
    ["26-50", "Nora Quinn", 2125550150, None, "Active", datetime(2024, 1, 5), date(2024, 1, 9),
     None],
    ["26-51", "Omar Reyes", 2125550151.0, 2125550159, "Pending", "05/01/2024", None, None],
    ["26-52", "Lena Park", 12125550152, None, "On Hold", datetime(2024, 1, 7), None, None],
    ["26-53", "Ivo Hart", None, None, "Declined", datetime(2024, 1, 8), None, None],
]


def test_guessed_mapping_for_other_systems_headers() -> None:
    assert guess_mapping(OTHER_HEADERS) == {
        "case_number": "Matter Number", "client_name": "Client", "mobile_phone": "Cell Phone",
        "home_phone": "Home Phone", "stage": "Status", "intake_date": "Intake Date",
        "date_opened": "Date Opened", "primary_username": "Primary Attorney"}
    assert guess_mapping(["Case #", "Client Name", "Mobile"])["case_number"] == "Case #"


def test_xlsx_with_other_headers_previews_then_imports_with_a_stage_mapping(db: Database) -> None:
    svc = office(db)
    data = xlsx_bytes(XLSX_ROWS)
    preview = svc.importer.preview(data, "export.xlsx")
    assert preview.table_description == "read as an Excel workbook, sheet 'Matters'"
    assert preview.options.columns["case_number"] == "Matter Number"
    assert preview.unknown_stages == ("On Hold",)
    first = preview.rows[0][1]
    assert (first["mobile_phone"], first["stage"], first["intake_date"]) == (
        "2125550150", "open", "2024-01-05")
    options = ImportOptions(preview.options.columns, {"On Hold": "intake"})
    result = svc.importer.import_bytes(admin(svc), data, source="export.xlsx", options=options)
    assert result.errors == [] and result.created == 4
    rows = stored(db)
    assert [rows[n].stage for n in ("26-50", "26-51", "26-52", "26-53")] == [
        "open", "intake", "intake", "rejected"]
    assert rows["26-51"].mobile_e164 == "+12125550151" and rows["26-51"].home_e164 == "+12125550159"
    assert rows["26-51"].intake_date == date(2024, 5, 1)
    assert rows["26-52"].mobile_e164 == "+12125550152"


def test_an_unmapped_stage_value_is_skipped_with_its_line(db: Database) -> None:
    svc = office(db)
    result = svc.importer.import_bytes(admin(svc), xlsx_bytes(XLSX_ROWS), source="x.xlsx")
    assert result.created == 3 and [e.line for e in result.errors] == [4]
    assert "On Hold" in result.errors[0].reason
    rows = list(csv.reader(io.StringIO(result.skipped_csv())))
    assert rows[0] == ["line", "reason"] and rows[1][0] == "4" and "On Hold" in rows[1][1]


def test_a_mapping_is_saved_by_name_and_used_again(db: Database) -> None:
    svc = office(db)
    options = options_from_args('case_number="Matter Number",client_name=Client',
                                "On Hold=intake,Active=open")
    svc.importer.save_mapping(admin(svc), "Clio export", options)
    assert svc.importer.saved_mapping("Clio export") == ImportOptions(
        {"case_number": "Matter Number", "client_name": "Client"},
        {"On Hold": "intake", "Active": "open"})
    with pytest.raises(ValidationError, match="Clio export"):
        svc.importer.saved_mapping("Other")
    with pytest.raises(ValidationError, match="not one of our columns"):
        options_from_args("matter=Matter Number", None)
    with pytest.raises(ValidationError, match="not a stage"):
        options_from_args(None, "Active=busy")


def test_a_mapped_header_missing_from_the_file_is_named(db: Database) -> None:
    svc = office(db)
    with pytest.raises(ValidationError, match="no column 'Case ID'"):
        svc.importer.import_bytes(admin(svc), xlsx_bytes(XLSX_ROWS),
                                  options=ImportOptions({"case_number": "Case ID",
                                                         "client_name": "Client"}))
    assert stored(db) == {}


# --- the command line ------------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--db", db_url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_imports_xlsx_and_semicolon_csv_with_other_headers(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, db_url, "users", "add", "boss", "--name", "Boss")[0] == 0
    book = tmp_path / "export.xlsx"
    book.write_bytes(xlsx_bytes(XLSX_ROWS))
    skipped = tmp_path / "skipped.csv"
    code, out, err = run(capsys, db_url, "import-cases", str(book), "--skipped", str(skipped))
    assert code == 1 and "3 added, 0 updated, 1 skipped" in out and "line 4:" in err
    assert "On Hold" in skipped.read_text(encoding="utf-8-sig")
    code, out, err = run(capsys, db_url, "import-cases", str(book), "--stage-map",
                         "On Hold=intake", "--save-mapping", "Clio")
    assert code == 0, err
    assert out.strip() == ("1 added, 3 updated, 0 skipped (read as an Excel workbook, "
                           "sheet 'Matters').")
    code, out, err = run(capsys, db_url, "import-cases", str(book), "--mapping", "Clio")
    assert code == 0 and "0 added, 4 updated" in out, err
    code, _, err = run(capsys, db_url, "import-cases", str(book), "--mapping", "Nope")
    assert code == 1 and "no saved mapping called 'Nope'" in err

    text = ("Case #;Client Full Name;Mobile;Status;Date of Intake\n"
            "26-60;Åsa Berg;0612345678;Open;03/05/2024\n")
    sheet = tmp_path / "eu.csv"
    sheet.write_bytes(text.encode("cp1252"))
    code, out, err = run(capsys, db_url, "settings", "set", "default_region", "NL")
    assert code == 0
    code, out, err = run(capsys, db_url, "import-cases", str(sheet), "--map",
                         'case_number="Case #",client_name=Client Full Name,mobile_phone=Mobile,'
                         "intake_date=Date of Intake,stage=Status")
    assert code == 1 and "line 2:" in err and "date it was opened" in err
    code, out, err = run(capsys, db_url, "import-cases", str(sheet), "--map",
                         'case_number="Case #",client_name=Client Full Name,mobile_phone=Mobile,'
                         "intake_date=Date of Intake", "--stage-map", "Open=intake")
    assert code == 0, err
    assert "1 added, 0 updated, 0 skipped (read as Windows-1252, semicolon-separated)" in out
    db = Database(db_url)
    try:
        with db.session() as s:
            m = s.scalar(select(Matter).where(Matter.case_number == "26-60"))
            assert m is not None and m.client_name == "Åsa Berg"
            assert m.mobile_e164 == "+31612345678" and m.intake_date == date(2024, 5, 3)
            assert s.scalar(select(Matter.stage).where(Matter.case_number == "26-52")) == "intake"
    finally:
        db.dispose()


def test_a_name_with_a_quoted_newline_is_named_by_its_first_line(db: Database) -> None:
    """A cell with Alt+Enter spans two lines of the CSV; the row is named by the line it
    starts on, not the line its quote closes on."""
    data = (b"case_number,client_name,mobile_phone,intake_date,date_opened,stage\r\n"
            b'7001,"Ann\nLee",2125550123,2024-01-01,2024-01-02,open\r\n'
            b"7001,Dup,2125550124,2024-01-01,2024-01-02,open\r\n")
    table = read_delimited(data)
    assert [line for line, _ in table.rows] == [2, 4]
