"""The local Twilio-compatible server on the wire: shapes, schema, filters, control API."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from desktop_sms.providers.sandbox_server import (
    ManualClock,
    SandboxServer,
    count_segments,
    keyword_of,
    rfc2822,
)
from desktop_sms.providers.twilio_provider import TwilioProvider
from tests.helpers.sandbox_fixtures import CLIENT_NUMBER, OFFICE_NUMBER

# Twilio's own OpenAPI description of the 2010 REST API (github.com/twilio/twilio-oai), kept in
# the repository so the local server is checked against it wherever the tests run.
SPEC_PATH = Path(__file__).resolve().parent / "reference" / "twilio_api_v2010.json"
SPEC_URI = "urn:twilio-api-v2010"
RFC2822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
MESSAGES = "/2010-04-01/Accounts/{ac}/Messages.json"
LIST_KEYS = {"end", "first_page_uri", "next_page_uri", "page", "page_size", "previous_page_uri",
             "start", "uri"}


@cache
def spec() -> dict[str, Any]:
    """Twilio's OpenAPI document."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def registry() -> Registry[Any]:
    """A referencing registry over the whole document, so every $ref resolves."""
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT4))


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    """The JSON schema of one documented response."""
    op = spec()["paths"][path][method]
    return op["responses"][status]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def error_schema() -> dict[str, Any]:
    """Twilio's error body schema (the document states it once, for a 408 of Recordings)."""
    return response_schema("/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings/{Sid}.json",
                           "post", "408")


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Validate against a schema of the document, with $refs resolved in the document."""
    wrapped = {"$ref": f"{SPEC_URI}#/__probe__"}
    probe_registry = registry().with_resource(
        SPEC_URI, Resource.from_contents({**spec(), "__probe__": schema},
                                         default_specification=DRAFT4))
    OAS30Validator(wrapped, registry=probe_registry).validate(instance)


def assert_dates(obj: dict[str, Any]) -> None:
    for key in ("date_created", "date_updated", "date_sent"):
        if obj.get(key) is not None:
            assert RFC2822.match(obj[key]), obj[key]


class Api:
    """Raw HTTP against the sandbox, as a Twilio client would speak it."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.ac, token = server.credentials
        self.auth = (self.ac, token)

    def url(self, path: str) -> str:
        return self.server.base_url + path.format(ac=self.ac)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url(path), auth=kw.pop("auth", self.auth), timeout=5,
                            allow_redirects=False, **kw)

    def post(self, path: str, data: Any = None, **kw: Any) -> requests.Response:
        return requests.post(self.url(path), data=data, auth=kw.pop("auth", self.auth), timeout=5,
                             allow_redirects=False, **kw)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(self.url(path), auth=self.auth, timeout=5)

    def send(self, to: str = CLIENT_NUMBER, body: str = "hi", **extra: str) -> dict[str, Any]:
        r = self.post(MESSAGES, {"To": to, "From": OFFICE_NUMBER, "Body": body, **extra})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def api(sandbox_server: SandboxServer) -> Api:
    return Api(sandbox_server)


# --- schema checks -------------------------------------------------------------------------

MESSAGE_SCHEMA = {"$ref": "#/components/schemas/api.v2010.account.message"}
MEDIA_SCHEMA = {"$ref": "#/components/schemas/api.v2010.account.message.media"}


def test_message_json_has_every_schema_property_with_twilios_types(api: Api) -> None:
    created = api.send(body="Hello")
    validate(created, response_schema("/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", "201"))
    props = set(spec()["components"]["schemas"]["api.v2010.account.message"]["properties"])
    assert props <= set(created)
    assert isinstance(created["num_media"], str) and isinstance(created["num_segments"], str)
    assert created["price"] is None
    assert re.fullmatch(r"SM[0-9a-f]{32}", created["sid"])
    assert created["uri"] == f"/2010-04-01/Accounts/{api.ac}/Messages/{created['sid']}.json"
    assert created["subresource_uris"]["media"].endswith(f"/Messages/{created['sid']}/Media.json")
    assert_dates(created)

    fetched = api.get(f"/2010-04-01/Accounts/{{ac}}/Messages/{created['sid']}.json")
    assert fetched.status_code == 200
    validate(fetched.json(), response_schema(
        "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", "get", "200"))


