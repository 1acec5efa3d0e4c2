"""Consent, opt-out and quiet hours as the client's status (docs/consent_and_quiet_hours.md).

* Consent records: every answer and revocation of a matter, with method, wording, who, when.
* Opt-out scope (setting `opt_out_scope`): `client` — a STOP from any number of a matter's client
  stops texts to all of that matter's client numbers; `number` — Twilio's own rule, per number
  (https://help.twilio.com/articles/223134027).
* A STOP cancels every scheduled, queued or missed text to the opted-out client at once.
* Consent by text: one "Reply YES…" request per matter; a YES/START reply from that number
  within `consent_reply_window_days` records consent `yes`, method `text_reply`.
* Quiet hours (domain/quiet_hours.py) are checked when a text is written and again when the
  dispatcher finds it due.

Every function taking a `Session` works in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    ConsentRecord,
    ConsentRequest,
    Matter,
    OptOut,
    OutboundMessage,
    Setting,
    User,
)
from desktop_sms.domain.phones import format_display, line_key, mask
from desktop_sms.domain.quiet_hours import QuietPolicy, parse_window
from desktop_sms.services import audit
from desktop_sms.services.common import (
    SYSTEM,
    Actor,
    Clock,
    NotFound,
    ServiceError,
    ValidationError,
    utcnow,
)
from desktop_sms.services.settings import DEFINITIONS

log = logging.getLogger(__name__)

CANCEL_REASON = "client opted out"
METHODS = ("verbal", "written", "text_reply", "imported")
METHOD_LABELS = {"verbal": "verbal", "written": "written", "text_reply": "text reply",
                 "imported": "imported"}
WAITING_STATES = ("scheduled", "queued", "missed")


class OptedOutClient(ServiceError):
    """The client replied STOP from another of their numbers (scope `client`)."""


class QuietHoursError(ValidationError):
    """The time is inside the recipient's quiet hours; `next_allowed` is the first allowed time."""

    def __init__(self, sentence: str, next_allowed: datetime) -> None:
        super().__init__(sentence)
        self.next_allowed = next_allowed


class ConsentAlreadyRecorded(ValidationError):
    """The matter's consent is recorded; it is not asked again."""


def read_setting_values(session: Session, *keys: str) -> list[Any]:
    """Typed settings read in the caller's session (a bad stored value reads as the default)."""
    stored = {str(k): str(v) for k, v in session.execute(
        select(Setting.key, Setting.value).where(Setting.key.in_(keys)))}
    values: list[Any] = []
    for key in keys:
        definition = DEFINITIONS[key]
        try:
            values.append(definition.parse(stored.get(key, definition.default)))
        except ValueError:
            values.append(definition.parse(definition.default))
    return values


def office_zone(name: str) -> tzinfo:
    """The office's zone: the `office_time_zone` setting, else this computer's own zone."""
    if name:
        return ZoneInfo(name)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def quiet_policy(session: Session) -> QuietPolicy:
    """The office's quiet-hours rule as stored now."""
    window, strict, zone = read_setting_values(session, "quiet_hours",
                                               "quiet_hours_strict_states", "office_time_zone")
    return QuietPolicy(parse_window(str(window)), bool(strict), office_zone(str(zone)))


def opt_out_key(e164: str) -> str:
    """The key opt-outs are stored and compared by: the number's same-line key
    (`domain.phones.line_key`; "+5215512345678" and "+525512345678" are one line), or the text
    itself when it is not a phone number."""
    return line_key(e164) or e164


def opted_out_keys(session: Session, numbers: Iterable[str]) -> set[str]:
    """The same-line keys, among these numbers', that have opted out (one query)."""
    keys = {opt_out_key(n) for n in numbers if n}
    if not keys:
        return set()
    return {str(k) for k in session.scalars(select(OptOut.phone_key).where(
        OptOut.phone_key.in_(keys), OptOut.opted_out.is_(True)))}


def wording_version(text: str) -> str:
    """A short, stable version id of the consent wording shown (first 12 hex of its SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _numbers(m: Matter) -> list[tuple[str, str]]:
    """(e164, typed) of the matter's client numbers, mobile first."""
    out: list[tuple[str, str]] = []
    for e164, raw in ((m.mobile_e164, m.mobile_raw), (m.home_e164, m.home_raw)):
        if e164 and all(e164 != n for n, _ in out):
            out.append((e164, raw or e164))
    return out


@dataclass(frozen=True)
class NumberState:
    """One client number of a matter: whether it replied STOP itself, and when."""

    e164: str
    display: str
    opted_out: bool
    changed_at: datetime | None
    blocked: bool  # texts to it are refused (itself, or the client under scope `client`)


