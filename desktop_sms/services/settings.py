"""Office-wide settings (docs/product.md F13): typed, validated, audited, admins only."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import Setting
from desktop_sms.services import access, audit
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, utcnow

MATCHING_MODES = ("all_related", "most_recent_intake", "most_recently_opened",
                  "most_recent_outbound")


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError("must be true or false")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < minimum:
            raise ValueError(f"must be {minimum} or more")
        return value
    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if value not in choices:
            raise ValueError("must be one of " + ", ".join(choices))
        return value
    return parse


def _pattern(regex: str, what: str, optional: bool = True) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value and optional:
            return ""
        if not re.fullmatch(regex, value):
            raise ValueError(f"must be {what}")
        return value
    return parse


def _region(raw: str) -> str:
    value = raw.strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be a two-letter country code such as US")
    return value


def _numbers(raw: str) -> list[str]:
    from desktop_sms.domain.phones import InvalidPhoneNumber, normalize

    out: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            e164 = normalize(part, "US")
        except InvalidPhoneNumber as exc:
            raise ValueError(str(exc)) from None
        if e164 not in out:
            out.append(e164)
    return out


def _text(raw: str) -> str:
    return raw


def _rate(raw: str) -> float:
    """Texts per second: Twilio queues 1/s per long code, more for a number pool."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number such as 1 or 0.5") from None
    if not 0.1 <= value <= 1000:
        raise ValueError("must be between 0.1 and 1000")
    return value


@dataclass(frozen=True)
class SettingDef:
    """A setting's key, default and parser; the parser raises ValueError with a reason."""

    key: str
    default: str
    parse: Callable[[str], Any]
    label: str


DEFINITIONS: dict[str, SettingDef] = {d.key: d for d in [
    SettingDef("provider", "sandbox", _choice("sandbox", "twilio"), "Provider"),
    SettingDef("twilio_account_sid", "", _pattern(r"AC[0-9a-fA-F]{32}", "an Account SID: AC and 32 hex digits"), "Twilio Account SID"),
    SettingDef("office_numbers", "", _numbers, "Office numbers"),
    SettingDef("messaging_service_sid", "", _pattern(r"MG[0-9a-fA-F]{32}", "a Messaging Service SID: MG and 32 hex digits"), "Messaging Service SID"),
    SettingDef("inbound_matching", "all_related", _choice(*MATCHING_MODES), "Inbound message matching"),
    SettingDef("sms_consent_required", "true", _bool, "Require SMS consent"),
    SettingDef("sms_consent_instructions",
               "Ask the client: \"May we send you text messages about your case?\" "
               "Record the answer before sending.", _text, "Consent instructions"),
    SettingDef("case_sms_log", "true", _bool, "Show the SMS log on cases"),
    SettingDef("alert_scope", "primary", _choice("primary", "all"), "Home alerts"),
    SettingDef("poll_interval_seconds", "20", _int_at_least(5), "Poll interval (seconds)"),
    SettingDef("first_poll_lookback_days", "7", _int_at_least(0), "First poll look-back (days)"),
    SettingDef("overdue_grace_minutes", "15", _int_at_least(0), "Overdue grace (minutes)"),
    SettingDef("default_region", "US", _region, "Default region"),
    # Texts scheduled at least this far ahead (and at most 35 days) are held by Twilio when a
    # Messaging Service is set; Twilio's pages give its minimum as 5 or 15 minutes
    # (docs/held_by_twilio.md).
    SettingDef("hold_min_lead_minutes", "15", _int_at_least(5),
               "Minimum lead for texts held by Twilio (minutes)"),
    SettingDef("setup_code_hours", "72", _int_at_least(1), "Setup codes expire after (hours)"),
    SettingDef("max_messages_per_second", "1", _rate, "Texts per second at most"),
]}


