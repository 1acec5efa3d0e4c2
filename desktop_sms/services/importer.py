"""Case import (docs/product.md F16) from the files offices really export; bad rows reported by line.

What is read (docs/importing.md):

* ``.xlsx`` workbooks (the first sheet, read-only with openpyxl) and ``.csv`` / ``.txt`` text;
  text is UTF-8, UTF-8 with a byte-order mark, UTF-16 (Excel's "Unicode text") or
  Windows-1252, detected with charset-normalizer, and separated by commas, semicolons (what
  Excel writes in much of Europe) or tabs, detected from the first lines. The summary names
  what was found.
* Columns: ours (``COLUMNS``) or another system's headers ("Matter Number", "Cell Phone", …)
  mapped to ours (`guess_mapping`, editable); stage values are mapped too
  (`DEFAULT_STAGE_MAP`, editable); a mapping can be saved by name for the next import.
* Phone cells that a spreadsheet turned into numbers ("2125550123.0", "12125550123",
  "2.125550123E+09") read back as digits; an exponent form that lost digits ("2.12555E+09")
  is refused with a sentence. Digits with a country code but no "+" are tried with one.
* Slash dates are read in the order the office's ``default_region`` writes them (day first
  except in the United States and a few others); a file whose other dates show the opposite
  order makes a date readable both ways ambiguous, and it is refused naming both readings.

Good rows are imported in one transaction; bad rows are skipped with their line and a reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select

from desktop_sms.db.models import Matter, Setting
from desktop_sms.domain.phones import try_normalize
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, ValidationError
from desktop_sms.services.matters import STAGES, MatterInput, MatterService

COLUMNS = ("case_number", "client_name", "mobile_phone", "home_phone", "stage", "intake_date",
           "date_opened", "primary_username")
REQUIRED = ("case_number", "client_name")
MAX_BYTES = 200 * 1024 * 1024
PREVIEW_ROWS = 10

#: Headers other case-management systems use for our columns (compared case-insensitively,
#: ignoring spaces, punctuation and "#"/"no").
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "case_number": ("case number", "matter number", "case #", "case no", "matter #",
                    "matter no", "matter id", "case id", "file number", "matter"),
    "client_name": ("client", "client name", "client full name", "name", "contact",
                    "contact name"),
    "mobile_phone": ("cell phone", "mobile", "mobile phone", "cell", "cell number",
                     "mobile number", "sms phone", "text phone"),
    "home_phone": ("home phone", "home", "phone", "home number", "telephone", "landline"),
    "stage": ("status", "stage", "case status", "matter status"),
    "intake_date": ("intake date", "intake", "date of intake", "intake on"),
    "date_opened": ("date opened", "opened", "open date", "opened on", "date open"),
    "primary_username": ("primary attorney", "attorney", "responsible attorney",
                         "primary user", "assigned to", "username", "lawyer"),
}

#: Stage values of other systems and the stage each becomes (lower case keys).
DEFAULT_STAGE_MAP: dict[str, str] = {
    "active": "open", "open": "open", "closed": "closed", "pending": "intake",
    "intake": "intake", "declined": "rejected", "rejected": "rejected",
    "prescreen": "prescreen", "pre-screen": "prescreen",
}

#: Regions that write dates month first (CLDR short date patterns); everyone else: day first.
MONTH_FIRST_REGIONS = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM", "PH", "FM", "MH",
                                 "PW"})
SAVED_MAPPING_PREFIX = "import_map:"
_ENCODING_NAMES = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8 with BOM", "utf_16": "UTF-16",
                   "cp1252": "Windows-1252"}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_SLASH_DATE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})")
_DECIMAL_CELL = re.compile(r"\+?(\d+)\.0+")
_EXPONENT_CELL = re.compile(r"\+?(\d)(?:[.,](\d+))?[eE]\+?(\d{1,2})")
_HEADER_NOISE = re.compile(r"[^a-z0-9#]+")


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, with the line of the file it is on."""

    line: int
    reason: str