def test_message_list_envelope_matches_schema(api: Api, sandbox_server: SandboxServer) -> None:
    for i in range(3):
        api.send(body=str(i))
    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "reply", media=[("image/png", b"x")])
    r = api.get(MESSAGES, params={"PageSize": 2})
    page = r.json()
    validate(page, response_schema("/2010-04-01/Accounts/{AccountSid}/Messages.json", "get", "200"))
    assert set(page) == LIST_KEYS | {"messages"}
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 2, 0, 1)
    assert page["previous_page_uri"] is None and page["next_page_uri"]
    for m in page["messages"]:
        validate(m, MESSAGE_SCHEMA)
        assert_dates(m)


def test_media_and_media_list_match_schema(api: Api, sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "pic",
                                        media=[("image/jpeg", b"\xff\xd8\xff")])
    lst = api.get(f"/2010-04-01/Accounts/{{ac}}/Messages/{sid}/Media.json").json()
    validate(lst, response_schema("/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json",
                                  "get", "200"))
    assert set(lst) == LIST_KEYS | {"media_list"}
    item = lst["media_list"][0]
    assert set(spec()["components"]["schemas"]["api.v2010.account.message.media"]["properties"]) <= set(item)
    one = api.get(item["uri"]).json()
    validate(one, response_schema(
        "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json", "get", "200"))
    validate(one, MEDIA_SCHEMA)
    assert_dates(one)


def test_account_and_incoming_numbers_match_schema(api: Api, sandbox_server: SandboxServer) -> None:
    account = api.get("/2010-04-01/Accounts/{ac}.json").json()
    validate(account, response_schema("/2010-04-01/Accounts/{Sid}.json", "get", "200"))
    sandbox_server.set_incoming_numbers([OFFICE_NUMBER, "+12125550101"])
    numbers = api.get("/2010-04-01/Accounts/{ac}/IncomingPhoneNumbers.json",
                      params={"PhoneNumber": OFFICE_NUMBER}).json()
    validate(numbers, response_schema("/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json",
                                      "get", "200"))
    assert [n["phone_number"] for n in numbers["incoming_phone_numbers"]] == [OFFICE_NUMBER]


@pytest.mark.parametrize(("data", "status", "code"), [
    ({"To": "+15005550001", "Body": "x"}, 400, 21211),
    ({"To": "+15005550002", "Body": "x"}, 400, 21612),
    ({"To": "+15005550003", "Body": "x"}, 400, 21408),
    ({"To": "+15005550004", "Body": "x"}, 400, 21610),
    ({"To": "+15005550009", "Body": "x"}, 400, 21614),
    ({"To": CLIENT_NUMBER, "Body": "y" * 1601}, 400, 21617),
    ({"To": CLIENT_NUMBER}, 400, 21602),
    ({"To": CLIENT_NUMBER, "Body": "x", "SendAt": "2030-01-01T00:00:00Z", "ScheduleType": "fixed"},
     400, 35118),
])
def test_error_bodies_match_schema(api: Api, data: dict[str, str], status: int, code: int) -> None:
    r = api.post(MESSAGES, {"From": OFFICE_NUMBER, **data})
    assert r.status_code == status
    body = r.json()
    validate(body, error_schema())
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


