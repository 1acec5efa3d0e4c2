"""Turn Twilio's answers and network failures into the typed errors of base.py, with sentences."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from desktop_sms.providers.base import (
    BadCredentialsError,
    BodyTooLongError,
    InvalidNumberError,
    InvalidSenderError,
    NotCancelableError,
    NotFoundError,
    NotSmsCapableError,
    OptedOutError,
    ProviderError,
    RegionNotPermittedError,
    SchedulingError,
    TransientProviderError,
    UnknownProviderError,
)

# Twilio code -> (error class, a sentence a person understands)
CODE_ERRORS: dict[int, tuple[type[ProviderError], str]] = {
    21211: (InvalidNumberError, "The phone number is not a valid phone number. Check the number and try again."),
    21214: (InvalidNumberError, "The phone number cannot be reached by text. Check the number."),
    21401: (InvalidNumberError, "The phone number is not a valid phone number. Check the number and try again."),
    21604: (InvalidNumberError, "The text has no recipient phone number."),
    21610: (OptedOutError, "This person has opted out of texts from this number (they replied STOP). They can text START to opt back in."),
    21612: (NotSmsCapableError, "Twilio cannot deliver texts to this number from the office number."),
    21614: (NotSmsCapableError, "This number cannot receive texts; it may be a landline."),
    21408: (RegionNotPermittedError, "The Twilio account is not allowed to text numbers in this country or region."),
    21617: (BodyTooLongError, "The text is longer than 1,600 characters. Shorten it and try again."),
    21602: (UnknownProviderError, "The text is empty. Write a message (or attach a file) and try again."),
    21603: (InvalidSenderError, "No office number or Messaging Service was given to send from."),
    21212: (InvalidSenderError, "The office number to send from is not a valid phone number."),
    21606: (InvalidSenderError, "The office number to send from is not an SMS-capable number on this Twilio account."),
    21611: (TransientProviderError, "Too many texts are waiting to go out from the office number; the text will be tried again."),
    20003: (BadCredentialsError, "Twilio refused the Account SID or Auth Token. Check them in Preferences."),
    20404: (NotFoundError, "Twilio does not know this message or attachment (it may have been deleted)."),
    20429: (TransientProviderError, "Twilio is busy (too many requests); the text will be tried again shortly."),
    20500: (TransientProviderError, "Twilio had a temporary problem; the text will be tried again."),
    20503: (TransientProviderError, "Twilio is temporarily unavailable; the text will be tried again."),
    30409: (NotCancelableError, "This text can no longer be canceled at Twilio: it is not scheduled any more."),
    35111: (SchedulingError, "Twilio could not hold the text: no send time was given."),
    35114: (SchedulingError, "Twilio can only schedule texts between 15 minutes and 35 days ahead."),
    35115: (SchedulingError, "Twilio can only hold a text that is due at least 15 minutes from now."),
    35117: (SchedulingError, "Twilio can only hold a text that is due at most 35 days from now."),
    35118: (SchedulingError, "Scheduling a text at Twilio needs a Messaging Service; none is configured."),
    35126: (SchedulingError, "Twilio could not schedule the text (the schedule type must be 'fixed')."),
}

SENTENCE_TIMEOUT = "Twilio did not answer in time; the request will be tried again."
SENTENCE_CONNECTION = "Could not reach Twilio (check the internet connection); the request will be tried again."
SENTENCE_SERVER = "Twilio had a temporary problem; the request will be tried again."
SENTENCE_UNKNOWN = "Twilio refused the request (error {code})."


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """The Retry-After of a response's headers, if any (case-insensitive)."""
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return parse_retry_after(value)
    return None


def error_for(status: int | None, code: int | None, retry_after: float | None = None) -> ProviderError:
    """The typed error for an HTTP status and a Twilio code."""
    if code is not None and code in CODE_ERRORS:
        cls, sentence = CODE_ERRORS[code]
        return cls(sentence, code=code, status=status, retry_after=retry_after)
    if status == 401:
        return BadCredentialsError(CODE_ERRORS[20003][1], code=code or 20003, status=status)
    if status == 429:
        return TransientProviderError(CODE_ERRORS[20429][1], code=code or 20429, status=status,
                                      retry_after=retry_after)
    if status is not None and status >= 500:
        # A gateway's 502/504 says nothing about whether Twilio behind it took the request.
        return TransientProviderError(SENTENCE_SERVER, code=code, status=status,
                                      retry_after=retry_after, ambiguous=status in (502, 504))
    if status == 404:
        return NotFoundError(CODE_ERRORS[20404][1], code=code or 20404, status=status)
    shown = code if code is not None else status
    return UnknownProviderError(SENTENCE_UNKNOWN.format(code=shown), code=code, status=status)


def _code_from_body(text: str | None) -> int | None:
    try:
        payload: Any = json.loads(text or "")
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) else None


def _maybe_delivered(exc: BaseException) -> bool:
    """False only when the connection certainly failed before the request went out."""
    text = repr(exc)
    never_sent = ("NewConnectionError", "Failed to establish", "Connection refused",
                  "NameResolutionError", "getaddrinfo", "Name or service not known")
    return not any(marker in text for marker in never_sent)


def error_from_exception(exc: BaseException, last_headers: Mapping[str, str] | None = None) -> ProviderError:
    """Map a twilio/requests exception to a typed error.

    Args:
        exc: what the twilio client (or requests) raised.
        last_headers: headers of the response that caused it, when known; TwilioRestException
            does not carry them, so TwilioProvider records the last response per thread.
    """
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TwilioRestException):
        code = exc.code if isinstance(exc.code, int) else None
        if code == exc.status and code not in CODE_ERRORS:
            code = None  # the client puts the HTTP status in `code` when the body had none
        return error_for(exc.status, code, retry_after_from_headers(last_headers))
    if isinstance(exc, TwilioServiceException):  # RFC 9457 error bodies (newer Twilio APIs)
        code = exc.code if isinstance(exc.code, int) else None
        return error_for(exc.status, code, retry_after_from_headers(last_headers))
    if isinstance(exc, TwilioException):
        # Raised by Page.process_response for a non-200 page: args are (message, Response).
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            headers = getattr(response, "headers", None) or last_headers
            return error_for(status, _code_from_body(getattr(response, "text", None)),
                             retry_after_from_headers(headers))
        return UnknownProviderError(SENTENCE_UNKNOWN.format(code="unknown"))
    if isinstance(exc, requests.ConnectTimeout):  # never reached the provider
        return TransientProviderError(SENTENCE_TIMEOUT)
    if isinstance(exc, requests.Timeout):  # sent, but no answer: it may have been accepted
        return TransientProviderError(SENTENCE_TIMEOUT, ambiguous=True)
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return TransientProviderError(SENTENCE_CONNECTION, ambiguous=_maybe_delivered(exc))
    if isinstance(exc, requests.RequestException | OSError):
        return TransientProviderError(SENTENCE_CONNECTION)
    return UnknownProviderError(SENTENCE_UNKNOWN.format(code=type(exc).__name__))