@dataclass
class ImportResult:
    """What an import did; ``source`` describes the file as read (encoding, separator)."""

    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    source: str = ""

    @property
    def imported(self) -> int:
        return self.created + self.updated

    def summary(self) -> str:
        """'3 added, 1 updated, 2 skipped (read as Windows-1252, semicolon-separated).'"""
        text = f"{self.created} added, {self.updated} updated, {len(self.errors)} skipped"
        return text + (f" ({self.source})." if self.source else ".")

    def skipped_csv(self) -> str:
        """The skipped lines and their reasons as CSV text (line,reason), for a file to save."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["line", "reason"])
        for err in self.errors:
            writer.writerow([err.line, err.reason])
        return out.getvalue()


@dataclass(frozen=True)
class ImportOptions:
    """How a file's columns and stage values become ours.

    ``columns``: our column → the file's header (missing columns are left out);
    ``stages``: the file's stage value (any case) → one of `STAGES`.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    stages: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"columns": dict(self.columns), "stages": dict(self.stages)},
                          ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ImportOptions:
        data = json.loads(text)
        return cls(dict(data.get("columns", {})), dict(data.get("stages", {})))


@dataclass
class Table:
    """A file as read: its headers, its rows with their line numbers, and how it was read."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]
    description: str
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class Preview:
    """What the dialog shows before importing: the guessed mapping and the first rows as read."""

    table_description: str
    headers: tuple[str, ...]
    options: ImportOptions
    rows: tuple[tuple[int, dict[str, str]], ...]
    unknown_stages: tuple[str, ...]
    row_count: int
    stage_values: tuple[str, ...] = ()


# --- reading files --------------------------------------------------------------------------

def decode_text(data: bytes) -> tuple[str, str]:
    """Decode exported text; returns (text, encoding name as people read it).

    Byte-order marks decide UTF-8 with BOM and UTF-16; text that is valid UTF-8 is UTF-8;
    otherwise charset-normalizer chooses between UTF-16 (without a mark) and Windows-1252.

    Raises:
        ValidationError: none of these encodings reads the file.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "UTF-8 with BOM"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["utf_16", "cp1252"]).best()
    if best is not None and best.encoding in _ENCODING_NAMES:
        return str(best), _ENCODING_NAMES[best.encoding]
    raise ValidationError(
        f"The file's text could not be read (a byte on line {bad_line} is not UTF-8, UTF-16 "
        "or Windows-1252). Save it from your spreadsheet as 'CSV UTF-8' and import it again; "
        "nothing was imported.")


def decode_csv(data: bytes) -> str:
    """The text of a CSV file in any of the encodings `decode_text` reads."""
    return decode_text(data)[0]


def sniff_delimiter(text: str) -> str:
    """The separator of a delimited text: comma, semicolon or tab.

    The one that splits the first lines into the same, largest number of fields wins (a
    separator inside quotes does not count); a comma when none splits anything.
    """
    sample = text[:64 * 1024].splitlines()[:20]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            counts = [len(r) for r in csv.reader(sample, delimiter=delimiter) if any(r)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _cell_text(value: object) -> str:
    """An xlsx cell as the text a CSV export would hold (numbers without a trailing .0)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def read_xlsx(data: bytes) -> Table:
    """The first sheet of an .xlsx workbook (read-only; formulas give their saved values)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a damaged or encrypted file: openpyxl raises many kinds
        raise ValidationError(f"The workbook could not be opened ({type(exc).__name__}); "
                              "save it again from your spreadsheet.") from None
    try:
        sheet = book.worksheets[0]
        rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        title = sheet.title
    finally:
        book.close()
    if not rows:
        raise ValidationError("The workbook's first sheet is empty.")
    headers = rows[0]
    while headers and not headers[-1].strip():
        headers = headers[:-1]
    return Table(headers, [(n, r) for n, r in enumerate(rows[1:], start=2)],
                 f"read as an Excel workbook, sheet '{title}'")


def read_delimited(data: bytes) -> Table:
    """A CSV/TSV export: encoding and separator detected (see module docstring)."""
    text, encoding = decode_text(data)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise ValidationError("The file is empty.") from None
    except csv.Error as exc:
        raise ValidationError(f"Line 1 of the file is not CSV: {exc}.") from None
    table = Table(headers, [], f"read as {encoding}, {_DELIMITER_NAMES[delimiter]}-separated")
    try:
        start = reader.line_num + 1  # a quoted newline spans lines: name the row's first
        for row in reader:
            table.rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        table.errors.append(RowError(reader.line_num, f"not valid CSV ({exc}); the rest of the "
                                     "file was not read"))
    return table


def read_table(data: bytes, name: str = "") -> Table:
    """A workbook or a delimited text, told apart by content (a ZIP archive is a workbook)."""
    if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data)
    return read_delimited(data)