@dataclass(frozen=True)
class ConsentEntry:
    """One consent record as the case shows it."""

    answer: str
    method: str
    wording_version: str
    note: str | None
    by: str
    at: datetime
    inbound_id: int | None

    def line(self) -> str:
        """"yes (text reply) by system, 2026-03-02 15:00 UTC"."""
        return (f"{self.answer} ({METHOD_LABELS.get(self.method, self.method)}) by {self.by}, "
                f"{self.at:%Y-%m-%d %H:%M} UTC" + (f" — {self.note}" if self.note else ""))


@dataclass(frozen=True)
class ClientTextStatus:
    """A matter's texting status: consent, its history, and the opt-out state per number."""

    matter_id: int
    case_number: str
    consent: str
    history: tuple[ConsentEntry, ...]
    numbers: tuple[NumberState, ...]
    scope: str
    request_sent_at: datetime | None

    @property
    def stop(self) -> NumberState | None:
        """The (latest) number that replied STOP, if any."""
        stopped = [n for n in self.numbers if n.opted_out]
        return max(stopped, key=lambda n: n.changed_at or datetime.min) if stopped else None

    @property
    def opted_out(self) -> bool:
        """True when some client number of the matter replied STOP."""
        return self.stop is not None

    def stop_sentence(self) -> str:
        """"This client replied STOP from (212) 555-0123 on 2026-03-02 10:00 UTC." or ""."""
        stop = self.stop
        if stop is None:
            return ""
        when = f" on {stop.changed_at:%Y-%m-%d %H:%M} UTC" if stop.changed_at else ""
        return f"This client replied STOP from {stop.display}{when}."

    def number(self, e164: str) -> NumberState | None:
        """The state of one of the matter's numbers (compared by line, `opt_out_key`)."""
        key = opt_out_key(e164)
        return next((n for n in self.numbers if opt_out_key(n.e164) == key), None)


def client_status(session: Session, m: Matter, region: str = "US") -> ClientTextStatus:
    """The matter's consent and opt-out state, read in the caller's session."""
    (scope,) = read_setting_values(session, "opt_out_scope")
    numbers = _numbers(m)
    # By line: a STOP from "+521…" is the opt-out of the "+52…" stored on the case.
    rows: dict[str, OptOut] = {}
    for r in session.scalars(select(OptOut).where(
            OptOut.phone_key.in_([opt_out_key(n) for n, _ in numbers]))
            .order_by(OptOut.changed_at, OptOut.id)):
        rows[str(r.phone_key)] = r  # the latest event of the line wins
    any_out = any(r.opted_out for r in rows.values())
    states = []
    for e164, _raw in numbers:
        row = rows.get(opt_out_key(e164))
        own = bool(row and row.opted_out)
        states.append(NumberState(e164, format_display(e164, region), own,
                                  row.changed_at if row else None,
                                  own or (scope == "client" and any_out)))
    history = [
        ConsentEntry(r.answer, r.method, r.wording_version, r.note, name or "system",
                     r.recorded_at, r.inbound_id)
        for r, name in session.execute(
            select(ConsentRecord, User.name).outerjoin(User, ConsentRecord.recorded_by_id == User.id)
            .where(ConsentRecord.matter_id == m.id)
            .order_by(ConsentRecord.recorded_at, ConsentRecord.id))]
    request_at = session.scalar(select(ConsentRequest.requested_at)
                                .where(ConsentRequest.matter_id == m.id))
    return ClientTextStatus(m.id, m.case_number, m.consent, tuple(history), tuple(states),
                            str(scope), request_at)


def opted_out_matter_ids(session: Session, matter_ids: list[int]) -> set[int]:
    """Of these matters, those where a client number replied STOP (for the case list)."""
    if not matter_ids:
        return set()
    stopped = select(OptOut.phone_key).where(OptOut.opted_out.is_(True))
    return set(session.scalars(select(Matter.id).where(
        Matter.id.in_(matter_ids),
        or_(Matter.mobile_key.in_(stopped), Matter.home_key.in_(stopped)))))