def test_schedule_type_must_be_fixed(api: Api, sandbox_clock: ManualClock) -> None:
    when = (sandbox_clock() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = api.post(MESSAGES, {"To": CLIENT_NUMBER, "Body": "x", "MessagingServiceSid": "MG" + "a" * 32,
                            "SendAt": when, "ScheduleType": "later"})
    assert r.json()["code"] == 35126


def test_auth_not_found_and_rate_limit_errors_match_schema(api: Api,
                                                           sandbox_server: SandboxServer) -> None:
    r = api.get(MESSAGES, auth=(api.ac, ""))
    assert r.status_code == 401 and r.json()["code"] == 20003
    validate(r.json(), error_schema())
    r = api.get("/2010-04-01/Accounts/{ac}/Messages/SM" + "0" * 32 + ".json")
    assert r.status_code == 404 and r.json()["code"] == 20404
    validate(r.json(), error_schema())
    sandbox_server.set_faults(rate_limit=1, retry_after=2)
    r = api.get(MESSAGES)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["code"] == 20429
    validate(r.json(), error_schema())
    r = api.post("/2010-04-01/Accounts/{ac}/Messages/SM" + "0" * 32 + ".json", {"Status": "canceled"})
    assert r.status_code == 404


# --- filters and paging on the wire ----------------------------------------------------------

def test_date_filters_have_date_granularity(api: Api, sandbox_server: SandboxServer) -> None:
    days = {d: sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, f"d{d}",
                                             date_sent=datetime(2026, 5, d, 12, tzinfo=UTC))
            for d in (1, 2, 3)}

    def sids(**params: str) -> list[str]:
        return [m["sid"] for m in api.get(MESSAGES, params=params).json()["messages"]]

    assert sids(**{"DateSent": "2026-05-02"}) == [days[2]]
    assert sids(**{"DateSent>": "2026-05-02"}) == [days[3], days[2]]
    assert sids(**{"DateSent<": "2026-05-02"}) == [days[2], days[1]]
    assert sids(**{"DateSent>": "2026-05-02T23:59:00Z"}) == [days[3], days[2]]
    assert sids(**{"DateSent>": "2026-05-02", "DateSent<": "2026-05-02"}) == [days[2]]
    r = api.get(MESSAGES, params={"DateSent>": "yesterday"})
    assert r.status_code == 400


def test_paging_envelope_keeps_filters_and_page_token(api: Api, sandbox_server: SandboxServer) -> None:
    for i in range(5):
        sandbox_server.inject_inbound(f"+1212555030{i}", OFFICE_NUMBER, str(i))
    sandbox_server.inject_inbound(CLIENT_NUMBER, "+12125550101", "elsewhere")
    first = api.get(MESSAGES, params={"To": OFFICE_NUMBER, "DateSent>": "2000-01-01",
                                      "PageSize": 2}).json()
    assert "To=%2B12125550100" in first["next_page_uri"]
    assert "DateSent%3E=2000-01-01" in first["next_page_uri"]
    assert "PageToken=PA" in first["next_page_uri"]
    seen = [m["sid"] for m in first["messages"]]
    page = first
    while page["next_page_uri"]:
        page = api.get(page["next_page_uri"]).json()
        seen += [m["sid"] for m in page["messages"]]
        assert page["previous_page_uri"]
    assert len(seen) == len(set(seen)) == 5
    assert page["page"] == 2 and page["start"] == 4 and page["end"] == 4
    # by Page number alone, too
    assert len(api.get(MESSAGES, params={"To": OFFICE_NUMBER, "PageSize": 2, "Page": 1}).json()["messages"]) == 2


def test_page_token_survives_new_messages(api: Api, sandbox_server: SandboxServer,
                                          sandbox_clock: ManualClock) -> None:
    for i in range(4):
        sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, str(i))
        sandbox_clock.advance(1)
    first = api.get(MESSAGES, params={"PageSize": 2}).json()
    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "newest")
    second = api.get(first["next_page_uri"]).json()
    bodies = [m["body"] for m in first["messages"] + second["messages"]]
    assert bodies == ["3", "2", "1", "0"]


# --- message sub-routes ----------------------------------------------------------------------

def test_cancel_only_scheduled_and_delete(api: Api, sandbox_clock: ManualClock) -> None:
    when = (sandbox_clock() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sched = api.send(MessagingServiceSid="MG" + "a" * 32, SendAt=when, ScheduleType="fixed")
    assert sched["status"] == "scheduled" and sched["date_sent"] is None
    path = f"/2010-04-01/Accounts/{{ac}}/Messages/{sched['sid']}.json"
    r = api.post(path, {"Status": "canceled"})
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    r = api.post(path, {"Status": "canceled"})
    assert r.status_code == 400 and r.json()["code"] == 30409
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_media_content_redirects_to_second_listener(api: Api, sandbox_server: SandboxServer) -> None:
    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "pic", media=[("image/gif", b"GIF89a")])
    item = api.get(f"/2010-04-01/Accounts/{{ac}}/Messages/{sid}/Media.json").json()["media_list"][0]
    content = item["uri"][: -len(".json")]
    assert api.get(content, auth=None).status_code == 401
    r = api.get(content)
    assert r.status_code == 307
    location = r.headers["Location"]
    assert location.startswith(sandbox_server.media_base_url)
    assert sandbox_server.media_base_url != sandbox_server.base_url
    got = requests.get(location, timeout=5)
    assert got.content == b"GIF89a" and got.headers["Content-Type"] == "image/gif"


