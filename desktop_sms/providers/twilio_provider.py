"""SmsProvider on the official `twilio` client, optionally pointed at another base URL (docs/product.md F4)."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from desktop_sms.providers.base import (
    BadCredentialsError,
    CredentialCheck,
    ListingIncompleteError,
    MalformedAnswerError,
    MediaItem,
    MediaTooLargeError,
    NotFoundError,
    ProviderError,
    ProviderMessage,
    SmsProvider,
    TransientProviderError,
    UnknownProviderError,
)
from desktop_sms.providers.errors import error_for, error_from_exception, retry_after_from_headers

TWILIO_API_URL = "https://api.twilio.com"
API_URL_ENV = "DESKTOP_SMS_TWILIO_API_URL"
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
REQUEST_DEADLINE_S = 30.0  # a whole answer (headers and body) must arrive within this
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a page of 1,000 messages is well under 2 MB
MAX_PAGES = 200  # pages followed per list call (200 x 1,000 messages)
SENTENCE_OTHER_HOST = ("Twilio's answer pointed to another address ({where}); it was not "
                       "followed and no credentials were sent there.")
SENTENCE_UNREADABLE = "Twilio's answer could not be read ({what})."
SENTENCE_OUTCOME_UNKNOWN = ("Twilio's answer to the send could not be read; checking with Twilio "
                            "whether the text went before trying again.")
SENTENCE_CLOSING = "The application is closing; the request to Twilio was not made."
SENTENCE_LISTING_CUT = ("Twilio's list of messages did not end properly ({why}); the messages "
                        "read so far were kept and the rest will be read on the next poll.")

log = logging.getLogger(__name__)


def api_base_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The API base URL: DESKTOP_SMS_TWILIO_API_URL, or Twilio's own."""
    env = os.environ if environ is None else environ
    value = (env.get(API_URL_ENV) or "").strip()
    return value.rstrip("/") if value else TWILIO_API_URL


def _is_twilio_host(host: str) -> bool:
    host = host.lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


def rewrite_url(url: str, base_url: str) -> str:
    """Replace scheme and host (and port) of a Twilio URL by those of base_url.

    A path prefix of base_url is kept in front of the request path; URLs of other hosts
    are left alone.
    """
    target = urlsplit(url)
    if not _is_twilio_host(target.hostname or ""):
        return url
    base = urlsplit(base_url)
    if _is_twilio_host(base.hostname or "") and base.scheme == "https" and not base.path.strip("/"):
        return url  # pointed at Twilio itself: keep the host the library chose (edge/region)
    path = base.path.rstrip("/") + target.path
    return urlunsplit((base.scheme, base.netloc, path, target.query, target.fragment))


class _Call:
    """One request in flight: its connection, so a watchdog (or shutdown) can cut it off."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.aborted = False
        self.thread = threading.current_thread()
        self._lock = threading.Lock()

    def abort(self) -> None:
        """Shut the socket down: any read blocked on it returns at once."""
        with self._lock:
            self.aborted = True
            sock = getattr(self.conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


_CURRENT = threading.local()
_ACTIVE: set[_Call] = set()
_ACTIVE_LOCK = threading.Lock()
_CANCELLED_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def cancel_requests(threads: Iterable[threading.Thread]) -> int:
    """Cut off the Twilio requests in flight on these threads and refuse their later ones.

    Used when the application quits: a hung request must not keep it waiting. Returns how
    many requests were cut off.
    """
    wanted = set(threads)
    with _ACTIVE_LOCK:
        for thread in wanted:
            _CANCELLED_THREADS.add(thread)
        calls = [c for c in _ACTIVE if c.thread in wanted]
    for call in calls:
        call.abort()
    return len(calls)


class _WatchedPoolMixin:
    """Records the connection of the current request so that its _Call can cut it off."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        call: _Call | None = getattr(_CURRENT, "call", None)
        if call is not None:
            with call._lock:
                call.conn = conn
                aborted = call.aborted
            if aborted:
                raise requests.exceptions.ConnectionError("request cut off before it was sent")
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    pass


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool,
                                                   "https": _WatchedHTTPSPool}