def check_opt_out(session: Session, actor: Actor, m: Matter, e164: str, now: datetime,
                  override_reason: str | None) -> bool:
    """Refuse a text to a number of an opted-out client (scope `client`) unless the office
    allows overrides and a reason is given; the override is audited. Returns True when an
    override was used. The number that replied STOP itself is refused by the caller
    (`outbound.is_opted_out`): Twilio would refuse it anyway (error 21610).

    Raises OptedOutClient with the sentence "This client replied STOP from … on …".
    """
    status = client_status(session, m)
    target = status.number(e164)
    if status.scope != "client" or not status.opted_out or (target and target.opted_out):
        return False
    if target is None:
        return False  # a number that is not the client's on this matter
    (allowed,) = read_setting_values(session, "allow_opt_out_override")
    reason = (override_reason or "").strip()
    if not allowed:
        raise OptedOutClient(status.stop_sentence() + " The office does not allow texting a "
                             "client who opted out.")
    if not reason:
        raise OptedOutClient(status.stop_sentence() + " To text this number anyway, give a "
                             "reason for the override.")
    audit.record(session, actor, "optout.override", now, target_type="matter",
                 target_id=m.case_number, detail=f"to {mask(e164)}; reason: {reason[:200]}")
    return True


def check_quiet_hours(session: Session, actor: Actor, m: Matter | None, e164: str,
                      send_at: datetime | None, now: datetime,
                      override_reason: str | None) -> bool:
    """Refuse a schedule inside quiet hours (offering the next allowed time) and a send-now
    inside quiet hours without a reason; an override is audited. Returns True when the text
    was sent inside quiet hours on purpose (the dispatcher will not hold it).

    Raises QuietHoursError (with `next_allowed`, aware UTC).
    """
    policy = quiet_policy(session)
    when = send_at or now
    if not policy.is_quiet(when, e164):
        return False
    allowed = policy.next_allowed(when, e164)
    window = policy.window_for(e164)
    label = window.label() if window else ""
    where = f"quiet hours for this number ({label} its local time)"
    if send_at is not None:
        raise QuietHoursError(f"That time is inside {where}; the next allowed time is "
                              f"{policy.local_label(allowed, e164)}.", allowed)
    reason = (override_reason or "").strip()
    if not reason:
        raise QuietHoursError(f"It is {where}; schedule it for "
                              f"{policy.local_label(allowed, e164)} or give a reason to send "
                              "now.", allowed)
    audit.record(session, actor, "quiet_hours.override", now, target_type="matter",
                 target_id=m.case_number if m else None,
                 detail=f"to {mask(e164)}; reason: {reason[:200]}")
    return True


def hold_quiet_hours(session: Session, ids: list[int], token: str, now: datetime) -> set[int]:
    """Of these just-claimed messages, put back those due inside their recipient's quiet
    hours: scheduled again for the next allowed time (a missed text sent late, a retry, a
    reminder). Staff reminders are held only with `quiet_hours_staff`. Returns the held ids."""
    if not ids:
        return set()
    policy = quiet_policy(session)
    if policy.window is None:
        return set()
    (staff,) = read_setting_values(session, "quiet_hours_staff")
    held: set[int] = set()
    for mid, to, kind, override in session.execute(
            select(OutboundMessage.id, OutboundMessage.to_e164, OutboundMessage.kind,
                   OutboundMessage.quiet_hours_override)
            .where(OutboundMessage.id.in_(ids), OutboundMessage.claim_token == token)):
        if override or (kind == "reminder" and not staff) or not policy.is_quiet(now, to):
            continue
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == mid, OutboundMessage.claim_token == token,
                   OutboundMessage.state == "sending")
            .values(state="scheduled", send_at=policy.next_allowed(now, to), claimed_by=None,
                    claim_token=None, lease_until=None, next_attempt_at=None,
                    attempts=OutboundMessage.attempts - 1)
            .execution_options(synchronize_session=False))
        held.add(mid)
    if held:
        log.info("%d due text(s) held until quiet hours end", len(held))
    return held


def blocked_numbers(session: Session, e164: str) -> set[str]:
    """The numbers a STOP from `e164` stops texts to: that number, and under scope `client`
    every client number of the matters where it (or another form of its line) is the
    client's. E.164 strings, `e164` included."""
    (scope,) = read_setting_values(session, "opt_out_scope")
    numbers = {e164}
    if scope == "client":
        key = opt_out_key(e164)
        for m in session.scalars(select(Matter).where(
                or_(Matter.mobile_key == key, Matter.home_key == key,
                    Matter.mobile_e164 == e164, Matter.home_e164 == e164))):
            numbers.update(n for n, _ in _numbers(m))
    return numbers