def test_outbound_media_url(api: Api) -> None:
    msg = api.send(MediaUrl="https://example.com/photo.jpg")
    assert msg["num_media"] == "1"
    media = api.get(msg["subresource_uris"]["media"]).json()["media_list"]
    assert media[0]["content_type"] == "image/jpeg"


# --- control API -----------------------------------------------------------------------------

def test_control_inbound_then_provider_lists_it_with_media(sandbox_server: SandboxServer,
                                                           twilio_provider: TwilioProvider) -> None:
    payload = {"from": CLIENT_NUMBER, "to": OFFICE_NUMBER, "body": "Here is the letter",
               "date_sent": "2026-01-02T03:04:05Z",
               "media": [{"content_type": "image/jpeg",
                          "data_base64": base64.b64encode(b"\xff\xd8jpeg").decode()}]}
    r = requests.post(sandbox_server.base_url + "/_sandbox/inbound", json=payload, timeout=5)
    assert r.status_code == 201
    sid = r.json()["sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [msg] = list(twilio_provider.list_messages(to=OFFICE_NUMBER))
    assert (msg.sid, msg.body, msg.num_media) == (sid, "Here is the letter", 1)
    assert msg.date_sent == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    [item] = twilio_provider.list_media(sid)
    assert twilio_provider.download_media(item, 1000) == b"\xff\xd8jpeg"


def test_control_messages_lists_everything(sandbox_server: SandboxServer, api: Api) -> None:
    out = api.send()
    inbound = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "x")
    r = requests.get(sandbox_server.base_url + "/_sandbox/messages", timeout=5)
    listed = r.json()["messages"]
    assert {m["sid"] for m in listed} == {out["sid"], inbound}
    for m in listed:
        validate(m, MESSAGE_SCHEMA)
    assert sandbox_server.messages() == listed


def test_control_faults_over_http(sandbox_server: SandboxServer, api: Api) -> None:
    base = sandbox_server.base_url
    r = requests.post(base + "/_sandbox/faults", json={"server_error": 1, "rate_limit": 1,
                                                       "retry_after": 4}, timeout=5)
    assert r.status_code == 200
    first, second, third = (api.get(MESSAGES) for _ in range(3))
    assert (first.status_code, first.headers.get("Retry-After")) == (429, "4")
    assert second.status_code == 500 and second.json()["status"] == 500
    assert third.status_code == 200
    requests.post(base + "/_sandbox/faults", json={"server_error": 5}, timeout=5)
    assert requests.delete(base + "/_sandbox/faults", timeout=5).status_code == 204
    assert api.get(MESSAGES).status_code == 200
    bad = requests.post(base + "/_sandbox/faults", json={"explode": 1}, timeout=5)
    assert bad.status_code == 400


def test_control_outcomes_and_advance_over_http(sandbox_server: SandboxServer, api: Api) -> None:
    base = sandbox_server.base_url
    requests.post(base + "/_sandbox/outcomes",
                  json={"to": CLIENT_NUMBER, "status": "failed", "error_code": 30005}, timeout=5)
    sid = api.send()["sid"]
    requests.post(base + "/_sandbox/advance", json={}, timeout=5)
    msg = api.get(f"/2010-04-01/Accounts/{{ac}}/Messages/{sid}.json").json()
    assert (msg["status"], msg["error_code"]) == ("failed", 30005)


def test_control_inbound_rejects_bad_payload(sandbox_server: SandboxServer) -> None:
    r = requests.post(sandbox_server.base_url + "/_sandbox/inbound", json={"body": "x"}, timeout=5)
    assert r.status_code == 400


def test_control_api_bypasses_faults(sandbox_server: SandboxServer) -> None:
    sandbox_server.set_faults(server_error=3)
    r = requests.get(sandbox_server.base_url + "/_sandbox/messages", timeout=5)
    assert r.status_code == 200


# --- server life cycle and helpers -------------------------------------------------------------