def _where(url: str) -> str:
    """scheme://host:port/path of a URL, without its query (which may hold phone numbers)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def url_allowed(url: str, base_url: str) -> bool:
    """True when a request to `url` may carry the account's credentials: same scheme, host
    and port as the configured API base. Pointed at Twilio itself, any https *.twilio.com host
    (the library picks edge and region hosts)."""
    scheme, host, port = _origin(url)
    b_scheme, b_host, b_port = _origin(base_url)
    if _is_twilio_host(b_host) and b_scheme == "https":
        return scheme == "https" and _is_twilio_host(host) and port == 443
    return (scheme, host, port) == (b_scheme, b_host, b_port)


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """TwilioHttpClient that sends every request to base_url, always with a time-out.

    Every request the twilio client makes passes through `request`, which is the one guard:
    the URL must be on the configured API base (`url_allowed`), else ProviderError and
    nothing is sent; redirects are never followed; the whole answer (headers and body) must
    arrive within `request_deadline` seconds and the poll's deadline (`deadline`, a
    time.monotonic() value) — a server trickling bytes is cut off — and be at most
    `max_answer_bytes` long.

    It also remembers, per thread, the last response, so that the Retry-After header of a
    429 can be read after the client has raised TwilioRestException (which drops headers).
    """

    def __init__(self, base_url: str = TWILIO_API_URL, timeout: float = 10.0,
                 request_deadline: float = REQUEST_DEADLINE_S,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.request_deadline = request_deadline
        self.max_answer_bytes = max_answer_bytes
        self.session = requests.Session()
        adapter = _WatchedAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._local = threading.local()

    @property
    def deadline(self) -> float | None:
        """This thread's deadline (a time.monotonic() value) for its requests, or None."""
        value: float | None = getattr(self._local, "deadline", None)
        return value

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._local.deadline = value

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        """Make the request against base_url (see the class docstring for the guard)."""
        self._local.last_response = None
        target = rewrite_url(url, self.base_url)
        if not url_allowed(target, self.base_url):
            log.warning("refused a request to %s: not the configured API host", _where(target))
            raise UnknownProviderError(SENTENCE_OTHER_HOST.format(where=urlsplit(target).netloc))
        kwargs: dict[str, Any] = {"method": method.upper(), "url": target, "params": params,
                                  "headers": headers, "auth": auth}
        if headers and headers.get("Content-Type") in ("application/json",
                                                        "application/scim+json"):
            kwargs["json"] = data
        else:
            kwargs["data"] = data
        self.log_request(kwargs)
        per_read = timeout if timeout is not None else self.timeout
        with self.watched() as remaining:
            prepared = self.session.prepare_request(requests.Request(**kwargs))
            raw = self.session.send(prepared, allow_redirects=False,
                                    timeout=min(per_read, remaining), stream=True)
            with raw:
                body = self.read_capped(raw, self.max_answer_bytes, UnknownProviderError(
                    SENTENCE_UNREADABLE.format(
                        what=f"longer than {self.max_answer_bytes:,} bytes")))
        text = body.decode(raw.encoding or "utf-8", errors="replace")
        response = Response(int(raw.status_code), text, raw.headers)
        self._local.last_response = response
        answered_on = _header_date(raw.headers.get("Date"))
        if answered_on is not None:
            self._local.server_date = answered_on
        self.log_response(response.status_code, response)
        return response

    @contextmanager
    def watched(self) -> Iterator[float]:
        """Run one request (on self.session) under the deadline; yields the seconds it has.

        The whole exchange must end within request_deadline and this thread's deadline, or
        the socket is shut down and requests.ReadTimeout raised (an ambiguous outcome). On a
        thread cancel_requests named, nothing is sent (TransientProviderError).
        """
        if threading.current_thread() in _CANCELLED_THREADS:
            raise TransientProviderError(SENTENCE_CLOSING)
        remaining = self.request_deadline
        if self.deadline is not None:
            remaining = min(remaining, self.deadline - time.monotonic())
            if remaining <= 0:
                raise ListingIncompleteError(
                    "The poll took longer than its time limit; it will go on at the next poll.",
                    complete=False)
        call = _Call()
        watchdog = threading.Timer(remaining, call.abort)
        watchdog.daemon = True
        with _ACTIVE_LOCK:
            _ACTIVE.add(call)
        _CURRENT.call = call
        watchdog.start()
        try:
            yield remaining
        except (requests.RequestException, OSError) as exc:
            if call.aborted:
                if threading.current_thread() in _CANCELLED_THREADS:
                    raise TransientProviderError(SENTENCE_CLOSING, ambiguous=True) from exc
                raise requests.exceptions.ReadTimeout(
                    f"no whole answer within {remaining:.1f} s") from exc
            raise
        finally:
            watchdog.cancel()
            _CURRENT.call = None
            with _ACTIVE_LOCK:
                _ACTIVE.discard(call)

    @staticmethod
    def read_capped(response: requests.Response, max_bytes: int,
                    too_large: ProviderError) -> bytes:
        """The body of a streamed response; `too_large` is raised past max_bytes."""
        if _int_or(response.headers.get("Content-Length"), -1) > max_bytes:
            raise too_large
        body = bytearray()
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise too_large
        return bytes(body)

    def last_headers(self) -> Mapping[str, str] | None:
        """Headers of this thread's last response, if there was one."""
        response = getattr(self._local, "last_response", None)
        headers = getattr(response, "headers", None)
        return headers if headers is not None else None

    def last_server_date(self) -> datetime | None:
        """The `Date` header (UTC) of this thread's latest answer that had a readable one."""
        value: datetime | None = getattr(self._local, "server_date", None)
        return value

    def last_status(self) -> int | None:
        """HTTP status of this thread's last response, if there was one."""
        response = getattr(self._local, "last_response", None)
        status = getattr(response, "status_code", None)
        return status if isinstance(status, int) else None