def cancel_for_opt_out(session: Session, e164: str, at: datetime) -> list[int]:
    """Cancel every scheduled, queued or missed text to the opted-out client (all numbers of the
    matters where `e164` is the client's, under scope `client`; that number alone under
    `number`), with the reason "client opted out". Texts whose last send is unanswered (may be
    at the provider) are left to the dispatcher, which refuses opted-out numbers."""
    numbers = blocked_numbers(session, e164)
    keys = {opt_out_key(n) for n in numbers}
    ids = list(session.scalars(select(OutboundMessage.id).where(
        or_(OutboundMessage.to_key.in_(keys), OutboundMessage.to_e164.in_(numbers)),
        OutboundMessage.kind != "reminder",
        OutboundMessage.state.in_(WAITING_STATES), OutboundMessage.verify_since.is_(None))))
    if ids:
        session.execute(update(OutboundMessage)
                        .where(OutboundMessage.id.in_(ids),
                               OutboundMessage.state.in_(WAITING_STATES))
                        .values(state="canceled", error_message=CANCEL_REASON,
                                status_updated_at=at, next_attempt_at=None)
                        .execution_options(synchronize_session=False))
        audit.record(session, SYSTEM, "sms.cancel_opt_out", at, target_type="number",
                     target_id=mask(e164), detail="messages " + ", ".join(map(str, ids)))
    return ids


CONSENT_NO_REASON = "client said no to texts"


def cancel_for_consent_no(session: Session, matter: Matter, at: datetime) -> list[int]:
    """Cancel the matter's scheduled, queued or missed client texts when the client's answer
    "no" is recorded (a revocation must stop what is already waiting), with the reason
    "client said no to texts"; audited as `sms.cancel_consent_no`. Texts whose last send is
    unanswered (may be at the provider) are left alone, as for an opt-out."""
    ids = list(session.scalars(select(OutboundMessage.id).where(
        OutboundMessage.matter_id == matter.id, OutboundMessage.kind != "reminder",
        OutboundMessage.state.in_(WAITING_STATES), OutboundMessage.verify_since.is_(None))))
    if ids:
        session.execute(update(OutboundMessage)
                        .where(OutboundMessage.id.in_(ids),
                               OutboundMessage.state.in_(WAITING_STATES))
                        .values(state="canceled", error_message=CONSENT_NO_REASON,
                                status_updated_at=at, next_attempt_at=None)
                        .execution_options(synchronize_session=False))
        audit.record(session, SYSTEM, "sms.cancel_consent_no", at, target_type="matter",
                     target_id=matter.case_number, detail="messages " + ", ".join(map(str, ids)))
    return ids


def on_keyword(session: Session, from_e164: str, keyword: str, inbound_id: int,
               at: datetime) -> None:
    """React to an opt-out or opt-in keyword reply (called by inbound filing, same transaction):
    STOP cancels what is waiting; YES/START answers a pending consent request in its window."""
    if keyword == "opt_out":
        audit.record(session, SYSTEM, "optout.stop", at, target_type="number",
                     target_id=mask(from_e164), detail=f"inbound {inbound_id}")
        cancel_for_opt_out(session, from_e164, at)
        return
    audit.record(session, SYSTEM, "optout.start", at, target_type="number",
                 target_id=mask(from_e164), detail=f"inbound {inbound_id}")
    (days,) = read_setting_values(session, "consent_reply_window_days")
    key = opt_out_key(from_e164)
    pending = session.scalars(select(ConsentRequest).where(
        ConsentRequest.answered_inbound_id.is_(None),
        ConsentRequest.requested_at >= at - timedelta(days=int(days)),
        ConsentRequest.requested_at <= at)).all()
    for request in pending:
        if opt_out_key(request.to_e164) != key:
            continue  # another line (compared by line: "+521…" answers a request to "+52…")
        m = session.get(Matter, request.matter_id)
        if m is None or m.consent != "not_asked":
            continue
        request.answered_inbound_id = inbound_id
        (wording,) = read_setting_values(session, "consent_request_text")
        _add_record(session, SYSTEM, m, "yes", "text_reply", str(wording), None, at, inbound_id)


def _add_record(session: Session, actor: Actor, m: Matter, answer: str, method: str,
                wording: str, note: str | None, at: datetime, inbound_id: int | None) -> None:
    session.add(ConsentRecord(matter_id=m.id, answer=answer, method=method,
                              wording_version=wording_version(wording), wording=wording,
                              note=note, recorded_by_id=actor.user_id, recorded_at=at,
                              inbound_id=inbound_id))
    m.consent, m.consent_by_id, m.consent_at, m.updated_at = answer, actor.user_id, at, at
    audit.record(session, actor, "consent.record", at, target_type="matter",
                 target_id=m.case_number,
                 detail=f"consent {answer} ({METHOD_LABELS.get(method, method)})"
                        + (f", reply {inbound_id}" if inbound_id else ""))