def test_two_servers_use_free_ports_and_stop() -> None:
    with SandboxServer() as a, SandboxServer() as b:
        assert a.port != b.port and a.port != a.media_port
        assert a.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(requests.ConnectionError):
        requests.get(a.base_url + "/_sandbox/messages", timeout=2)


def test_refuses_non_loopback_and_half_credentials() -> None:
    with pytest.raises(ValueError):
        SandboxServer(host="0.0.0.0")
    with pytest.raises(ValueError):
        SandboxServer(account_sid="AC" + "0" * 32)


def test_default_progress_is_fast() -> None:
    clock = ManualClock()
    with SandboxServer(clock=clock) as server:  # default progress_delay (fast)
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url)
        sid = provider.send(to=CLIENT_NUMBER, from_=OFFICE_NUMBER, body="x").sid
        clock.advance(1)
        assert provider.fetch(sid).status == "delivered"


def test_helpers() -> None:
    assert rfc2822(datetime(2026, 11, 26, 7, 0, tzinfo=UTC)) == "Thu, 26 Nov 2026 07:00:00 +0000"
    assert keyword_of("  Stop!! ") == "STOP"
    assert count_segments("a" * 160) == 1 and count_segments("a" * 161) == 2
    assert count_segments("é" * 70) == 1 and count_segments("ő" * 71) == 2


# --- HTTP/1.1 keep-alive ---------------------------------------------------------------------

def _raw(conn: Any, method: str, path: str, auth: tuple[str, str] | None = None) -> Any:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()
    return response