def _header_date(value: str | None) -> datetime | None:
    """An HTTP `Date` header (RFC 9110, e.g. `Mon, 30 Nov 2026 03:48:41 GMT`) as aware UTC;
    None when missing or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _enum_text(value: Any) -> str:
    """The plain string of a status/direction (the client may give an enum)."""
    raw = getattr(value, "value", value)
    return str(raw) if raw is not None else ""


# A Twilio SID: two capital letters and 32 hex digits (https://www.twilio.com/docs/glossary/what-is-a-sid).
SID_RE = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
DIRECTIONS = frozenset({"inbound", "outbound-api", "outbound-call", "outbound-reply"})
# Twilio's MessageStatus values (https://www.twilio.com/docs/messaging/api/message-resource).
STATUSES = frozenset({"queued", "sending", "sent", "failed", "delivered", "undelivered",
                      "receiving", "received", "accepted", "scheduled", "read",
                      "partially_delivered", "canceled"})


def _bad(what: str) -> MalformedAnswerError:
    return MalformedAnswerError(SENTENCE_UNREADABLE.format(what=what))


def _strict_date(record: Any, name: str) -> datetime | None:
    value = getattr(record, name, None)
    if value is None:
        return None
    if not isinstance(value, datetime):  # the client hands back the raw text it could not parse
        raise _bad(f"{name} is not a date")
    return _utc(value)


def _strict_count(record: Any, name: str, default: int) -> int:
    value = getattr(record, name, None)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(f"{name} is not a number")
    text = str(value).strip()
    if not text.isdigit() or len(text) > 6:
        raise _bad(f"{name} is not a number")
    return int(text)


def _optional_text(record: Any, name: str) -> str:
    value = getattr(record, name, None)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{name} is not text")
    return value


def to_provider_message(record: Any, raw: Mapping[str, Any] | None = None) -> ProviderMessage:
    """Convert a twilio MessageInstance to a ProviderMessage with UTC datetimes.

    Strict: a record without a Twilio SID, with an unknown direction or status, dates that are
    not dates (checked against `raw`, the record's JSON, when given) or a num_segments that is
    not a number raises MalformedAnswerError (nothing is ever
    stored under an invented id such as "None"). Null dates and counts are allowed (Twilio
    leaves date_sent empty while a text is queued). An unreadable num_media is the exception:
    the message is kept with num_media 0 and the field named in `unreadable`.
    """
    if raw is not None:
        # The client turns a date it cannot parse into None: check the raw text too.
        for name in ("date_created", "date_sent", "date_updated"):
            if raw.get(name) is not None and getattr(record, name, None) is None:
                raise _bad(f"{name} is not a date")
    sid = getattr(record, "sid", None)
    if not isinstance(sid, str) or not SID_RE.fullmatch(sid):
        raise _bad("a message without a valid sid")
    direction = _enum_text(getattr(record, "direction", None))
    if direction not in DIRECTIONS:
        raise _bad("a message with an unknown direction")
    status = _enum_text(getattr(record, "status", None))
    if status not in STATUSES:
        raise _bad("a message with an unknown status")
    error_code = getattr(record, "error_code", None)
    if error_code is not None and (isinstance(error_code, bool)
                                   or not isinstance(error_code, int | str)
                                   or not str(error_code).strip().isdigit()):
        raise _bad("error_code is not a number")
    service = getattr(record, "messaging_service_sid", None)
    # A reply's text matters more than its attachment count: an unreadable count (not a
    # number, negative, absurdly large) is kept as 0 and reported, not a reason to drop it.
    unreadable: tuple[str, ...] = ()
    try:
        num_media = _strict_count(record, "num_media", 0)
    except MalformedAnswerError:
        num_media, unreadable = 0, ("num_media is not a number of attachments",)
    return ProviderMessage(
        sid=sid,
        direction=direction,
        from_=_optional_text(record, "from_"),
        to=_optional_text(record, "to"),
        body=_optional_text(record, "body"),
        status=status,
        date_created=_strict_date(record, "date_created"),
        date_sent=_strict_date(record, "date_sent"),
        date_updated=_strict_date(record, "date_updated"),
        num_media=num_media,
        num_segments=_strict_count(record, "num_segments", 1),
        error_code=int(error_code) if error_code is not None and int(error_code) else None,
        error_message=getattr(record, "error_message", None) or None,
        messaging_service_sid=service if isinstance(service, str) and service else None,
        unreadable=unreadable,
    )


class TwilioProvider(SmsProvider):
    """The Twilio provider; with api_base_url pointing at the sandbox it is the Sandbox provider."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = TWILIO_API_URL,
                 timeout: float = 10.0, request_deadline: float = REQUEST_DEADLINE_S,
                 max_pages: int = MAX_PAGES) -> None:
        """Args: timeout: seconds per connect/read; request_deadline: seconds for a whole
        answer; max_pages: pages followed per list call."""
        self.account_sid = account_sid
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self.max_pages = max_pages
        self._auth = (account_sid, auth_token)
        self.http_client = RedirectingHttpClient(self.api_base_url, timeout,
                                                 request_deadline=request_deadline)
        self._client = Client(account_sid, auth_token, http_client=self.http_client)

    def set_deadline(self, monotonic_deadline: float | None) -> None:
        """This thread's requests after time.monotonic() reaches this are refused, those
        running cut off (other threads sharing the provider are not affected)."""
        self.http_client.deadline = monotonic_deadline

    def server_date(self) -> datetime | None:
        """Twilio's clock (UTC) as its latest answer on this thread dated it (the `Date`
        header, one-second resolution); None before any answer."""
        return self.http_client.last_server_date()

    def __repr__(self) -> str:
        return f"TwilioProvider(account_sid={self.account_sid!r}, api_base_url={self.api_base_url!r})"

    def _error(self, exc: BaseException) -> ProviderError:
        return error_from_exception(exc, self.http_client.last_headers())

    def send(self, *, to: str, body: str, from_: str | None = None,
             messaging_service_sid: str | None = None,
             send_at: datetime | None = None) -> ProviderMessage:
        """Send a text, or with send_at have Twilio schedule it (naive send_at is taken as UTC)."""
        kwargs: dict[str, Any] = {"to": to, "body": body}
        if from_:
            kwargs["from_"] = from_
        if messaging_service_sid:
            kwargs["messaging_service_sid"] = messaging_service_sid
        if send_at is not None:
            # The client formats with strftime(...Z) without converting: give it UTC.
            kwargs["send_at"] = _utc(send_at)
            kwargs["schedule_type"] = "fixed"
        try:
            return to_provider_message(self._client.messages.create(**kwargs))
        except Exception as exc:
            status = self.http_client.last_status()
            if status is not None and 200 <= status < 300:
                # Twilio took the request (2xx) but its answer has no readable sid: the text
                # may well be on its way. Outcome unknown: look it up before any retry.
                log.warning("send answered %s without a readable message (%s)", status,
                            type(exc).__name__)
                raise TransientProviderError(SENTENCE_OUTCOME_UNKNOWN, status=status,
                                             ambiguous=True) from exc
            raise self._error(exc) from exc

    def fetch(self, sid: str) -> ProviderMessage:
        """Fetch one message's current state."""
        try:
            return to_provider_message(self._client.messages(sid).fetch())
        except Exception as exc:
            raise self._error(exc) from exc

    def list_messages(self, *, to: str | None = None, from_: str | None = None,
                      date_sent_on_or_after: date | None = None,
                      page_size: int = 1000) -> Iterator[ProviderMessage]:
        """All matching messages, newest first, following next_page_uri through every page."""
        kwargs: dict[str, Any] = {"page_size": max(1, min(1000, page_size))}
        if to:
            kwargs["to"] = to
        if from_:
            kwargs["from_"] = from_
        if date_sent_on_or_after is not None:
            day = date_sent_on_or_after
            if isinstance(day, datetime):
                day = day.astimezone(UTC).date() if day.tzinfo else day.date()
            # Twilio filters DateSent>= by date only; the client sends it as `DateSent>`.
            kwargs["date_sent_after"] = day
        try:
            first = self._client.messages.page(**kwargs)
        except Exception as exc:
            raise self._error(exc) from exc
        yield from self._pages(first)

    def _pages(self, first: Any) -> Iterator[ProviderMessage]:
        """Every readable record of a page and the pages it links to.

        A page link seen before (a page linking to itself, a cycle), more than max_pages
        pages, or the deadline end the listing; malformed records are skipped. Either way
        ListingIncompleteError is raised after the readable records were yielded.
        """
        skipped = 0
        seen: set[str] = set()
        pages = 1
        why: str | None = None
        cause: ProviderError | None = None
        try:
            page: Any = first
            while True:
                # The raw JSON records (not the instances): a date the client cannot parse
                # becomes None in an instance, and must be seen to be refused.
                for raw in page.load_page(page._payload):
                    try:
                        record = page.get_instance(raw) if isinstance(raw, dict) else None
                        message = to_provider_message(record, raw)
                    except MalformedAnswerError:
                        skipped += 1
                        continue
                    except Exception:  # e.g. a field the client cannot deserialize
                        skipped += 1
                        continue
                    yield message
                try:
                    link = page.next_page_url
                except Exception:  # e.g. a next_page_uri that is a number
                    link = 0
                if link is None or link == "":
                    break
                if not isinstance(link, str):
                    why = "a next page link that is not a link"
                    break
                if link in seen:
                    why = "a page linked to a page already read"
                    break
                if pages >= self.max_pages:
                    why = f"more than {self.max_pages} pages"
                    break
                seen.add(link)
                pages += 1
                try:
                    page = self._client.messages.get_page(link)
                except Exception as exc:
                    cause = self._error(exc)
                    why = cause.sentence.rstrip(".")
                    break
        except GeneratorExit:
            raise
        except ListingIncompleteError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        if why is not None:
            log.warning("message list cut short: %s", why)
            raise ListingIncompleteError(
                SENTENCE_LISTING_CUT.format(why=why), complete=False, skipped=skipped,
                code=cause.code if cause else None, status=cause.status if cause else None,
                retry_after=cause.retry_after if cause else None)
        if skipped:
            log.warning("%d listed message(s) were malformed and skipped", skipped)
            raise ListingIncompleteError(
                f"Twilio listed {skipped} message(s) that could not be read; they were skipped.",
                complete=True, skipped=skipped)

    def list_media(self, message_sid: str) -> list[MediaItem]:
        """The media attached to a message. An attachment whose id is not a Twilio Media SID
        is listed with `refused` set (never downloaded); one without an id is left out."""
        try:
            records = self._client.messages(message_sid).media.list()
        except Exception as exc:
            raise self._error(exc) from exc
        items: list[MediaItem] = []
        for record in records:
            refused: str | None = None
            if not isinstance(record.sid, str):
                # No id to record it under: left unlisted (the message's count shows it missing).
                log.warning("skipped an attachment of %s without an id", message_sid)
                continue
            if not SID_RE.fullmatch(record.sid):
                # Its reply is still filed; the attachment is recorded as not downloadable.
                log.warning("refused an attachment of %s whose id is not a Media SID", message_sid)
                refused = _bad("an attachment whose id is not a Twilio Media SID").sentence
            uri = str(record.uri or "")
            if "://" in uri and not url_allowed(uri, self.api_base_url):
                log.warning("refused an attachment link to %s", _where(uri))
                raise UnknownProviderError(SENTENCE_OTHER_HOST.format(where=urlsplit(uri).netloc))
            if uri.endswith(".json"):
                uri = uri[: -len(".json")]
            items.append(MediaItem(sid=str(record.sid), message_sid=str(record.parent_sid or message_sid),
                                   content_type=str(record.content_type or "application/octet-stream"),
                                   uri=uri, refused=refused))
        return items

    def media_content_url(self, media: MediaItem) -> str:
        """The URL of the media's content at the API (the resource path without .json)."""
        path = media.uri or (f"/2010-04-01/Accounts/{self.account_sid}/Messages/"
                             f"{media.message_sid}/Media/{media.sid}")
        if path.endswith(".json"):
            path = path[: -len(".json")]
        if path.startswith("http://") or path.startswith("https://"):
            url = rewrite_url(path, self.api_base_url)
            if not url_allowed(url, self.api_base_url):
                raise UnknownProviderError(SENTENCE_OTHER_HOST.format(where=urlsplit(url).netloc))
            return url
        return self.api_base_url + path

    def download_media(self, media: MediaItem, max_bytes: int) -> bytes:
        """Download media bytes under the request deadline; credentials go to the API host
        only (the first hop must be on it), never to a redirect target."""
        url = self.media_content_url(media)
        client = self.http_client
        too_large = MediaTooLargeError(
            f"The attachment is larger than the {max_bytes:,}-byte limit and was not downloaded.")
        for _ in range(MAX_REDIRECTS + 1):
            same_host = url_allowed(url, self.api_base_url)
            try:
                with client.watched() as remaining:
                    response = client.session.get(
                        url, auth=self._auth if same_host else None, allow_redirects=False,
                        stream=True, timeout=min(self.timeout, remaining))
                    with response:
                        if response.is_redirect and "Location" in response.headers:
                            url = urljoin(url, response.headers["Location"])
                            continue
                        if response.status_code != 200:
                            raise self._http_error(response)
                        return client.read_capped(response, max_bytes, too_large)
            except (requests.RequestException, OSError) as exc:
                raise self._error(exc) from exc
        raise TransientProviderError("The attachment could not be downloaded (too many redirects).")

    @staticmethod
    def _http_error(response: requests.Response) -> ProviderError:
        code: int | None = None
        if "json" in response.headers.get("Content-Type", ""):
            try:
                payload = response.json()
                code = payload.get("code") if isinstance(payload, dict) else None
            except ValueError:
                code = None
        return error_for(response.status_code, code if isinstance(code, int) else None,
                         retry_after_from_headers(response.headers))

    def cancel(self, sid: str) -> ProviderMessage:
        """Cancel a message Twilio holds as scheduled."""
        try:
            return to_provider_message(self._client.messages(sid).update(status="canceled"))
        except Exception as exc:
            raise self._error(exc) from exc

    def check_scheduling(self, messaging_service_sid: str) -> tuple[bool, str]:
        """Whether Twilio can hold texts sent through this Messaging Service (Message Scheduling).

        Fetches the service and its phone numbers (Messaging API v1). Returns (ok, a sentence a
        person understands); never raises for provider errors.
        """
        sid = messaging_service_sid.strip()
        if not sid:
            return False, ("No Messaging Service is set, so texts are never held by Twilio: "
                           "scheduled texts go out from a computer running Desktop SMS.")
        try:
            service = self._client.messaging.v1.services(sid).fetch()
            numbers = self._client.messaging.v1.services(sid).phone_numbers.list(limit=1)
        except Exception as exc:
            err = self._error(exc)
            if isinstance(err, NotFoundError):
                return False, (f"The Messaging Service {sid} is not on this Twilio account, so "
                               "texts can't be held by Twilio.")
            return False, ("Could not check whether the Messaging Service can hold texts: "
                           + err.sentence)
        name = str(service.friendly_name or sid)
        if not numbers:
            return False, (f"The Messaging Service “{name}” has no phone numbers, so Twilio "
                           "can't send (or hold) texts through it.")
        return True, (f"The Messaging Service “{name}” can hold scheduled texts: they go out "
                      "even if every computer is off.")

    def test_credentials(self, office_numbers: list[str]) -> CredentialCheck:
        """Fetch the Account, then check each office number is one of its IncomingPhoneNumbers."""
        try:
            account = self._client.api.v2010.accounts(self.account_sid).fetch()
        except Exception as exc:
            err = self._error(exc)
            if isinstance(err, BadCredentialsError):
                return CredentialCheck(ok=False, problems=[err.sentence], bad_credentials=True)
            if err.transient:
                return CredentialCheck(ok=False, network_error=True, problems=[
                    "Could not reach Twilio to check the account. Check the internet connection."])
            return CredentialCheck(ok=False, problems=[err.sentence])
        name = str(account.friendly_name or "")
        problems: list[str] = []
        missing: list[str] = []
        for number in office_numbers:
            try:
                found = self._client.incoming_phone_numbers.list(phone_number=number, limit=1)
            except Exception as exc:
                err = self._error(exc)
                return CredentialCheck(ok=False, account_name=name,
                                       network_error=err.transient,
                                       problems=[*problems, err.sentence],
                                       missing_numbers=missing)
            if not any(str(n.phone_number) == number for n in found):
                missing.append(number)
                problems.append(f"The number {number} is not on this Twilio account.")
        return CredentialCheck(ok=not problems, account_name=name, problems=problems,
                               missing_numbers=missing)


def provider_from_env_or(account_sid: str, auth_token: str, api_base_url: str | None = None,
                         timeout: float = 10.0) -> TwilioProvider:
    """A TwilioProvider using api_base_url, else DESKTOP_SMS_TWILIO_API_URL, else Twilio."""
    return TwilioProvider(account_sid, auth_token, api_base_url or api_base_url_from_env(),
                          timeout)


__all__ = [
    "API_URL_ENV",
    "RedirectingHttpClient",
    "cancel_requests",
    "url_allowed",
    "TwilioProvider",
    "api_base_url_from_env",
    "provider_from_env_or",
    "rewrite_url",
    "to_provider_message",
]
