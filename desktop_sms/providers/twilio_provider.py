"""SmsProvider on the official `twilio` client, optionally pointed at another base URL (SPEC F4)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from desktop_sms.providers.base import (
    BadCredentialsError,
    CredentialCheck,
    MediaItem,
    MediaTooLargeError,
    NotFoundError,
    ProviderError,
    ProviderMessage,
    SmsProvider,
    TransientProviderError,
)
from desktop_sms.providers.errors import error_for, error_from_exception, retry_after_from_headers

TWILIO_API_URL = "https://api.twilio.com"
API_URL_ENV = "DESKTOP_SMS_TWILIO_API_URL"
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


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


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """TwilioHttpClient that sends every request to base_url, always with a time-out.

    It also remembers, per thread, the last response, so that the Retry-After header of a
    429 can be read after the client has raised TwilioRestException (which drops headers).
    """

    def __init__(self, base_url: str = TWILIO_API_URL, timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        """Make the request against base_url."""
        self._local.last_response = None
        response: Response = super().request(
            method, rewrite_url(url, self.base_url), params=params, data=data, headers=headers,
            auth=auth, timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        self._local.last_response = response
        return response

    def last_headers(self) -> Mapping[str, str] | None:
        """Headers of this thread's last response, if there was one."""
        response = getattr(self._local, "last_response", None)
        headers = getattr(response, "headers", None)
        return headers if headers is not None else None


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


def to_provider_message(record: Any) -> ProviderMessage:
    """Convert a twilio MessageInstance to a ProviderMessage with UTC datetimes."""
    return ProviderMessage(
        sid=str(record.sid),
        direction=_enum_text(record.direction),
        from_=str(record.from_ or ""),
        to=str(record.to or ""),
        body=str(record.body or ""),
        status=_enum_text(record.status),
        date_created=_utc(record.date_created),
        date_sent=_utc(record.date_sent),
        date_updated=_utc(record.date_updated),
        num_media=_int_or(record.num_media, 0),
        num_segments=_int_or(record.num_segments, 1),
        error_code=_int_or(record.error_code, 0) or None,
        error_message=record.error_message or None,
        messaging_service_sid=record.messaging_service_sid or None,
    )


class TwilioProvider(SmsProvider):
    """The Twilio provider; with api_base_url pointing at the sandbox it is the Sandbox provider."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = TWILIO_API_URL,
                 timeout: float = 10.0) -> None:
        self.account_sid = account_sid
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self._auth = (account_sid, auth_token)
        self.http_client = RedirectingHttpClient(self.api_base_url, timeout)
        self._client = Client(account_sid, auth_token, http_client=self.http_client)

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
            for record in self._client.messages.stream(**kwargs):
                yield to_provider_message(record)
        except GeneratorExit:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def list_media(self, message_sid: str) -> list[MediaItem]:
        """The media attached to a message."""
        try:
            records = self._client.messages(message_sid).media.list()
        except Exception as exc:
            raise self._error(exc) from exc
        items: list[MediaItem] = []
        for record in records:
            uri = str(record.uri or "")
            if uri.endswith(".json"):
                uri = uri[: -len(".json")]
            items.append(MediaItem(sid=str(record.sid), message_sid=str(record.parent_sid or message_sid),
                                   content_type=str(record.content_type or "application/octet-stream"),
                                   uri=uri))
        return items

    def media_content_url(self, media: MediaItem) -> str:
        """The URL of the media's content at the API (the resource path without .json)."""
        path = media.uri or (f"/2010-04-01/Accounts/{self.account_sid}/Messages/"
                             f"{media.message_sid}/Media/{media.sid}")
        if path.endswith(".json"):
            path = path[: -len(".json")]
        if path.startswith("http://") or path.startswith("https://"):
            return rewrite_url(path, self.api_base_url)
        return self.api_base_url + path

    def download_media(self, media: MediaItem, max_bytes: int) -> bytes:
        """Download media bytes; credentials go to the API host only, never to a redirect target."""
        url = self.media_content_url(media)
        api_netloc = urlsplit(self.api_base_url).netloc.lower()
        with requests.Session() as session:
            for _ in range(MAX_REDIRECTS + 1):
                same_host = urlsplit(url).netloc.lower() == api_netloc
                try:
                    response = session.get(url, auth=self._auth if same_host else None,
                                           allow_redirects=False, stream=True,
                                           timeout=self.timeout)
                except requests.RequestException as exc:
                    raise self._error(exc) from exc
                with response:
                    if response.is_redirect and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status_code != 200:
                        raise self._http_error(response)
                    return self._read_capped(response, max_bytes)
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

    @staticmethod
    def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
        too_large = MediaTooLargeError(
            f"The attachment is larger than the {max_bytes:,}-byte limit and was not downloaded.")
        declared = _int_or(response.headers.get("Content-Length"), -1)
        if declared > max_bytes:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise too_large
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise error_from_exception(exc) from exc
        return b"".join(chunks)

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
    "TwilioProvider",
    "api_base_url_from_env",
    "provider_from_env_or",
    "rewrite_url",
    "to_provider_message",
]