def test_one_connection_serves_many_requests_including_errors_and_redirects(
        api: Api, sandbox_server: SandboxServer) -> None:
    import http.client

    sid = sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "photo",
                                        media=[("image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 20)])
    media = api.get(f"/2010-04-01/Accounts/{{ac}}/Messages/{sid}/Media.json").json()["media_list"]
    conn = http.client.HTTPConnection("127.0.0.1", sandbox_server.port, timeout=5)
    try:
        ok = _raw(conn, "GET", MESSAGES.format(ac=api.ac), api.auth)
        sock = conn.sock
        assert ok.status == 200 and ok.version == 11 and json.loads(ok.body)["messages"]
        assert int(ok.getheader("Content-Length")) == len(ok.body)
        bad = _raw(conn, "GET", MESSAGES.format(ac=api.ac), ("AC" + "0" * 32, "wrong"))
        assert bad.status == 401 and int(bad.getheader("Content-Length")) == len(bad.body) > 0
        missing = _raw(conn, "GET", "/nowhere", api.auth)
        assert missing.status == 404 and json.loads(missing.body)["code"] == 20404
        redirect = _raw(conn, "GET", media[0]["uri"].removesuffix(".json"), api.auth)
        assert redirect.status == 307 and redirect.getheader("Content-Length") == "0"
        sandbox_server.set_faults(rate_limit=1, retry_after=2)
        limited = _raw(conn, "GET", MESSAGES.format(ac=api.ac), api.auth)
        assert limited.status == 429 and json.loads(limited.body)["code"] == 20429
        deleted = _raw(conn, "DELETE", f"/2010-04-01/Accounts/{api.ac}/Messages/{sid}.json",
                       api.auth)
        assert deleted.status == 204 and deleted.body == b""
        assert deleted.getheader("Content-Length") is None  # a 204 has no body
        again = _raw(conn, "GET", MESSAGES.format(ac=api.ac), api.auth)
        assert again.status == 200 and json.loads(again.body)["messages"] == []
        assert conn.sock is sock  # every answer above came over the one connection
    finally:
        conn.close()


def test_media_listener_keeps_the_connection_too(api: Api, sandbox_server: SandboxServer) -> None:
    import http.client

    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, "photo",
                                  media=[("image/png", b"\x89PNG\r\n\x1a\n" + b"1" * 20)])
    token = next(iter(sandbox_server.state.media_by_token))
    conn = http.client.HTTPConnection("127.0.0.1", sandbox_server.media_port, timeout=5)
    try:
        first = _raw(conn, "GET", f"/media/{token}")
        sock = conn.sock
        missing = _raw(conn, "GET", "/media/unknown")
        second = _raw(conn, "GET", f"/media/{token}")
        assert (first.status, missing.status, second.status) == (200, 404, 200)
        assert first.body == second.body and first.body.startswith(b"\x89PNG")
        assert missing.body == b"Not Found" and conn.sock is sock
    finally:
        conn.close()


def test_stopping_the_server_ends_kept_alive_connections() -> None:
    with SandboxServer() as server:
        session = requests.Session()
        assert session.get(server.base_url + "/_sandbox/messages", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        session.get(server.base_url + "/_sandbox/messages", timeout=2)
    session.close()


def test_a_page_serializes_only_its_own_messages(api: Api, sandbox_server: SandboxServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, f"m{i}")
    rendered: list[str] = []
    real = SandboxServer.message_json

    def counting(self: SandboxServer, msg: Any) -> dict[str, Any]:
        rendered.append(msg.sid)
        return real(self, msg)

    monkeypatch.setattr(SandboxServer, "message_json", counting)
    page = api.get(MESSAGES, params={"PageSize": "7"}).json()
    assert len(page["messages"]) == 7 and len(rendered) == 7
    assert rendered == [m["sid"] for m in page["messages"]]


SCHEDULE_SERVICE = "MG" + "a" * 32


def _at(clock: ManualClock, ahead: timedelta) -> str:
    return (clock() + ahead).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("extra", "code"), [
    ({"ScheduleType": "fixed"}, 35111),  # SendAt missing
    ({"ScheduleType": "fixed", "SendAt": "next tuesday"}, 35114),
    ({"ScheduleType": "fixed", "SendAt": "+10m"}, 35115),
    ({"ScheduleType": "fixed", "SendAt": "+36d"}, 35117),
    ({"ScheduleType": "later", "SendAt": "+1h"}, 35126),
    ({"SendAt": "+1h"}, 35126),  # a SendAt without ScheduleType=fixed is not a schedule
])
def test_scheduling_errors_as_twilio_documents_them(api: Api, sandbox_clock: ManualClock,
                                                    extra: dict[str, str], code: int) -> None:
    offsets = {"+10m": timedelta(minutes=10), "+36d": timedelta(days=36),
               "+1h": timedelta(hours=1)}
    data = {k: (_at(sandbox_clock, offsets[v]) if v in offsets else v) for k, v in extra.items()}
    r = api.post(MESSAGES, {"To": CLIENT_NUMBER, "Body": "x",
                            "MessagingServiceSid": SCHEDULE_SERVICE, **data})
    assert (r.status_code, r.json()["code"]) == (400, code)
    validate(r.json(), error_schema())


def test_the_minimum_lead_is_a_server_option(sandbox_clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        SandboxServer(clock=sandbox_clock, min_schedule_ahead_s=60)
    with SandboxServer(port=0, clock=sandbox_clock, min_schedule_ahead_s=300) as server:
        api = Api(server)
        six = api.post(MESSAGES, {"To": CLIENT_NUMBER, "Body": "x", "ScheduleType": "fixed",
                                  "MessagingServiceSid": SCHEDULE_SERVICE,
                                  "SendAt": _at(sandbox_clock, timedelta(minutes=6))})
        assert six.status_code == 201
        validate(six.json(), response_schema(
            "/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", "201"))
        four = api.post(MESSAGES, {"To": CLIENT_NUMBER, "Body": "x", "ScheduleType": "fixed",
                                   "MessagingServiceSid": SCHEDULE_SERVICE,
                                   "SendAt": _at(sandbox_clock, timedelta(minutes=4))})
        assert four.json()["code"] == 35115


def test_held_text_goes_out_at_send_at_and_a_late_cancel_is_30409(
        api: Api, sandbox_clock: ManualClock) -> None:
    created = api.send(MessagingServiceSid=SCHEDULE_SERVICE, ScheduleType="fixed",
                       SendAt=_at(sandbox_clock, timedelta(hours=2)))
    assert created["status"] == "scheduled" and created["date_sent"] is None
    one = "/2010-04-01/Accounts/{ac}/Messages/" + created["sid"] + ".json"
    sandbox_clock.advance(hours=2, seconds=10)
    fetched = api.get(one).json()
    validate(fetched, MESSAGE_SCHEMA)
    assert fetched["status"] == "delivered" and fetched["date_sent"] is not None
    r = api.post(one, {"Status": "canceled"})
    assert (r.status_code, r.json()["code"]) == (400, 30409)
    validate(r.json(), error_schema())