class ConsentService:
    """Records consent, asks for it by text, and reports a matter's texting status."""

    def __init__(self, db: Database, clock: Clock = utcnow, region: str = "US",
                 notify: Callable[[], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.region = region
        self._notify = notify  # wakes the dispatcher after the consent request is queued

    def status(self, matter_id: int) -> ClientTextStatus:
        """Consent, history and opt-out state per number of one matter."""
        with self.db.session() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            return client_status(s, m, self.region)

    def opted_out_matters(self, matter_ids: list[int]) -> set[int]:
        """The matters among these whose client replied STOP."""
        with self.db.session() as s:
            return opted_out_matter_ids(s, matter_ids)

    def record(self, actor: Actor, matter_id: int, answer: str, method: str,
               note: str | None = None) -> None:
        """Record an answer (`yes`/`no`; `no` after `yes` is a revocation) with its method, the
        consent instructions shown (their version), who and when; audited. Raises
        ValidationError for an unknown answer or method, NotFound for an unknown matter."""
        if answer not in ("yes", "no"):
            raise ValidationError("The answer must be yes or no.")
        if method not in METHODS:
            raise ValidationError("The method must be verbal, written, text reply or imported.")
        now = self.clock()
        with self.db.transaction() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            (wording,) = read_setting_values(s, "sms_consent_instructions")
            _add_record(s, actor, m, answer, method, str(wording), (note or "").strip() or None,
                        now, None)
            if answer == "no":
                cancel_for_consent_no(s, m, now)

    def request_text(self) -> str:
        """The consent request as it would be sent ({office} filled in)."""
        with self.db.session() as s:
            text, office = read_setting_values(s, "consent_request_text", "office_name")
        return str(text).replace("{office}", str(office))

    def ask_by_text(self, actor: Actor, matter_id: int) -> int:
        """Queue the office's consent request to the client's mobile; once per matter and only
        while no consent is recorded. Returns the outbound message id. Raises
        ConsentAlreadyRecorded, ValidationError (no mobile, already asked) or OptedOutClient."""
        actor.require_sms("send texts")
        body = self.request_text()
        now = self.clock()
        with self.db.transaction() as s:
            m = s.get(Matter, matter_id)
            if m is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            if m.consent != "not_asked":
                raise ConsentAlreadyRecorded(
                    f"The client's consent is already recorded ({m.consent}); it is not asked "
                    "again.")
            if not m.mobile_e164:
                raise ValidationError("The case has no mobile number to ask by text.")
            if s.scalar(select(ConsentRequest.id).where(ConsentRequest.matter_id == m.id)):
                raise ValidationError("The consent request was already sent on this case; it is "
                                      "sent once per case.")
            status = client_status(s, m, self.region)
            if status.opted_out:
                raise OptedOutClient(status.stop_sentence())
            numbers = read_setting_values(s, "office_numbers")[0]
            sender = str(numbers[0]) if numbers else None
            msg = OutboundMessage(kind="client", matter_id=m.id, author_id=actor.user_id,
                                  to_raw=m.mobile_raw or m.mobile_e164, to_e164=m.mobile_e164,
                                  from_number=sender, body=body, state="queued",
                                  send_at=now, created_at=now, attempts=0)
            s.add(msg)
            s.flush()
            s.add(ConsentRequest(matter_id=m.id, to_e164=m.mobile_e164, outbound_id=msg.id,
                                 requested_by_id=actor.user_id, requested_at=now))
            audit.record(s, actor, "consent.request", now, target_type="matter",
                         target_id=m.case_number, detail=f"message {msg.id} to "
                                                         f"{mask(m.mobile_e164)}")
            message_id = msg.id
        if self._notify is not None:
            self._notify()
        return message_id

    def policy(self) -> QuietPolicy:
        """The office's quiet-hours rule as stored now (read once by a dialog)."""
        with self.db.session() as s:
            return quiet_policy(s)

    def quiet_hours_at(self, e164: str, when: datetime | None = None) -> datetime | None:
        """None when `when` (default now) is outside the number's quiet hours, else the next
        allowed time (aware UTC)."""
        moment = when or self.clock()
        with self.db.session() as s:
            policy = quiet_policy(s)
        return policy.next_allowed(moment, e164) if policy.is_quiet(moment, e164) else None

    def quiet_label(self, e164: str, when: datetime) -> str:
        """`when` in the number's local time, for messages."""
        with self.db.session() as s:
            return quiet_policy(s).local_label(when, e164)
