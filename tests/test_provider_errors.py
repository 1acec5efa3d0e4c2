"""Mapping of Twilio exceptions, HTTP answers and network failures to the typed errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.response import Response

from desktop_sms.providers.base import (
    BadCredentialsError,
    OptedOutError,
    ProviderError,
    TransientProviderError,
    UnknownProviderError,
)
from desktop_sms.providers.errors import CODE_ERRORS, error_from_exception, parse_retry_after


def test_rest_exception_with_code() -> None:
    err = error_from_exception(TwilioRestException(400, "/x", "msg", 21610, "POST"))
    assert isinstance(err, OptedOutError) and (err.code, err.status) == (21610, 400)


def test_rest_exception_uses_recorded_retry_after() -> None:
    err = error_from_exception(TwilioRestException(429, "/x", "msg", 20429),
                               last_headers={"retry-after": "12"})
    assert isinstance(err, TransientProviderError) and err.retry_after == 12.0


def test_rest_exception_without_twilio_code() -> None:
    # the client puts the HTTP status into `code` when the body has none
    err = error_from_exception(TwilioRestException(503, "/x", "msg", 503))
    assert isinstance(err, TransientProviderError) and err.code is None and err.status == 503
    err = error_from_exception(TwilioRestException(401, "/x", "msg", 401))
    assert isinstance(err, BadCredentialsError)


def test_plain_twilio_exception_for_a_non_200_page() -> None:
    body = json.dumps({"code": 20429, "message": "Too Many Requests", "more_info": "", "status": 429})
    response = Response(429, body, {"Retry-After": "5"})
    err = error_from_exception(TwilioException("Unable to fetch page", response))
    assert isinstance(err, TransientProviderError)
    assert (err.code, err.status, err.retry_after) == (20429, 429, 5.0)


def test_plain_twilio_exception_without_response() -> None:
    err = error_from_exception(TwilioException("Page Records can not be deserialized"))
    assert isinstance(err, UnknownProviderError) and not err.transient


def test_service_exception() -> None:
    exc = TwilioServiceException(type_uri="u", title="t", status=400, code=21211)
    assert error_from_exception(exc).code == 21211


@pytest.mark.parametrize("exc", [requests.Timeout(), requests.ConnectionError(),
                                 requests.exceptions.ChunkedEncodingError(), ConnectionResetError()])
def test_network_failures_are_transient(exc: BaseException) -> None:
    assert isinstance(error_from_exception(exc), TransientProviderError)


def test_unknown_code_names_it() -> None:
    err = error_from_exception(TwilioRestException(400, "/x", "msg", 99999))
    assert isinstance(err, UnknownProviderError) and "99999" in err.sentence


def test_every_sentence_is_a_sentence() -> None:
    for cls, sentence in CODE_ERRORS.values():
        assert issubclass(cls, ProviderError)
        assert sentence[0].isupper() and sentence.endswith(".")


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("garbage", now) is None
    assert parse_retry_after(None) is None


def test_only_failures_before_the_request_went_out_are_unambiguous() -> None:
    """A read time-out may hide an accepted text: the dispatcher must look before resending."""
    import requests

    from desktop_sms.providers.errors import error_from_exception

    assert error_from_exception(requests.ReadTimeout("read timed out")).ambiguous
    assert not error_from_exception(requests.ConnectTimeout("connect timed out")).ambiguous
    refused = requests.ConnectionError("HTTPConnectionPool: Max retries exceeded (Caused by "
                                       "NewConnectionError: Failed to establish a new connection: "
                                       "[Errno 111] Connection refused)")
    assert not error_from_exception(refused).ambiguous
    dropped = requests.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end "
                                       "closed connection without response'))")
    assert error_from_exception(dropped).ambiguous and error_from_exception(dropped).transient