# --- columns and stage values ---------------------------------------------------------------

def _header_key(text: str) -> str:
    text = text.strip().lower().replace("no.", "#").replace("number", "#")
    return _HEADER_NOISE.sub("", text)


def guess_mapping(headers: Iterable[str]) -> dict[str, str]:
    """Our column → the file's header, for headers that are ours or known synonyms."""
    by_key: dict[str, str] = {}
    for header in headers:
        if header.strip():
            by_key.setdefault(_header_key(header), header)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in COLUMNS:  # exact names first, then synonyms in their order
        for candidate in (column, *HEADER_SYNONYMS[column]):
            found = by_key.get(_header_key(candidate))
            if found is not None and found not in used:
                mapping[column] = found
                used.add(found)
                break
    return mapping


def parse_pairs(text: str, what: str) -> dict[str, str]:
    """'a=b,c="D E"' as a dict (the CLI's --map and --stage-map); quotes keep commas."""
    pairs: dict[str, str] = {}
    for item in next(csv.reader([text], skipinitialspace=True), []):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValidationError(f"{what}: '{item}' is not NAME=VALUE.")
        pairs[key.strip()] = value.strip().strip('"')
    return pairs


def options_from_args(map_text: str | None, stage_text: str | None) -> ImportOptions:
    """--map case_number="Matter Number",… and --stage-map Active=open,… as ImportOptions."""
    columns = parse_pairs(map_text, "--map") if map_text else {}
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValidationError(f"--map: {', '.join(unknown)} is not one of our columns "
                              f"({', '.join(COLUMNS)}).")
    stages = parse_pairs(stage_text, "--stage-map") if stage_text else {}
    bad = [v for v in stages.values() if v.lower() not in STAGES]
    if bad:
        raise ValidationError(f"--stage-map: '{bad[0]}' is not a stage; stages are "
                              f"{', '.join(STAGES)}.")
    return ImportOptions(columns, {k: v.lower() for k, v in stages.items()})


# --- cells ----------------------------------------------------------------------------------

def phone_cell(raw: str, column: str) -> str:
    """A phone cell as digits when a spreadsheet turned it into a number.

    "2125550123.0" → "2125550123"; "2.125550123E+09" → "2125550123". Other text is returned
    unchanged for the phone rules to judge.

    Raises:
        ValidationError: an exponent form that lost digits ("2.12555E+09").
    """
    text = raw.strip()
    decimal = _DECIMAL_CELL.fullmatch(text)
    if decimal:
        return decimal.group(1)
    exponent = _EXPONENT_CELL.fullmatch(text)
    if exponent:
        fraction = exponent.group(2) or ""
        if len(fraction) < int(exponent.group(3)):
            raise ValidationError(
                f"{column} '{text}' was shortened by the spreadsheet (scientific notation) and "
                "its last digits are lost; format the column as Text and export it again.")
        try:
            return str(int(Decimal(text.replace(",", "."))))
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            return text
    return text


