"""Message templates: admins keep them, everyone fills them (docs/templates.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import MessageTemplate
from desktop_sms.domain.reminders import format_local_time
from desktop_sms.domain.templates import TemplateError, fields_in, first_name, validate_template
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, utcnow
from desktop_sms.services.settings import SettingsService


@dataclass(frozen=True)
class TemplateRow:
    """A saved template."""

    id: int
    name: str
    body: str

    @property
    def fields(self) -> list[str]:
        return fields_in(self.body)


def merge_values(*, client_name: str | None, case_number: str | None, office_name: str,
                 office_phone: str | None, staff_name: str | None,
                 event_title: str | None = None, event_at: datetime | None = None,
                 event_place: str | None = None, tz: tzinfo | None = None) -> dict[str, str]:
    """The merge fields' values for one recipient; absent ones are ''.

    `event_at` is aware; its date ('Mon Mar 9') and time ('9:00 AM') are in `tz` (the
    office's zone).
    """
    values = {
        "client_first_name": first_name(client_name or ""),
        "client_name": " ".join((client_name or "").split()),
        "case_number": case_number or "",
        "office_name": office_name.strip(),
        "office_phone": office_phone or "",
        "staff_name": staff_name or "",
        "event_title": " ".join((event_title or "").split()),
        "event_place": " ".join((event_place or "").split()),
        "event_date": "",
        "event_time": "",
    }
    if event_at is not None and tz is not None:
        day, clock = format_local_time(event_at, tz).split(", ", 1)
        values["event_date"], values["event_time"] = day, clock
    return values


class TemplateService:
    """Lists, saves and deletes templates; saving and deleting are for administrators."""

    def __init__(self, db: Database, settings: SettingsService, clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def list(self) -> list[TemplateRow]:
        """Every template, by name."""
        with self.db.session() as s:
            return [TemplateRow(t.id, t.name, t.body)
                    for t in s.scalars(select(MessageTemplate).order_by(MessageTemplate.name))]

    def by_name(self, name: str) -> TemplateRow:
        """The template called `name` (exact, spaces collapsed); NotFound otherwise."""
        clean = " ".join(name.split())
        with self.db.session() as s:
            t = s.scalar(select(MessageTemplate).where(MessageTemplate.name == clean))
            if t is None:
                raise NotFound(f"There is no template called '{clean}'.")
            return TemplateRow(t.id, t.name, t.body)

    def save(self, actor: Actor, name: str, body: str, template_id: int | None = None) -> int:
        """Add (template_id None) or change a template; returns its id.

        Raises:
            PermissionDenied: not an administrator.
            ValidationError: no name, a name in use, an empty text or an unknown merge field.
        """
        actor.require_admin("change templates")
        try:
            clean_name, clean_body = validate_template(name, body)
        except TemplateError as exc:
            raise ValidationError(str(exc)) from None
        now = self.clock()
        with self.db.transaction() as s:
            clash = s.scalar(select(MessageTemplate.id).where(MessageTemplate.name == clean_name))
            if clash is not None and clash != template_id:
                raise ValidationError(f"A template called '{clean_name}' already exists; "
                                      "choose another name.")
            if template_id is None:
                row = MessageTemplate(name=clean_name, body=clean_body, created_at=now,
                                      updated_at=now, updated_by_id=actor.user_id)
                s.add(row)
            else:
                found = s.get(MessageTemplate, template_id)
                if found is None:
                    raise NotFound("That template no longer exists.")
                row = found
                row.name, row.body, row.updated_at = clean_name, clean_body, now
                row.updated_by_id = actor.user_id
            s.flush()
            audit.record(s, actor, "template.save", now, target_type="template",
                         target_id=row.id, detail=f"'{clean_name}'")
            return row.id

    def delete(self, actor: Actor, template_id: int) -> None:
        """Remove a template (texts already written from it are not touched)."""
        actor.require_admin("change templates")
        now = self.clock()
        with self.db.transaction() as s:
            row = s.get(MessageTemplate, template_id)
            if row is None:
                raise NotFound("That template no longer exists.")
            audit.record(s, actor, "template.delete", now, target_type="template",
                         target_id=template_id, detail=f"'{row.name}'")
            s.delete(row)

    def office_values(self) -> tuple[str, str | None]:
        """(office name, office phone) for the merge fields: the first office number."""
        numbers = self.settings.get("office_numbers")
        return str(self.settings.get("office_name")), (numbers[0] if numbers else None)
