"""Case import from CSV (SPEC F16): bad rows reported by line, good rows imported atomically."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select

from desktop_sms.db.models import Matter
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, ValidationError
from desktop_sms.services.matters import MatterInput, MatterService

COLUMNS = ("case_number", "client_name", "mobile_phone", "home_phone", "stage", "intake_date",
           "date_opened", "primary_username")
REQUIRED = ("case_number", "client_name")
MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, with the line of the file it is on."""

    line: int
    reason: str


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


def decode_csv(data: bytes) -> str:
    """UTF-8 with or without a byte-order mark; anything else is refused with a reason."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"The file is not UTF-8 text (a byte on line {line} cannot be read). Save it from "
            "your spreadsheet as 'CSV UTF-8' and import it again; nothing was imported."
        ) from None


def _date(raw: str, column: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    for sep in ("/", "-"):  # US office spreadsheets: 01/05/2024
        parts = raw.split(sep)
        if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[2]) == 4:
            try:
                return date(int(parts[2]), int(parts[0]), int(parts[1]))
            except ValueError:
                break
    raise ValidationError(f"{column} '{raw}' is not a date (use YYYY-MM-DD).")


class CaseImporter:
    """Reads a CSV of matters and imports the good rows in one transaction."""

    def __init__(self, matters: MatterService) -> None:
        self.matters = matters

    def import_file(self, actor: Actor, path: Path,
                    progress: Callable[[int, int], None] | None = None) -> ImportResult:
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise ValidationError("The file is larger than 200 MB; split it and import the parts.")
            data = path.read_bytes()
        except OSError as exc:
            raise ValidationError(f"The file could not be read: {exc.strerror or exc}.") from None
        return self.import_bytes(actor, data, progress=progress, source=path.name)

    def import_bytes(self, actor: Actor, data: bytes,
                     progress: Callable[[int, int], None] | None = None,
                     source: str = "CSV") -> ImportResult:
        """Validate every row, then write the good ones; a database error writes nothing."""
        text = decode_csv(data)
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise ValidationError("The file is empty.") from None
        except csv.Error as exc:
            raise ValidationError(f"Line 1 of the file is not CSV: {exc}.") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise ValidationError("The first line must name the columns; missing: "
                                  + ", ".join(missing) + ". Expected: " + ",".join(COLUMNS) + ".")
        index = {n: i for i, n in enumerate(names) if n in COLUMNS}
        result = ImportResult()
        good: list[tuple[int, MatterInput]] = []
        seen: dict[str, int] = {}
        rows: list[tuple[int, list[str]]] = []
        try:
            for row in reader:
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            result.errors.append(RowError(reader.line_num, f"not valid CSV ({exc}); the rest of the "
                                          "file was not read"))
        total = len(rows)
        for n, (line, row) in enumerate(rows):
            if not any(cell.strip() for cell in row):
                continue
            def col(name: str, row: list[str] = row) -> str:
                i = index.get(name)
                return row[i].strip() if i is not None and i < len(row) else ""
            try:
                if len(row) > len(header):
                    raise ValidationError(f"has {len(row)} fields but the header has {len(header)}.")
                item = MatterInput(
                    case_number=col("case_number"), client_name=col("client_name"),
                    stage=col("stage") or "intake", mobile=col("mobile_phone") or None,
                    home=col("home_phone") or None,
                    intake_date=_date(col("intake_date"), "intake_date"),
                    date_opened=_date(col("date_opened"), "date_opened"),
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
