"""A Twilio-compatible local HTTP server: the Sandbox provider and the test double (docs/product.md F4).

It speaks Twilio's wire format for the 2010-04-01 Messages API (form-encoded requests, JSON
answers with RFC 2822 dates, Twilio's paging envelope and error bodies) so that the official
`twilio` client runs unchanged against it. Besides Twilio's routes it has a control API under
`/_sandbox/` (inbound messages, a full listing, fault injection, delivery outcomes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

API_VERSION = "2010-04-01"
SANDBOX_ACCOUNT_SID = "AC" + "5a" * 16
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"  # noqa: S105 - not a secret: the sandbox's default
DEFAULT_MESSAGING_SERVICE_SID = "MG" + "5a" * 16
DEFAULT_SENDER = "+15005550006"
MAX_BODY_CHARS = 1600
MIN_SCHEDULE_AHEAD = timedelta(minutes=15)
MAX_SCHEDULE_AHEAD = timedelta(days=35)

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})

# Twilio's magic test numbers (https://www.twilio.com/docs/iam/test-credentials).
MAGIC_TO_ERRORS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
MAGIC_FROM_ERRORS: dict[str, tuple[int, str]] = {
    "+15005550001": (21212, "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID."),
    "+15005550007": (21606, "The From phone number +15005550007 is not a valid, SMS-capable inbound phone number or short code for your account."),
    "+15005550008": (21611, "This 'From' number has exceeded the maximum number of queued messages"),
}
DELIVERY_ERRORS: dict[int, str] = {
    30001: "Queue overflow",
    30002: "Account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)
_PROGRESSION = ("queued", "sending", "sent")
_FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "received", "read"})


def utc_now() -> datetime:
    """The real current time in UTC (the server's default clock)."""
    return datetime.now(UTC)


def rfc2822(value: datetime | None) -> str | None:
    """Format a datetime as Twilio does: `Thu, 26 Nov 2026 07:00:00 +0000`."""
    if value is None:
        return None
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=False).replace(
        "-0000", "+0000"
    )


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def count_segments(body: str) -> int:
    """How many SMS segments a body needs (GSM-7: 160/153, otherwise UCS-2: 70/67)."""
    if not body:
        return 1
    if all(ch in _GSM7 for ch in body):
        single, multi = 160, 153
    else:
        single, multi = 70, 67
    if len(body) <= single:
        return 1
    return -(-len(body) // multi)


def keyword_of(body: str) -> str:
    """The body as one keyword: surrounding spaces and punctuation removed, upper case."""
    return body.strip().strip(string.punctuation + string.whitespace).upper()


class ManualClock:
    """A clock that moves only when told to; for tests and demos."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = (start or utc_now()).astimezone(UTC)

    def __call__(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **kwargs: float) -> datetime:
        """Move the clock forward by seconds (and/or timedelta keyword arguments)."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, when: datetime) -> None:
        """Set the clock to a timezone-aware time."""
        if when.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        with self._lock:
            self._now = when.astimezone(UTC)


class SandboxApiError(Exception):
    """An error the server answers in Twilio's body shape."""

    def __init__(self, status: int, code: int, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Twilio's error JSON."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


@dataclass
class _Media:
    sid: str
    message_sid: str
    content_type: str
    data: bytes
    date_created: datetime
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass
class _Message:
    seq: int
    sid: str
    account_sid: str
    direction: str
    from_: str
    to: str
    body: str
    status: str
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None
    messaging_service_sid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    send_at: datetime | None = None
    progress_from: datetime | None = None  # when queued began, for the status progression
    outcome: tuple[str, int | None] = ("delivered", None)
    media: list[_Media] = field(default_factory=list)
    # How many of `media` the media list shows yet (None: all): Twilio can list a message
    # with num_media = 1 before its photo is in the media list.
    media_visible: int | None = None

    def listed_media(self) -> list[_Media]:
        """The media the media list shows now."""
        return self.media if self.media_visible is None else self.media[:self.media_visible]


@dataclass
class Faults:
    """Faults to inject into the next requests to Twilio's routes (not the control API)."""

    rate_limit: int = 0
    retry_after: float = 1.0
    server_error: int = 0
    drop_connection: int = 0
    latency_ms: int = 0
    media_404: int = 0
    # Requests whose schedule is dropped and that are sent at once, as some of Twilio's pages
    # say can happen (https://www.twilio.com/docs/messaging/features/message-scheduling).
    ignore_schedule: int = 0


class SandboxState:
    """All the server's data, guarded by one lock."""

    def __init__(self, clock: Callable[[], datetime], progress_delay: float,
                 incoming_numbers: Iterable[str] | None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.progress_delay = timedelta(seconds=progress_delay)
        self.incoming_numbers: list[str] = list(incoming_numbers or [])
        self.messages: dict[str, _Message] = {}
        self.media_by_token: dict[str, _Media] = {}
        self.opt_outs: set[tuple[str, str]] = set()  # (office number, person's number)
        self.outcomes: dict[str, tuple[str, int | None]] = {}
        self.faults = Faults()
        self._seq = 0
        self.min_schedule_ahead = MIN_SCHEDULE_AHEAD
        # Messaging Services on the account (sid → friendly name), for Messaging API v1.
        self.messaging_services: dict[str, str] = {
            DEFAULT_MESSAGING_SERVICE_SID: "Sandbox Messaging Service"}
        self.created_forms: list[dict[str, str]] = []  # every Messages create request's form

    def now(self) -> datetime:
        """The server clock's time, in UTC."""
        return self.clock().astimezone(UTC)

    def next_seq(self) -> int:
        """A increasing number that orders messages created at the same instant."""
        self._seq += 1
        return self._seq

    def owns(self, number: str) -> bool:
        """Whether the account holds this number (any number when none are configured)."""
        return not self.incoming_numbers or number in self.incoming_numbers

    def refresh(self, msg: _Message) -> None:
        """Advance a message's status lazily from the clock."""
        now = self.now()
        if msg.status == "scheduled" and msg.send_at is not None and now >= msg.send_at:
            msg.status = "queued"
            msg.progress_from = msg.send_at
            msg.date_sent = msg.send_at
            msg.date_updated = msg.send_at
        if msg.status not in _PROGRESSION or msg.progress_from is None:
            return
        step_seconds = max(self.progress_delay.total_seconds(), 1e-9)
        steps = int((now - msg.progress_from).total_seconds() / step_seconds)
        if steps <= 0:
            return
        if steps >= len(_PROGRESSION):
            self._finish(msg, msg.progress_from + self.progress_delay * len(_PROGRESSION))
        else:
            new_status = _PROGRESSION[steps]
            if new_status != msg.status:
                msg.status = new_status
                msg.date_updated = msg.progress_from + self.progress_delay * steps

    def _finish(self, msg: _Message, when: datetime) -> None:
        status, code = msg.outcome
        msg.status = status
        msg.error_code = code
        msg.error_message = DELIVERY_ERRORS.get(code, "Delivery failed") if code else None
        msg.date_updated = when

    def finish_all(self, include_scheduled: bool = False) -> None:
        """Move every outbound message in progress to its final status now."""
        now = self.now()
        for msg in self.messages.values():
            if msg.status == "scheduled" and include_scheduled:
                msg.date_sent = now
                msg.status = "queued"
            if msg.status in _PROGRESSION:
                self._finish(msg, now)

    def get(self, account_sid: str, sid: str) -> _Message:
        """One message of the account, refreshed; 20404 when unknown."""
        msg = self.messages.get(sid)
        if msg is None or msg.account_sid != account_sid:
            raise SandboxApiError(404, 20404, f"The requested resource /{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json was not found")
        self.refresh(msg)
        return msg

    def create_outbound(self, account_sid: str, form: dict[str, str], media_urls: list[str]) -> _Message:
        """Validate a create request as Twilio does and store the message."""
        to = form.get("To", "").strip()
        from_ = form.get("From", "").strip()
        service = form.get("MessagingServiceSid", "").strip() or None
        body = form.get("Body", "")
        send_at_raw = form.get("SendAt", "").strip()
        schedule_type = form.get("ScheduleType", "").strip()
        if not to:
            raise SandboxApiError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            raise SandboxApiError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
        if to in MAGIC_TO_ERRORS:
            code, text = MAGIC_TO_ERRORS[to]
            raise SandboxApiError(400, code, text)
        if not _E164.match(to):
            raise SandboxApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ in MAGIC_FROM_ERRORS:
            code, text = MAGIC_FROM_ERRORS[from_]
            raise SandboxApiError(400, code, text)
        if from_ and not _E164.match(from_):
            raise SandboxApiError(400, 21212, f"The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.")
        if from_ and from_ != DEFAULT_SENDER and not self.owns(from_):
            raise SandboxApiError(400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code for your account.")
        if not body and not media_urls:
            raise SandboxApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            raise SandboxApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        now = self.now()
        send_at: datetime | None = None
        if (send_at_raw or schedule_type) and self.faults.ignore_schedule > 0:
            self.faults.ignore_schedule -= 1
        elif send_at_raw or schedule_type:
            send_at = self.check_schedule(service, schedule_type, send_at_raw, now)
        sender = from_ or (self.incoming_numbers[0] if self.incoming_numbers else DEFAULT_SENDER)
        senders = [sender] if from_ else [sender, *self.incoming_numbers]
        if any((s, to) in self.opt_outs for s in senders):
            raise SandboxApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        msg = _Message(
            seq=self.next_seq(), sid=new_sid("SM"), account_sid=account_sid,
            direction="outbound-api", from_=sender, to=to, body=body,
            status="scheduled" if send_at else "queued",
            date_created=now, date_updated=now, date_sent=None if send_at else now,
            messaging_service_sid=service, send_at=send_at,
            progress_from=None if send_at else now,
            outcome=self.outcomes.get(to, ("delivered", None)),
        )
        for url in media_urls:
            ctype = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
            msg.media.append(_Media(new_sid("ME"), msg.sid, ctype, b"", now))
        self._store(msg)
        return msg

    def check_schedule(self, service: str | None, schedule_type: str, send_at_raw: str,
                       now: datetime) -> datetime:
        """Validate Message Scheduling parameters as Twilio documents them; returns SendAt (UTC).

        Raises SandboxApiError: 35118 without a MessagingServiceSid, 35126 for a ScheduleType
        other than `fixed`, 35111 when SendAt is missing, 35114 when it is not an ISO 8601
        timestamp, 35115 when it is less than the minimum lead ahead (`min_schedule_ahead`: 300
        or 900 s, as Twilio's pages differ) and 35117 when more than 35 days ahead
        (https://www.twilio.com/docs/messaging/features/message-scheduling).
        """
        if not service:
            raise SandboxApiError(400, 35118, "MessagingServiceSid is required to schedule a message.")
        if schedule_type != "fixed":
            raise SandboxApiError(400, 35126, "Invalid ScheduleType: it must be 'fixed'.")
        if not send_at_raw:
            raise SandboxApiError(400, 35111, "SendAt is required to schedule a message.")
        try:
            send_at = parse_iso_datetime(send_at_raw)
        except ValueError:
            raise SandboxApiError(400, 35114, "Scheduling does not support this timestamp.") from None
        lead = self.min_schedule_ahead
        if send_at < now + lead:
            raise SandboxApiError(400, 35115, f"SendAt time must be at least {int(lead.total_seconds())} seconds in the future.")
        if send_at > now + MAX_SCHEDULE_AHEAD:
            raise SandboxApiError(400, 35117, "SendAt time must be at most 35 days in the future.")
        return send_at

    def _store(self, msg: _Message) -> None:
        self.messages[msg.sid] = msg
        for media in msg.media:
            self.media_by_token[media.token] = media

    def inject_inbound(self, account_sid: str, from_: str, to: str, body: str,
                       date_sent: datetime | None, media: list[tuple[str, bytes]]) -> _Message:
        """Store a message a person sent to an office number; STOP/START update opt-outs."""
        when = (date_sent or self.now()).astimezone(UTC)
        msg = _Message(
            seq=self.next_seq(), sid=new_sid("SM"), account_sid=account_sid,
            direction="inbound", from_=from_, to=to, body=body, status="received",
            date_created=when, date_updated=when, date_sent=when,
        )
        for ctype, data in media:
            msg.media.append(_Media(new_sid("ME"), msg.sid, ctype, data, when))
        word = keyword_of(body)
        if word in OPT_OUT_WORDS:
            self.opt_outs.add((to, from_))
        elif word in OPT_IN_WORDS:
            self.opt_outs.discard((to, from_))
        self._store(msg)
        return msg

    def delete(self, account_sid: str, sid: str) -> None:
        """Remove a message and its media."""
        msg = self.get(account_sid, sid)
        for media in msg.media:
            self.media_by_token.pop(media.token, None)
        del self.messages[msg.sid]

    def ordered(self) -> list[_Message]:
        """Every message, refreshed, newest first."""
        for msg in self.messages.values():
            self.refresh(msg)
        return sorted(self.messages.values(),
                      key=lambda m: (m.date_sent or m.date_created, m.seq), reverse=True)


def parse_iso_datetime(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (a `Z` suffix allowed); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_filter_date(text: str) -> date:
    """Parse a DateSent filter value: Twilio compares by date only."""
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise SandboxApiError(400, 20001, f"Invalid DateSent value: {text}") from None


class SandboxServer:
    """A Twilio-compatible server on 127.0.0.1 with a second loopback listener for media bytes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, account_sid: str | None = None,
                 auth_token: str | None = None, clock: Callable[[], datetime] | None = None,
                 progress_delay: float = 0.2, incoming_numbers: Iterable[str] | None = None,
                 media_port: int = 0, min_schedule_ahead_s: float = 900.0) -> None:
        if (account_sid is None) != (auth_token is None):
            raise ValueError("give both account_sid and auth_token, or neither")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sandbox server listens on loopback only")
        self.host = host
        self.port = port
        self.media_port = media_port
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.state = SandboxState(clock or utc_now, progress_delay, incoming_numbers)
        if min_schedule_ahead_s not in (300.0, 900.0):
            raise ValueError("Twilio's minimum scheduling lead is 300 or 900 seconds")
        self.state.min_schedule_ahead = timedelta(seconds=min_schedule_ahead_s)
        self.media_requests: list[dict[str, str]] = []  # headers seen by the media listener
        self.api_requests: list[tuple[str, str]] = []  # (method, path with query) of API calls
        self._api: _Server | None = None
        self._media: _Server | None = None
        self._threads: list[threading.Thread] = []

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Start both listeners in background threads."""
        if self._api is not None:
            return self
        self._api = _Server((self.host, self.port), _ApiHandler, self)
        self._media = _Server((self.host, self.media_port), _MediaHandler, self)
        self.port = self._api.server_address[1]
        self.media_port = self._media.server_address[1]
        for srv, name in ((self._api, "sandbox-api"), (self._media, "sandbox-media")):
            thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop both listeners."""
        for srv in (self._api, self._media):
            if srv is not None:
                srv.shutdown()
                srv.server_close()
                srv.close_open_connections()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._api = None
        self._media = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to give as DESKTOP_SMS_TWILIO_API_URL."""
        return f"http://{self._url_host()}:{self.port}"

    @property
    def media_base_url(self) -> str:
        """The second listener's URL (the 307 target for media content)."""
        return f"http://{self._url_host()}:{self.media_port}"

    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def credentials(self) -> tuple[str, str]:
        """A pair this server accepts (the configured one, or the sandbox default)."""
        if self.account_sid is not None and self._auth_token is not None:
            return self.account_sid, self._auth_token
        return SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    def check_auth(self, username: str, password: str) -> bool:
        """Whether a Basic-auth pair is accepted."""
        if self.account_sid is not None and self._auth_token is not None:
            return secrets.compare_digest(username, self.account_sid) and secrets.compare_digest(
                password, self._auth_token)
        return bool(re.fullmatch(r"AC[0-9a-fA-F]{32}", username)) and bool(password)

    # --- control, as Python methods ---------------------------------------------------------

    def inject_inbound(self, from_: str, to: str, body: str, date_sent: datetime | None = None,
                       media: list[tuple[str, bytes]] | None = None,
                       account_sid: str | None = None) -> str:
        """Create an inbound message (a person texting an office number); returns its SID."""
        with self.state.lock:
            msg = self.state.inject_inbound(account_sid or self.credentials[0], from_, to, body,
                                            date_sent, list(media or []))
            return msg.sid

    def set_media_visible(self, sid: str, count: int | None) -> None:
        """Show only the first `count` media of a message in its media list (None: all);
        `num_media` still counts them all, as when Twilio lists an MMS before its photos."""
        with self.state.lock:
            msg = self.state.get(self.credentials[0], sid)
            msg.media_visible = None if count is None else max(0, int(count))

    def messages(self) -> list[dict[str, Any]]:
        """Every message held, newest first, as Twilio message JSON."""
        with self.state.lock:
            return [self.message_json(m) for m in self.state.ordered()]

    def set_faults(self, rate_limit: int | None = None, retry_after: float | None = None,
                   server_error: int | None = None, drop_connection: int | None = None,
                   latency_ms: int | None = None, media_404: int | None = None,
                   ignore_schedule: int | None = None) -> None:
        """Inject faults into the next requests (counts are numbers of requests)."""
        with self.state.lock:
            f = self.state.faults
            for name, value in (("rate_limit", rate_limit), ("retry_after", retry_after),
                                ("server_error", server_error),
                                ("drop_connection", drop_connection),
                                ("latency_ms", latency_ms), ("media_404", media_404),
                                ("ignore_schedule", ignore_schedule)):
                if value is not None:
                    setattr(f, name, value)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.state.lock:
            self.state.faults = Faults()

    def set_delivery_outcome(self, to: str, status: str = "undelivered",
                             error_code: int | None = 30003) -> None:
        """Make messages to this number end with this status (`delivered` resets it)."""
        if status not in ("delivered", "undelivered", "failed"):
            raise ValueError(f"unknown final status {status!r}")
        with self.state.lock:
            if status == "delivered":
                self.state.outcomes.pop(to, None)
            else:
                self.state.outcomes[to] = (status, error_code)

    def advance_all(self, include_scheduled: bool = False) -> None:
        """Finish every outbound message in progress now (delivered, or its set outcome)."""
        with self.state.lock:
            self.state.finish_all(include_scheduled)

    def set_incoming_numbers(self, numbers: Iterable[str]) -> None:
        """Set the office numbers the account owns (empty: any number counts as owned)."""
        with self.state.lock:
            self.state.incoming_numbers = list(numbers)

    def is_opted_out(self, office_number: str, number: str) -> bool:
        """Whether `number` has opted out of texts from `office_number`."""
        with self.state.lock:
            return (office_number, number) in self.state.opt_outs

    # --- JSON -----------------------------------------------------------------------------

    def message_json(self, msg: _Message) -> dict[str, Any]:
        """A message in Twilio's JSON shape (every property of api.v2010.account.message)."""
        base = f"/{API_VERSION}/Accounts/{msg.account_sid}/Messages/{msg.sid}"
        return {
            "account_sid": msg.account_sid,
            "api_version": API_VERSION,
            "body": msg.body,
            "date_created": rfc2822(msg.date_created),
            "date_sent": rfc2822(msg.date_sent),
            "date_updated": rfc2822(msg.date_updated),
            "direction": msg.direction,
            "error_code": msg.error_code,
            "error_message": msg.error_message,
            "from": msg.from_,
            "messaging_service_sid": msg.messaging_service_sid,
            "num_media": str(len(msg.media)),
            "num_segments": str(count_segments(msg.body)),
            "price": None,
            "price_unit": "USD",
            "sid": msg.sid,
            "status": msg.status,
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": msg.to,
            "uri": f"{base}.json",
        }

    @staticmethod
    def media_json(account_sid: str, media: _Media) -> dict[str, Any]:
        """A media item in Twilio's JSON shape."""
        return {
            "account_sid": account_sid,
            "content_type": media.content_type,
            "date_created": rfc2822(media.date_created),
            "date_updated": rfc2822(media.date_created),
            "parent_sid": media.message_sid,
            "sid": media.sid,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{media.message_sid}/Media/{media.sid}.json",
        }

    def account_json(self, account_sid: str) -> dict[str, Any]:
        """The Account resource."""
        created = rfc2822(datetime(2024, 1, 1, tzinfo=UTC))
        base = f"/{API_VERSION}/Accounts/{account_sid}"
        return {
            "auth_token": "[hidden]",  # the sandbox never echoes a token
            "date_created": created,
            "date_updated": created,
            "friendly_name": "Desktop SMS Sandbox",
            "owner_account_sid": account_sid,
            "sid": account_sid,
            "status": "active",
            "subresource_uris": {
                "messages": f"{base}/Messages.json",
                "incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json",
            },
            "type": "Full",
            "uri": f"{base}.json",
        }

    @staticmethod
    def incoming_number_json(account_sid: str, number: str) -> dict[str, Any]:
        """An IncomingPhoneNumber resource for an office number."""
        sid = "PN" + binascii.hexlify(number.encode()).decode()[:32].ljust(32, "0")
        created = rfc2822(datetime(2024, 1, 1, tzinfo=UTC))
        return {
            "account_sid": account_sid, "address_sid": None, "address_requirements": "none",
            "api_version": API_VERSION, "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": created, "date_updated": created, "friendly_name": number,
            "identity_sid": None, "phone_number": number, "origin": "twilio", "sid": sid,
            "sms_application_sid": None, "sms_fallback_method": "POST", "sms_fallback_url": None,
            "sms_method": "POST", "sms_url": None, "status_callback": None,
            "status_callback_method": "POST", "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
            "voice_receive_mode": "voice", "voice_application_sid": None,
            "voice_caller_id_lookup": False, "voice_fallback_method": "POST",
            "voice_fallback_url": None, "voice_method": "POST", "voice_url": None,
            "emergency_status": "Inactive", "emergency_address_sid": None,
            "emergency_address_status": "unregistered", "bundle_sid": None,
            "status": "in-use", "type": "local",
        }


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its SandboxServer."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 sandbox: SandboxServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (and injected dropped connections)."""

    # HTTP/1.1 keeps connections open between requests: remember them, so that stopping the
    # server also ends the idle ones (a stopped server must not answer on a kept connection).
    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection in its own thread, remembering its socket."""
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """End every kept-alive connection (their handler threads then return)."""
        with self._open_lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def page_envelope(path: str, query: list[tuple[str, str]], key: str, items: Sequence[Any],
                  ids: list[str], render: Callable[[Any], dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """Slice a newest-first list into one page with Twilio's envelope keys.

    `render`, when given, turns each item of the page (only) into its JSON object.
    """
    params = dict(query)
    filters = [(k, v) for k, v in query if k not in ("PageSize", "Page", "PageToken")]
    try:
        page_size = max(1, min(1000, int(params.get("PageSize", "50"))))
        page = max(0, int(params.get("Page", "0")))
    except ValueError:
        raise SandboxApiError(400, 20001, "Invalid paging parameter") from None
    start = page * page_size
    token = params.get("PageToken", "")
    if token.startswith("PA") and token[2:] in ids:
        start = ids.index(token[2:]) + 1  # continue after the last item of the previous page
    chunk = list(items[start:start + page_size])
    if render is not None:
        chunk = [render(item) for item in chunk]

    def uri(p: int, tok: str | None = None) -> str:
        q = [*filters, ("PageSize", str(page_size)), ("Page", str(p))]
        if tok:
            q.append(("PageToken", tok))
        return f"{path}?{urlencode(q)}"

    has_next = start + page_size < len(items)
    next_uri = uri(page + 1, "PA" + ids[start + page_size - 1]) if has_next else None
    prev_uri = None
    if page > 0:
        prev_uri = uri(page - 1, "PB" + ids[start]) if start < len(ids) else uri(page - 1)
    return {
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": next_uri,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": prev_uri,
        "start": start,
        "uri": uri(page, token or None),
        key: chunk,
    }


_ACCOUNT_RE = re.compile(r"^/2010-04-01/Accounts/(?P<ac>[^/.]+)(?P<rest>(\.json|/.*)?)$")


class _ApiHandler(BaseHTTPRequestHandler):
    """Twilio's routes and the /_sandbox control API."""

    server: _Server
    server_version = "DesktopSmsSandbox/1.0"
    # HTTP/1.1: the client keeps its connection between requests (every response below has
    # a Content-Length, or is a 204 without a body). An idle connection is closed after
    # `timeout` seconds, and stopping the server closes them all.
    protocol_version = "HTTP/1.1"
    timeout = 60.0
    # Headers and body are separate writes; with Nagle on, a kept-alive connection waits for
    # the client's delayed ACK (~40 ms) before the body goes out.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: request lines could carry phone numbers."""

    # dispatch
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        """Handle GET."""
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        """Handle POST."""
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        """Handle DELETE."""
        self._handle("DELETE")

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = parse_qsl(parts.query, keep_blank_values=True)
        raw = self._read_body()
        with self.sandbox.state.lock:
            self.sandbox.api_requests.append((method, self.path))
        try:
            if path.startswith("/_sandbox/"):
                self._control(method, path, raw)
                return
            if self._apply_faults(path):
                return
            self._twilio(method, path, query, raw)
        except SandboxApiError as err:
            self._send_json(err.status, err.body(), err.headers)
        except Exception:  # a bug in the sandbox: answer like Twilio would, keep serving
            self._send_json(500, SandboxApiError(500, 20500, "Internal Server Error").body())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _apply_faults(self, path: str) -> bool:
        """Apply injected faults; True when the request has been answered (or dropped)."""
        with self.sandbox.state.lock:
            f = self.sandbox.state.faults
            latency = f.latency_ms
            action = ""
            if f.drop_connection > 0:
                f.drop_connection -= 1
                action = "drop"
            elif f.rate_limit > 0:
                f.rate_limit -= 1
                action = "429"
            elif f.server_error > 0:
                f.server_error -= 1
                action = "500"
            retry_after = f.retry_after
        # Simulated latency delays the answer, after the request has taken effect: a client that
        # times out meanwhile does not know whether Twilio accepted its text (as in life).
        self._answer_delay = latency / 1000.0
        if action == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if action == "429":
            err = SandboxApiError(429, 20429, "Too Many Requests",
                                  {"Retry-After": _format_seconds(retry_after)})
            self._send_json(429, err.body(), err.headers)
            return True
        if action == "500":
            self._send_json(500, SandboxApiError(500, 20500, "Internal Server Error").body())
            return True
        return False

    # Twilio's routes
    def _authorize(self, account_sid: str) -> None:
        header = self.headers.get("Authorization", "")
        user, password = "", ""
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
                user, _, password = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if not self.sandbox.check_auth(user, password) or user != account_sid:
            raise SandboxApiError(401, 20003, "Authenticate",
                                  {"WWW-Authenticate": 'Basic realm="Twilio API"'})

    def _basic_user(self) -> str:
        header = self.headers.get("Authorization", "")
        try:
            return base64.b64decode(header[6:], validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""

    def _messaging_service(self, method: str, path: str) -> None:
        """Messaging API v1: fetch a Messaging Service and list its phone numbers (enough for
        Test connection to say whether the service can hold texts)."""
        ac = self._basic_user()
        self._authorize(ac)
        m = re.fullmatch(r"/v1/Services/(?P<sid>MG[0-9a-fA-F]{32})(?P<tail>/PhoneNumbers)?/?",
                         path)
        state = self.sandbox.state
        with state.lock:
            name = state.messaging_services.get(m.group("sid")) if m else None
            if m is None or method != "GET" or name is None:
                raise SandboxApiError(404, 20404, f"The requested resource {path} was not found")
            sid = m.group("sid")
            url = f"https://messaging.twilio.com/v1/Services/{sid}"
            if m.group("tail"):
                numbers = state.incoming_numbers or [DEFAULT_SENDER]
                items = [{"sid": "PN" + hashlib.sha256(n.encode()).hexdigest()[:32],
                          "account_sid": ac, "service_sid": sid, "phone_number": n,
                          "country_code": "US", "capabilities": ["SMS"],
                          "url": f"{url}/PhoneNumbers"} for n in numbers]
                self._send_json(200, {"phone_numbers": items, "meta": {
                    "page": 0, "page_size": 50, "first_page_url": f"{url}/PhoneNumbers",
                    "previous_page_url": None, "url": f"{url}/PhoneNumbers",
                    "next_page_url": None, "key": "phone_numbers"}})
                return
            now = rfc2822(state.now())
            self._send_json(200, {"sid": sid, "account_sid": ac, "friendly_name": name,
                                  "date_created": now, "date_updated": now, "url": url,
                                  "links": {"phone_numbers": f"{url}/PhoneNumbers"}})

    def _twilio(self, method: str, path: str, query: list[tuple[str, str]], raw: bytes) -> None:
        if path.startswith("/v1/Services"):
            self._messaging_service(method, path)
            return
        m = _ACCOUNT_RE.match(path)
        if not m:
            raise SandboxApiError(404, 20404, f"The requested resource {path} was not found")
        ac, rest = m.group("ac"), m.group("rest")
        self._authorize(ac)
        form_pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        form = dict(form_pairs)
        state = self.sandbox.state
        sb = self.sandbox
        with state.lock:
            if rest == ".json" and method == "GET":
                self._send_json(200, sb.account_json(ac))
                return
            if rest == "/IncomingPhoneNumbers.json" and method == "GET":
                wanted = dict(query).get("PhoneNumber", "").strip()
                if state.incoming_numbers:
                    numbers = [n for n in state.incoming_numbers if not wanted or n == wanted]
                else:
                    numbers = [wanted] if wanted else []
                items = [sb.incoming_number_json(ac, n) for n in numbers]
                self._send_json(200, page_envelope(path, query, "incoming_phone_numbers", items,
                                                   [i["sid"] for i in items]))
                return
            if rest == "/Messages.json":
                if method == "POST":
                    state.created_forms.append(dict(form))
                    media_urls = [v for k, v in form_pairs if k == "MediaUrl"]
                    msg = state.create_outbound(ac, form, media_urls)
                    self._send_json(201, sb.message_json(msg))
                    return
                if method == "GET":
                    self._send_json(200, self._list_messages(ac, path, query))
                    return
            mm = re.fullmatch(r"/Messages/(SM|MM)([0-9a-fA-F]{32})(?P<tail>.*)", rest)
            if mm:
                sid = mm.group(1) + mm.group(2)
                tail = mm.group("tail")
                if tail == ".json":
                    self._message_route(method, ac, sid, form)
                    return
                if tail == "/Media.json" and method == "GET":
                    msg = state.get(ac, sid)
                    shown = msg.listed_media()
                    items = [sb.media_json(ac, x) for x in shown]
                    self._send_json(200, page_envelope(path, query, "media_list", items,
                                                       [x.sid for x in shown]))
                    return
                me = re.fullmatch(r"/Media/(ME[0-9a-fA-F]{32})(\.json)?", tail)
                if me and method == "GET":
                    msg = state.get(ac, sid)
                    media = next((x for x in msg.listed_media() if x.sid == me.group(1)), None)
                    if media is None:
                        raise SandboxApiError(404, 20404, f"The requested resource {path} was not found")
                    if me.group(2):
                        self._send_json(200, sb.media_json(ac, media))
                    else:
                        location = f"{sb.media_base_url}/media/{media.token}"
                        self._send(307, b"", "text/plain", {"Location": location})
                    return
        raise SandboxApiError(404, 20404, f"The requested resource {path} was not found")

    def _message_route(self, method: str, ac: str, sid: str, form: dict[str, str]) -> None:
        state = self.sandbox.state
        if method == "GET":
            self._send_json(200, self.sandbox.message_json(state.get(ac, sid)))
        elif method == "DELETE":
            state.delete(ac, sid)
            self._send(204, b"", None)
        elif method == "POST":
            msg = state.get(ac, sid)
            if "Status" in form:
                if form["Status"] != "canceled":
                    raise SandboxApiError(400, 20001, "Status can only be 'canceled'")
                if msg.status != "scheduled":
                    raise SandboxApiError(400, 30409, "Message is not in a cancelable state: only a scheduled message can be canceled.")
                msg.status = "canceled"
                msg.date_updated = state.now()
            if "Body" in form:
                if form["Body"] != "":
                    raise SandboxApiError(400, 20001, "Body can only be redacted (set to '')")
                if msg.status in _PROGRESSION or msg.status == "scheduled":
                    raise SandboxApiError(400, 20009, "Cannot redact a message that is not finished.")
                msg.body = ""
                msg.date_updated = state.now()
            self._send_json(200, self.sandbox.message_json(msg))
        else:
            raise SandboxApiError(405, 20004, "Method not allowed")

    def _list_messages(self, ac: str, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        params = dict(query)
        to = params.get("To")
        from_ = params.get("From")
        on = parse_filter_date(params["DateSent"]) if params.get("DateSent") else None
        before = parse_filter_date(params["DateSent<"]) if params.get("DateSent<") else None
        after = parse_filter_date(params["DateSent>"]) if params.get("DateSent>") else None
        selected: list[_Message] = []
        for msg in self.sandbox.state.ordered():
            if msg.account_sid != ac or (to and msg.to != to) or (from_ and msg.from_ != from_):
                continue
            if on or before or after:
                if msg.date_sent is None:
                    continue
                day = msg.date_sent.date()
                if (on and day != on) or (before and day > before) or (after and day < after):
                    continue
            selected.append(msg)
        # Only the page's messages are turned into JSON, not every match.
        return page_envelope(path, query, "messages", selected, [m.sid for m in selected],
                             render=self.sandbox.message_json)

    # control API
    def _control(self, method: str, path: str, raw: bytes) -> None:
        sb = self.sandbox
        payload: Any = {}
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                raise SandboxApiError(400, 20001, "The body must be JSON") from None
        if not isinstance(payload, dict):
            raise SandboxApiError(400, 20001, "The body must be a JSON object")
        if path == "/_sandbox/inbound" and method == "POST":
            try:
                media = [(str(x["content_type"]), base64.b64decode(x["data_base64"], validate=True))
                         for x in payload.get("media") or []]
                when = payload.get("date_sent")
                sid = sb.inject_inbound(str(payload["from"]), str(payload["to"]),
                                        str(payload.get("body", "")),
                                        parse_iso_datetime(when) if when else None, media)
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                raise SandboxApiError(400, 20001, f"Bad inbound message: {exc}") from None
            self._send_json(201, {"sid": sid})
        elif path == "/_sandbox/media_visible" and method == "POST":
            try:
                count = payload.get("count")
                sb.set_media_visible(str(payload["sid"]), None if count is None else int(count))
            except (KeyError, TypeError, ValueError) as exc:
                raise SandboxApiError(400, 20001, f"Bad media_visible: {exc}") from None
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/messages" and method == "GET":
            self._send_json(200, {"messages": sb.messages()})
        elif path == "/_sandbox/faults" and method == "POST":
            allowed = {"rate_limit", "retry_after", "server_error", "drop_connection",
                       "latency_ms", "media_404", "ignore_schedule"}
            unknown = set(payload) - allowed
            if unknown:
                raise SandboxApiError(400, 20001, f"Unknown faults: {sorted(unknown)}")
            try:
                counts = {k: int(v) for k, v in payload.items() if k != "retry_after"}
                retry_after = float(payload["retry_after"]) if "retry_after" in payload else None
            except (TypeError, ValueError):
                raise SandboxApiError(400, 20001, "Fault values must be numbers") from None
            sb.set_faults(retry_after=retry_after, **counts)
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/faults" and method == "DELETE":
            sb.clear_faults()
            self._send(204, b"", None)
        elif path == "/_sandbox/outcomes" and method == "POST":
            try:
                sb.set_delivery_outcome(str(payload["to"]), str(payload.get("status", "undelivered")),
                                        payload.get("error_code", 30003))
            except (KeyError, ValueError) as exc:
                raise SandboxApiError(400, 20001, f"Bad outcome: {exc}") from None
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/advance" and method == "POST":
            sb.advance_all(bool(payload.get("include_scheduled", False)))
            self._send_json(200, {"ok": True})
        else:
            raise SandboxApiError(404, 20404, f"The requested resource {path} was not found")

    # output
    def _send_json(self, status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    _answer_delay = 0.0

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header: the sandbox clock's time (RFC 7231), as Twilio's servers date
        their answers, so a test can set Twilio's clock apart from the desktop's."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return format_datetime(self.sandbox.state.now(), usegmt=True)

    def _send(self, status: int, data: bytes, content_type: str | None,
              headers: dict[str, str] | None = None) -> None:
        delay, self._answer_delay = self._answer_delay, 0.0
        if delay > 0:
            time.sleep(delay)  # the injected latency fault: a slow answer, not a slow request
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:  # RFC 9110: a 204 has no body and no Content-Length
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and status != 204 and self.command != "HEAD":
            self.wfile.write(data)


class _MediaHandler(BaseHTTPRequestHandler):
    """The second listener: serves media bytes by opaque token, like short-lived storage."""

    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the API listener
    timeout = 60.0
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet."""

    def do_GET(self) -> None:  # noqa: N802
        """Serve one media item's bytes."""
        sb = self.server.sandbox
        with sb.state.lock:
            sb.media_requests.append({k: v for k, v in self.headers.items()})
            media = sb.state.media_by_token.get(self.path.rsplit("/", 1)[-1])
            f = sb.state.faults
            if media is not None and f.media_404 > 0:
                f.media_404 -= 1
                media = None
        if media is None:
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", media.content_type)
        self.send_header("Content-Length", str(len(media.data)))
        self.end_headers()
        self.wfile.write(media.data)


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def run_sandbox_server(port: int, account_sid: str | None, auth_token: str | None,
                       min_schedule_ahead_s: float = 900.0) -> int:
    """Serve until Ctrl+C, printing the base URL (for `desktop-sms sandbox-server`)."""
    server = SandboxServer(port=port, account_sid=account_sid, auth_token=auth_token,
                           min_schedule_ahead_s=min_schedule_ahead_s)
    try:
        server.start()
    except OSError as exc:
        print(f"Could not start the sandbox server on port {port}: {exc.strerror or exc}")
        return 1
    sid, _ = server.credentials
    print(f"Twilio-compatible sandbox server at {server.base_url}")
    print(f"Set DESKTOP_SMS_TWILIO_API_URL={server.base_url}")
    if account_sid is None:
        print(f"Any Account SID (AC + 32 hex digits) and token are accepted, e.g. {sid}")
    print("Press Ctrl+C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopping.")
    finally:
        server.stop()
    return 0
