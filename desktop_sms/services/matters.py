"""Matters (cases): the case list's queries, the case form, consent and stage changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, table
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import Assignment, Matter, User
from desktop_sms.domain.phones import InvalidPhoneNumber, normalize
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, local_date, utcnow

STAGES = ("prescreen", "intake", "open", "closed", "rejected")
CASE_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}")
MIN_INDEXED_CHARS = 3  # the trigram index finds substrings of three characters or more
COUNT_CAP = 1000  # a shorter filter is counted up to this (+1): "1,000+ cases"


def count_is_capped(text: str, count: int) -> bool:
    """Whether `MatterService.count(text)` stopped counting at the cap ("1,000+")."""
    return count > COUNT_CAP and 0 < len(text.strip()) < MIN_INDEXED_CHARS


def _fts_phrase(value: str) -> str:
    """An FTS5 string literal: the text as one phrase, double quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


@dataclass(frozen=True)
class MatterRow:
    """One row of the case list."""

    id: int
    case_number: str
    client_name: str
    stage: str
    mobile: str | None
    home: str | None
    intake_date: date | None
    date_opened: date | None
    primary: str | None
    texts: str = ""  # "Opted out" when a client number replied STOP (the case list's mark)


@dataclass(frozen=True)
class MatterDetail:
    """A matter as its header and forms show it."""

    id: int
    case_number: str
    client_name: str
    stage: str
    mobile_raw: str | None
    mobile_e164: str | None
    home_raw: str | None
    home_e164: str | None
    intake_date: date | None
    date_opened: date | None
    consent: str
    consent_by: str | None
    consent_at: datetime | None
    assignees: tuple[tuple[str, str, int], ...]  # (name, kind, user id) of current assignments


@dataclass(frozen=True)
class MatterInput:
    """What the case form and the importer give to create or update a matter."""

    case_number: str
    client_name: str
    stage: str = "intake"
    mobile: str | None = None
    home: str | None = None
    intake_date: date | None = None
    date_opened: date | None = None
    primary_username: str | None = None


# The case list's columns the query can sort by (MatterRow field → column).
CASE_SORT_KEYS: dict[str, Any] = {
    "case_number": Matter.case_number,
    "client_name": Matter.client_name,
    "stage": Matter.stage,
    "mobile": Matter.mobile_raw,
    "home": Matter.home_raw,
    "intake_date": Matter.intake_date,
    "date_opened": Matter.date_opened,
}


def opted_out_mark() -> ColumnElement[str]:
    """'Opted out' when the matter's mobile or home number replied STOP, else ''."""
    from sqlalchemy import case, exists

    from desktop_sms.db.models import OptOut

    stopped = exists().where(OptOut.opted_out.is_(True),  # by line: "+521…" is "+52…"
                             or_(OptOut.phone_key == Matter.mobile_key,
                                 OptOut.phone_key == Matter.home_key))
    return case((stopped, "Opted out"), else_="")


def primary_name_subquery() -> Select[str]:
    """The name of a matter's current primary assignee, for the case list."""
    today = date.today()
    return (select(User.name).join(Assignment, Assignment.user_id == User.id)
            .where(Assignment.matter_id == Matter.id, Assignment.kind == "primary",
                   or_(Assignment.end_date.is_(None), Assignment.end_date > today))
            .order_by(Assignment.start_date.desc()).limit(1))