def _phone(raw: str, column: str, region: str) -> str | None:
    text = phone_cell(raw, column)
    if not text:
        return None
    if text.isdigit() and len(text) > 10 and try_normalize(text, region) is None \
            and try_normalize("+" + text, region) is not None:
        return "+" + text  # an integer with its country code, the "+" lost
    return text


def month_first(region: str) -> bool:
    """True when the region writes slash dates month first (03/05/2024 = 5 March)."""
    return region.upper() in MONTH_FIRST_REGIONS


def _readings(raw: str) -> tuple[date | None, date | None] | None:
    """(month-first, day-first) readings of a slash date, or None when it is not one."""
    match = _SLASH_DATE.fullmatch(raw.strip())
    if not match:
        return None
    a, b, year = int(match.group(1)), int(match.group(3)), int(match.group(4))

    def make(month: int, day: int) -> date | None:
        try:
            return date(year, month, day)
        except ValueError:
            return None

    return make(a, b), make(b, a)


def _long(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


class _DateReader:
    """Reads the file's dates in the region's order, unless the file shows the other one."""

    def __init__(self, region: str, cells: Iterable[str]) -> None:
        self.month_first = month_first(region)
        self.region = region.upper()
        self.file_contradicts = False
        for cell in cells:
            readings = _readings(cell)
            if readings is None:
                continue
            ours, other = readings if self.month_first else readings[::-1]
            if ours is None and other is not None:
                self.file_contradicts = True
                break

    def read(self, raw: str, column: str) -> date | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
        if len(raw) > 10:
            try:  # a date with a time of day, as some exports write it
                return datetime.fromisoformat(raw).date()
            except ValueError:
                pass
        readings = _readings(raw)
        if readings is None:
            raise ValidationError(f"{column} '{raw}' is not a date (use YYYY-MM-DD).")
        ours, other = readings if self.month_first else readings[::-1]
        order = "month/day/year" if self.month_first else "day/month/year"
        if ours is not None and other is not None and ours != other and self.file_contradicts:
            raise ValidationError(
                f"{column} '{raw}' could be {_long(ours)} or {_long(other)}: other dates in "
                f"this file are not in {order} order, as region {self.region} writes them. "
                f"Write it as {ours.isoformat()} or {other.isoformat()}.")
        if ours is not None:
            return ours
        if other is not None:
            if self.file_contradicts:
                return other
            raise ValidationError(f"{column} '{raw}' is not a date in {order} order (as region "
                                  f"{self.region} writes dates); if it means {_long(other)}, "
                                  f"write {other.isoformat()}.")
        raise ValidationError(f"{column} '{raw}' is not a date (use YYYY-MM-DD).")


# --- the importer ---------------------------------------------------------------------------

class CaseImporter:
    """Reads a file of matters and imports the good rows in one transaction."""

    def __init__(self, matters: MatterService) -> None:
        self.matters = matters

    @staticmethod
    def read_file(path: Path) -> bytes:
        """The file's bytes, or ValidationError with a sentence (too big, unreadable)."""
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise ValidationError("The file is larger than 200 MB; split it and import the parts.")
            return path.read_bytes()
        except OSError as exc:
            raise ValidationError(f"The file could not be read: {exc.strerror or exc}.") from None

    def import_file(self, actor: Actor, path: Path,
                    progress: Callable[[int, int], None] | None = None,
                    options: ImportOptions | None = None) -> ImportResult:
        """Import a .csv/.txt/.xlsx file (see `import_bytes`)."""
        return self.import_bytes(actor, self.read_file(path), progress=progress,
                                 source=path.name, options=options)

    def preview_file(self, path: Path, options: ImportOptions | None = None) -> Preview:
        """`preview` of a file on disk."""
        return self.preview(self.read_file(path), path.name, options)

    def preview(self, data: bytes, name: str = "",
                options: ImportOptions | None = None) -> Preview:
        """The mapping that would be used (guessed unless given) and the first rows as read.

        ``unknown_stages`` lists the file's stage values the stage mapping does not cover;
        ``stage_values`` every distinct stage value in the file, in order of appearance.
        """
        table = read_table(data, name)
        options = self._complete(table, options)
        index = self._index(table, options, require=False)  # the dialog asks for what is missing
        rows: list[tuple[int, dict[str, str]]] = []
        stages: dict[str, None] = {}
        every_stage: dict[str, None] = {}
        stage_map = self._stage_map(options)
        for line, row in table.rows:
            if not any(cell.strip() for cell in row):
                continue
            values = {c: (row[i].strip() if i < len(row) else "") for c, i in index.items()}
            stage = values.get("stage", "")
            if stage:
                every_stage.setdefault(stage, None)
            if stage and stage.lower() not in stage_map and stage.lower() not in STAGES:
                stages.setdefault(stage, None)
            if len(rows) < PREVIEW_ROWS:
                if stage:
                    values["stage"] = stage_map.get(stage.lower(), stage)
                rows.append((line, values))
        return Preview(table.description, tuple(table.headers), options, tuple(rows),
                       tuple(stages), len(table.rows), tuple(every_stage))

    @staticmethod
    def _complete(table: Table, options: ImportOptions | None) -> ImportOptions:
        if options is None:
            return ImportOptions(guess_mapping(table.headers), dict(DEFAULT_STAGE_MAP))
        columns = dict(options.columns) or guess_mapping(table.headers)
        return ImportOptions(columns, dict(options.stages))

    @staticmethod
    def _stage_map(options: ImportOptions) -> dict[str, str]:
        mapping = dict(DEFAULT_STAGE_MAP)
        mapping.update({k.strip().lower(): v.strip().lower() for k, v in options.stages.items()})
        return mapping

    @staticmethod
    def _index(table: Table, options: ImportOptions, require: bool = True) -> dict[str, int]:
        """Our column → its position in the file; ValidationError when a required one is missing."""
        positions: dict[str, int] = {}
        stripped = [h.strip() for h in table.headers]
        lowered = [h.lower() for h in stripped]
        for column, header in options.columns.items():
            if column not in COLUMNS:
                continue
            wanted = header.strip()
            if wanted in stripped:
                positions[column] = stripped.index(wanted)
            elif wanted.lower() in lowered:
                positions[column] = lowered.index(wanted.lower())
            else:
                raise ValidationError(f"The file has no column '{header}' (for {column}); its "
                                      f"columns are: {', '.join(stripped)}.")
        missing = [c for c in REQUIRED if c not in positions]
        if missing and require:
            raise ValidationError(
                "The first line must name the columns; missing: " + ", ".join(missing)
                + ". Expected: " + ",".join(COLUMNS) + " (or map the file's columns to these).")
        return positions

    def import_bytes(self, actor: Actor, data: bytes,
                     progress: Callable[[int, int], None] | None = None,
                     source: str = "CSV", options: ImportOptions | None = None) -> ImportResult:
        """Validate every row, then write the good ones; a database error writes nothing.

        ``options`` maps the file's columns and stage values to ours; None guesses them (our
        own headers always map to themselves).
        """
        table = read_table(data, source)
        options = self._complete(table, options)
        index = self._index(table, options)
        stage_map = self._stage_map(options)
        region = self.matters.region
        date_cells = [row[i] for _, row in table.rows
                      for c in ("intake_date", "date_opened")
                      if (i := index.get(c)) is not None and i < len(row)]
        dates = _DateReader(region, date_cells)
        result = ImportResult(errors=list(table.errors), source=table.description)
        good: list[tuple[int, MatterInput]] = []
        seen: dict[str, int] = {}
        rows = table.rows
        total = len(rows)
        width = len(table.headers)
        for n, (line, row) in enumerate(rows):
            if not any(cell.strip() for cell in row):
                continue

            def col(name: str, row: list[str] = row) -> str:
                i = index.get(name)
                return row[i].strip() if i is not None and i < len(row) else ""
            try:
                if len(row) > width and any(c.strip() for c in row[width:]):
                    raise ValidationError(f"has {len(row)} fields but the header has {width}.")
                stage = col("stage")
                item = MatterInput(
                    case_number=phone_cell(col("case_number"), "case_number"),
                    client_name=col("client_name"),
                    stage=stage_map.get(stage.lower(), stage) if stage else "intake",
                    mobile=_phone(col("mobile_phone"), "mobile_phone", region),
                    home=_phone(col("home_phone"), "home_phone", region),
                    intake_date=dates.read(col("intake_date"), "intake_date"),
                    date_opened=dates.read(col("date_opened"), "date_opened"),
                    primary_username=col("primary_username") or None)
                self.matters.validate(item)
                if item.case_number in seen:
                    raise ValidationError(f"case {item.case_number} is already on line "
                                          f"{seen[item.case_number]}.")
                seen[item.case_number] = line
                good.append((line, item))
            except ValidationError as exc:
                result.errors.append(RowError(line, str(exc)))
            if progress and n % 200 == 0:
                progress(n, total * 2)
        now = self.matters.clock()
        with self.matters.db.transaction() as s:
            existing = set(s.scalars(select(Matter.case_number).where(
                Matter.case_number.in_([i.case_number for _, i in good])))) if len(good) < 30000 \
                else set(s.scalars(select(Matter.case_number)))
            written: list[tuple[int, MatterInput]] = []
            for n, (line, item) in enumerate(good):
                try:
                    with s.begin_nested():
                        self.matters.upsert(s, actor, item, audit_it=False)
                except ValidationError as exc:  # e.g. unknown primary user
                    result.errors.append(RowError(line, str(exc)))
                    continue
                written.append((line, item))
                if progress and n % 200 == 0:
                    progress(total + n, total * 2)
            for _, item in written:
                if item.case_number in existing:
                    result.updated += 1
                else:
                    result.created += 1
            audit.record(s, actor, "matters.import", now, target_type="file", target_id=source[:60],
                         detail=f"{result.created} added, {result.updated} updated, "
                                f"{len(result.errors)} rows skipped")
        result.errors.sort(key=lambda e: e.line)
        if progress:
            progress(total * 2, total * 2)
        return result

    # --- saved mappings ----------------------------------------------------------------
    def save_mapping(self, actor: Actor, name: str, options: ImportOptions) -> None:
        """Keep a mapping under a name for the next import (office-wide)."""
        name = name.strip()
        if not name or len(SAVED_MAPPING_PREFIX + name) > 60:
            raise ValidationError("Give the mapping a name of 1 to "
                                  f"{60 - len(SAVED_MAPPING_PREFIX)} characters.")
        key, now = SAVED_MAPPING_PREFIX + name, self.matters.clock()
        with self.matters.db.transaction() as s:
            row = s.get(Setting, key)
            if row is None:
                s.add(Setting(key=key, value=options.to_json(), updated_at=now,
                              updated_by_id=actor.user_id))
            else:
                row.value, row.updated_at, row.updated_by_id = options.to_json(), now, actor.user_id

    def saved_mappings(self) -> dict[str, ImportOptions]:
        """Every saved mapping by name (sorted)."""
        with self.matters.db.session() as s:
            rows = s.execute(select(Setting.key, Setting.value).where(
                Setting.key.startswith(SAVED_MAPPING_PREFIX)).order_by(Setting.key)).all()
        out: dict[str, ImportOptions] = {}
        for key, value in rows:
            try:
                out[key[len(SAVED_MAPPING_PREFIX):]] = ImportOptions.from_json(value)
            except (ValueError, AttributeError):
                continue
        return out

    def saved_mapping(self, name: str) -> ImportOptions:
        """One saved mapping; ValidationError naming the saved ones when there is none."""
        found = self.saved_mappings()
        if name not in found:
            known = ", ".join(found) or "none yet"
            raise ValidationError(f"There is no saved mapping called '{name}' (saved: {known}).")
        return found[name]