def _quiet_window(raw: str) -> str:
    from desktop_sms.domain.quiet_hours import parse_window

    window = parse_window(raw)
    if window is not None and window.start == window.end:
        raise ValueError("must start and end at different times (off for no quiet hours)")
    return "off" if window is None else f"{window.start:%H:%M}-{window.end:%H:%M}"


def _time_zone(raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = raw.strip()
    if not value:
        return ""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be a time zone name such as America/New_York, or empty") from None
    return value


# Consent, opt-out and quiet hours (docs/consent_and_quiet_hours.md).
DEFINITIONS.update({d.key: d for d in [
    SettingDef("opt_out_scope", "client", _choice("client", "number"), "Opt-out scope"),
    SettingDef("allow_opt_out_override", "false", _bool, "Allow texting an opted-out client"),
    SettingDef("consent_request_text",
               "Reply YES to get texts about your case from {office}. Reply STOP to stop.",
               _text, "Consent request text"),
    SettingDef("office_name", "our law office", _text, "Office name"),
    SettingDef("consent_reply_window_days", "7", _int_at_least(1), "Consent reply window (days)"),
    SettingDef("quiet_hours", "21:00-08:00", _quiet_window, "Quiet hours"),
    SettingDef("quiet_hours_strict_states", "false", _bool, "Stricter state quiet hours"),
    SettingDef("quiet_hours_staff", "false", _bool, "Quiet hours for staff reminders"),
    SettingDef("office_time_zone", "", _time_zone, "Office time zone"),
]})


class SettingsService:
    """Reads and writes settings; every change is checked, audited and announced to listeners."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock
        self._listeners: list[Callable[[str, Any], None]] = []

    def subscribe(self, listener: Callable[[str, Any], None]) -> None:
        """Call listener(key, value) after a change is committed (poll interval, matching mode)."""
        self._listeners.append(listener)

    def raw(self, key: str) -> str:
        """The stored text of a setting (or its default)."""
        definition = self._definition(key)
        with self.db.session() as s:
            row = s.get(Setting, key)
            return row.value if row is not None else definition.default

    def get(self, key: str) -> Any:
        """The typed value of a setting."""
        return self._definition(key).parse(self.raw(key))

    def all(self) -> dict[str, Any]:
        """Every setting, typed."""
        with self.db.session() as s:
            stored = {row.key: row.value for row in s.scalars(select(Setting))}
        out: dict[str, Any] = {}
        for key, definition in DEFINITIONS.items():
            try:
                out[key] = definition.parse(stored.get(key, definition.default))
            except ValueError:
                out[key] = definition.parse(definition.default)
        return out

    def set(self, actor: Actor, key: str, raw_value: str) -> Any:
        """Validate, store and audit one setting; returns the typed value."""
        definition = self._definition(key)
        actor = access.require_admin(self.db, actor, "change settings")
        try:
            value = definition.parse(raw_value)
        except ValueError as exc:
            raise ValidationError(f"{definition.label} {exc}.") from None
        stored = ",".join(value) if isinstance(value, list) else str(value).lower() \
            if isinstance(value, bool) else str(value)
        now = self.clock()
        with self.db.transaction() as s:
            row = s.get(Setting, key)
            old = row.value if row is not None else definition.default
            if row is None:
                s.add(Setting(key=key, value=stored, updated_at=now, updated_by_id=actor.user_id))
            else:
                row.value, row.updated_at, row.updated_by_id = stored, now, actor.user_id
            if old != stored:
                detail = f"{key}: {_short(old)} → {_short(stored)}"
                audit.record(s, actor, "setting.change", now, target_type="setting",
                             target_id=key, detail=detail)
        if old != stored:
            for listener in list(self._listeners):
                listener(key, value)
        return value

    @staticmethod
    def _definition(key: str) -> SettingDef:
        try:
            return DEFINITIONS[key]
        except KeyError:
            raise NotFound(f"There is no setting called '{key}'. Known settings: "
                           + ", ".join(DEFINITIONS)) from None


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "…"