class MatterService:
    """Reads and writes matters for the case list, the case view and the importer."""

    def __init__(self, db: Database, clock: Clock = utcnow, region: str = "US") -> None:
        self.db = db
        self.clock = clock
        self.region = region
        self._fts: bool | None = None

    # --- case list -----------------------------------------------------------------------
    def _has_search_index(self) -> bool:
        """Whether migration 0002 could build the SQLite FTS5 trigram table (checked once)."""
        if self._fts is None:
            self._fts = False
            if self.db.engine.dialect.name == "sqlite":
                with self.db.session() as s:
                    self._fts = s.scalar(sql_text(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                        "AND name = 'matters_fts'")) is not None
        return self._fts

    def _phone_digits(self, text: str) -> str | None:
        """The digits to look for in the stored numbers, when the text reads as a phone."""
        digits = re.sub(r"\D", "", text)
        if len(digits) < 3 or re.search(r"[A-Za-z]", text):
            return None
        try:
            return normalize(text, self.region)[1:]
        except InvalidPhoneNumber:
            return digits

    def _filtered(self, text: str, mine_user_id: int | None) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        text = text.strip()
        if text:
            digits = self._phone_digits(text)
            if len(text) >= MIN_INDEXED_CHARS and self._has_search_index():
                # A substring of number or name, or the digits of a phone: an FTS5 trigram
                # query (case-insensitive substring match) instead of scanning every row.
                query = "{case_number client_name} : " + _fts_phrase(text)
                if digits:
                    query += " OR phones : " + _fts_phrase(digits)
                conditions.append(Matter.id.in_(
                    select(literal_column("rowid")).select_from(table("matters_fts"))
                    .where(literal_column("matters_fts").op("MATCH")(query))))
            else:
                like = f"%{text.lower()}%"
                ors = [func.lower(Matter.case_number).like(like),
                       func.lower(Matter.client_name).like(like)]
                if digits:
                    dlike = f"%{digits}%"
                    ors += [Matter.mobile_e164.like(dlike), Matter.home_e164.like(dlike)]
                conditions.append(or_(*ors))
        if mine_user_id is not None:
            today = local_date(self.clock())
            conditions.append(Matter.id.in_(
                select(Assignment.matter_id).where(
                    Assignment.user_id == mine_user_id,
                    or_(Assignment.end_date.is_(None), Assignment.end_date > today))))
        return conditions

    def count(self, text: str = "", mine_user_id: int | None = None) -> int:
        """How many matters the filter matches; at most COUNT_CAP + 1 for a short filter.

        A filter of one or two characters can't use the search index and matches much of the
        list, so it is counted only up to COUNT_CAP + 1 (`count_is_capped` tells; the case
        list shows "1,000+ cases").
        """
        conditions = self._filtered(text, mine_user_id)
        if 0 < len(text.strip()) < MIN_INDEXED_CHARS:
            inner = select(literal_column("1")).select_from(Matter).where(*conditions) \
                .limit(COUNT_CAP + 1).subquery()
            stmt = select(func.count()).select_from(inner)
        else:
            stmt = select(func.count(Matter.id)).where(*conditions)
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)

    def page(self, text: str = "", mine_user_id: int | None = None, *, offset: int = 0,
             limit: int = 200, sort: str = "case_number",
             descending: bool = True) -> list[MatterRow]:
        """One window of the case list, newest case numbers first unless sorted otherwise.

        sort: a key of CASE_SORT_KEYS (a MatterRow field; an unknown key sorts by case
        number); ties are broken by case number, so paging is stable.
        """
        key = CASE_SORT_KEYS.get(sort, Matter.case_number)
        order = [key.desc() if descending else key.asc()]
        if key is not Matter.case_number:
            order.append(Matter.case_number.desc() if descending else Matter.case_number.asc())
        stmt = (select(Matter.id, Matter.case_number, Matter.client_name, Matter.stage,
                       Matter.mobile_raw, Matter.home_raw, Matter.intake_date, Matter.date_opened,
                       primary_name_subquery().scalar_subquery(), opted_out_mark())
                .where(*self._filtered(text, mine_user_id))
                .order_by(*order).offset(offset).limit(limit))
        with self.db.session() as s:
            return [MatterRow(*row) for row in s.execute(stmt)]

    def search(self, text: str, limit: int = 50) -> list[MatterRow]:
        """Matters by number, name or phone, for the Received Log's Link to case…."""
        return self.page(text, None, limit=limit)

    # --- one matter ----------------------------------------------------------------------
    def detail(self, matter_id: int) -> MatterDetail:
        with self.db.session() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            return self._detail(s, m)

    def by_number(self, case_number: str) -> MatterDetail:
        with self.db.session() as s:
            m = s.scalar(select(Matter).where(Matter.case_number == case_number.strip()))
            if m is None:
                raise NotFound(f"There is no case numbered '{case_number}'.")
            return self._detail(s, m)

    def _detail(self, s: Session, m: Matter) -> MatterDetail:
        today = local_date(self.clock())
        consent_by = s.get(User, m.consent_by_id).name if m.consent_by_id else None  # type: ignore[union-attr]
        rows = s.execute(select(User.name, Assignment.kind, User.id)
                         .join(Assignment, Assignment.user_id == User.id)
                         .where(Assignment.matter_id == m.id,
                                or_(Assignment.end_date.is_(None), Assignment.end_date > today))
                         .order_by(Assignment.kind.desc(), User.name)).all()
        return MatterDetail(m.id, m.case_number, m.client_name, m.stage, m.mobile_raw, m.mobile_e164,
                            m.home_raw, m.home_e164, m.intake_date, m.date_opened, m.consent,
                            consent_by, m.consent_at, tuple((r[0], r[1], r[2]) for r in rows))

    def set_consent(self, actor: Actor, matter_id: int, answer: str) -> None:
        """Record the client's SMS consent with who recorded it and when (audited)."""
        if answer not in ("yes", "no", "not_asked"):
            raise ValidationError("Consent is yes, no or not asked.")
        now = self.clock()
        with self.db.transaction() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            m.consent, m.consent_by_id, m.consent_at, m.updated_at = answer, actor.user_id, now, now
            audit.record(s, actor, "consent.record", now, target_type="matter",
                         target_id=m.case_number, detail=f"consent {answer}")

    def set_stage(self, actor: Actor, matter_id: int, stage: str) -> None:
        """Change the stage; rejecting ends current assignments, so no alert is raised after."""
        if stage not in STAGES:
            raise ValidationError(f"'{stage}' is not a stage; stages are {', '.join(STAGES)}.")
        now = self.clock()
        with self.db.transaction() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            self._apply_stage(s, m, stage, now)
            audit.record(s, actor, "matter.stage", now, target_type="matter",
                         target_id=m.case_number, detail=f"stage {stage}")

    def _apply_stage(self, s: Session, m: Matter, stage: str, now: datetime) -> None:
        m.stage = stage
        if stage == "open" and m.date_opened is None:
            m.date_opened = local_date(now)
        if stage == "rejected":
            for a in s.scalars(select(Assignment).where(
                    Assignment.matter_id == m.id,
                    or_(Assignment.end_date.is_(None), Assignment.end_date > local_date(now)))):
                a.end_date = local_date(now)
        m.updated_at = now

    def assign(self, actor: Actor, matter_id: int, user_id: int, kind: str = "primary",
               start: date | None = None, end: date | None = None) -> None:
        """Put a user on a matter; a new primary ends the previous primary's assignment."""
        if kind not in ("primary", "other"):
            raise ValidationError("An assignment is primary or other.")
        now = self.clock()
        with self.db.transaction() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            if m.stage == "prescreen":
                raise ValidationError("Prescreens have no assignments.")
            self._assign(s, m, user_id, kind, start or local_date(now), end, now)
            audit.record(s, actor, "matter.assign", now, target_type="matter",
                         target_id=m.case_number, detail=f"user {user_id} {kind}")

    @staticmethod
    def _assign(s: Session, m: Matter, user_id: int, kind: str, start: date, end: date | None,
                now: datetime) -> None:
        if kind == "primary":
            for a in s.scalars(select(Assignment).where(
                    Assignment.matter_id == m.id, Assignment.kind == "primary",
                    Assignment.user_id != user_id,
                    or_(Assignment.end_date.is_(None), Assignment.end_date > local_date(now)))):
                a.end_date = local_date(now)
        existing = s.scalar(select(Assignment).where(
            Assignment.matter_id == m.id, Assignment.user_id == user_id, Assignment.kind == kind,
            or_(Assignment.end_date.is_(None), Assignment.end_date > local_date(now))))
        if existing is None:
            s.add(Assignment(matter_id=m.id, user_id=user_id, kind=kind, start_date=start,
                             end_date=end))
        else:
            existing.end_date = end

    # --- create / update -----------------------------------------------------------------
    def validate(self, data: MatterInput) -> dict[str, object]:
        """Check one matter's fields; raises ValidationError naming the first problem."""
        number = data.case_number.strip()
        if not number:
            raise ValidationError("The case number is missing.")
        if not CASE_NUMBER_RE.fullmatch(number):
            raise ValidationError(f"'{number}' is not a usable case number (letters, digits, "
                                  "dashes; at most 40 characters).")
        name = data.client_name.strip()
        if not name:
            raise ValidationError("The client name is missing.")
        if len(name) > 200:
            raise ValidationError("The client name is longer than 200 characters.")
        stage = (data.stage or "").strip().lower() or "intake"
        if stage not in STAGES:
            raise ValidationError(f"'{data.stage}' is not a stage; stages are {', '.join(STAGES)}.")
        phones: dict[str, object] = {}
        for field, raw in (("mobile", data.mobile), ("home", data.home)):
            raw = (raw or "").strip()
            if raw:
                try:
                    phones[field] = (raw, normalize(raw, self.region))
                except InvalidPhoneNumber as exc:
                    raise ValidationError(f"The {field} phone: {exc}") from None
            else:
                phones[field] = (None, None)
        if stage != "prescreen" and data.intake_date is None:
            raise ValidationError("Every case but a prescreen needs an intake date.")
        if stage in ("open", "closed") and data.date_opened is None:
            raise ValidationError(f"A case at stage '{stage}' needs the date it was opened.")
        if data.date_opened and data.intake_date and data.date_opened < data.intake_date:
            raise ValidationError("The date opened is before the intake date.")
        return {"case_number": number, "client_name": name, "stage": stage, **phones}

    def save(self, actor: Actor, data: MatterInput, matter_id: int | None = None) -> int:
        """Create or update one matter from the case form; returns its id."""
        with self.db.transaction() as s:
            return self.upsert(s, actor, data, matter_id=matter_id)

    def upsert(self, s: Session, actor: Actor, data: MatterInput, *,
               matter_id: int | None = None, audit_it: bool = True) -> int:
        """Create or update by case number (or id) in the caller's transaction."""
        fields = self.validate(data)
        now = self.clock()
        primary_id: int | None = None
        if data.primary_username:
            primary_id = s.scalar(select(User.id).where(User.username == data.primary_username.strip()))
            if primary_id is None:
                raise ValidationError(f"There is no user '{data.primary_username}'.")
        if matter_id is not None:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            clash = s.scalar(select(Matter.id).where(Matter.case_number == fields["case_number"],
                                                     Matter.id != matter_id))
            if clash:
                raise ValidationError(f"Another case is numbered {fields['case_number']}.")
        else:
            m = s.scalar(select(Matter).where(Matter.case_number == fields["case_number"]))
        created = m is None
        if m is None:
            m = Matter(case_number=str(fields["case_number"]), created_at=now, consent="not_asked")
            s.add(m)
        m.case_number = str(fields["case_number"])
        m.client_name = str(fields["client_name"])
        m.mobile_raw, m.mobile_e164 = fields["mobile"]  # type: ignore[misc]
        m.home_raw, m.home_e164 = fields["home"]  # type: ignore[misc]
        m.intake_date = data.intake_date
        m.date_opened = data.date_opened
        m.updated_at = now
        s.flush()
        self._apply_stage(s, m, str(fields["stage"]), now)
        if primary_id is not None and m.stage not in ("prescreen", "rejected"):
            self._assign(s, m, primary_id, "primary", data.intake_date or local_date(now), None, now)
        if audit_it:
            audit.record(s, actor, "matter.add" if created else "matter.edit", now,
                         target_type="matter", target_id=m.case_number)
        return m.id

    def current_assignee_ids(self, matter_id: int, primary_only: bool) -> list[int]:
        """Users holding a current assignment (primary only, or any)."""
        today = local_date(self.clock())
        stmt = select(Assignment.user_id).where(
            Assignment.matter_id == matter_id,
            or_(Assignment.end_date.is_(None), Assignment.end_date > today))
        if primary_only:
            stmt = stmt.where(Assignment.kind == "primary")
        with self.db.session() as s:
            return list(s.scalars(stmt))


def current_assignment_clause(user_id: int, today: date, primary_only: bool) -> object:
    """SQL condition: the user holds a current (primary) assignment on Matter."""
    conds = [Assignment.matter_id == Matter.id, Assignment.user_id == user_id,
             or_(Assignment.end_date.is_(None), Assignment.end_date > today)]
    if primary_only:
        conds.append(Assignment.kind == "primary")
    return select(Assignment.id).where(and_(*conds)).exists()
