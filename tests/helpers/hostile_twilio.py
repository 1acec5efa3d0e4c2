"""A hostile Twilio for the tests: Twilio's wire format, answered badly on purpose.

It speaks the Messages resource of the 2010-04-01 API (list with pages and `meta`, create,
fetch) and the Media list, and can be told to answer each way a real server, a proxy or a
broken network might: garbage, truncated JSON, HTML with 200/201, wrong types, nulls, no sid,
huge bodies, one byte every N seconds, pages linking to themselves or in a cycle, links to
another host, dates far in the future or past, a sid repeated across pages, and a connection
dropped after the request was read. Not shipped: the product only ever meets it in tests.

Every request's Authorization header is recorded, so a second instance on another address
("the other host") shows whether credentials ever left the configured API host.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "f" * 32
API = "/2010-04-01"
LIST_RE = re.compile(rf"^{API}/Accounts/(AC\w+)/Messages\.json$")
ONE_RE = re.compile(rf"^{API}/Accounts/(AC\w+)/Messages/(\w+)\.json$")
MEDIA_RE = re.compile(rf"^{API}/Accounts/(AC\w+)/Messages/(\w+)/Media\.json$")
MEDIA_CONTENT_RE = re.compile(rf"^{API}/Accounts/(AC\w+)/Messages/(\w+)/Media/(\w+)$")

# How an answer is spoiled ("ok" leaves it alone).
ANSWERS = ("ok", "garbage", "truncated", "html", "huge", "slow", "drop", "empty", "not_object",
           "redirect")


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-style SID."""
    return prefix + secrets.token_hex(16)


def rfc2822(when: datetime | None) -> str | None:
    """Twilio's date format."""
    return None if when is None else format_datetime(when.astimezone(UTC), usegmt=False)


def message_json(sid: str, *, direction: str = "inbound", from_: str = "+12125550123",
                 to: str = "+12125550100", body: str = "hello",
                 when: datetime | None = None, status: str | None = None) -> dict[str, Any]:
    """A well-formed Message resource as Twilio lists it."""
    when = when or datetime.now(UTC).replace(microsecond=0)
    return {
        "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": body,
        "date_created": rfc2822(when), "date_sent": rfc2822(when), "date_updated": rfc2822(when),
        "direction": direction, "error_code": None, "error_message": None, "from": from_,
        "messaging_service_sid": None, "num_media": "0", "num_segments": "1", "price": None,
        "price_unit": "USD", "sid": sid,
        "status": status or ("received" if direction == "inbound" else "queued"),
        "subresource_uris": {"media": f"{API}/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"},
        "to": to, "uri": f"{API}/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


@dataclass
class PagePlan:
    """One page of the inbound listing: its records (any JSON) and where its link points.

    link: "next" (the following page, or none after the last), "none", "self", "first"
    (a cycle), "other_host_url" (meta.next_page_url on the other host), "other_host_uri"
    (an absolute next_page_uri on the other host), "not_a_link" (a number).
    """

    records: list[Any]
    link: str = "next"
    answer: str = "ok"


@dataclass
class Recorded:
    """One request the server read."""

    method: str
    path: str
    authorization: str | None
    form: dict[str, list[str]] = field(default_factory=dict)


class HostileTwilio:
    """The server. Set `pages` for the office's listing and `create_answer` for sends."""

    def __init__(self, host: str = "127.0.0.1", slow_gap: float = 2.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        self.pages: list[PagePlan] = []
        self.create_answer = "ok"  # one of ANSWERS, or "nosid" / "wrong_types"
        self.create_status = 201
        self.fetch_answer = "ok"
        self.media_answer = "ok"
        self.media_records: list[Any] = []
        self.lookup_answer = "ok"
        self.media_content = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        self.media_content_answer = "ok"
        self.office = "+12125550100"
        self.slow_gap = slow_gap
        self.other_host_base = "http://127.0.0.2:9"  # set by the test to the other server
        self.sent: list[dict[str, Any]] = []  # messages the server accepted (sends), in order
        self.requests: list[Recorded] = []
        self.request_seen = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a trickling answer must not hold up stop()
        self._thread: threading.Thread | None = None

    # --- life --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HostileTwilio:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorizations(self) -> list[str]:
        """The Authorization headers of every request read so far."""
        with self._lock:
            return [r.authorization for r in self.requests if r.authorization]

    # --- answers -------------------------------------------------------------------------
    def _list_page(self, query: dict[str, list[str]]) -> tuple[int, Any, str]:
        to = (query.get("To") or [""])[0]
        if to != self.office or not self.pages:
            # A look-up of sent texts (the dispatcher's "did it go?"): one honest page.
            with self._lock:
                records = [m for m in self.sent if m["to"] == to]
            return 200, self._page_json(list(reversed(records)), 0, "none"), self.lookup_answer
        index = int((query.get("Page") or ["0"])[0])
        index = max(0, min(index, len(self.pages) - 1))
        plan = self.pages[index]
        link = plan.link
        if link == "next" and index == len(self.pages) - 1:
            link = "none"
        return 200, self._page_json(plan.records, index, link), plan.answer

    def _page_json(self, records: list[Any], index: int, link: str) -> dict[str, Any]:
        uri = f"{API}/Accounts/{ACCOUNT_SID}/Messages.json?To={quote(self.office)}&PageSize=50&Page="
        targets = {"next": index + 1, "self": index, "first": 0}
        next_uri: Any = f"{uri}{targets[link]}" if link in targets else None
        meta_url: Any = None
        if link == "other_host_url":
            meta_url = f"{self.other_host_base}{uri}{index + 1}"
        elif link == "other_host_uri":
            next_uri = f"{self.other_host_base}{uri}{index + 1}"
        elif link == "not_a_link":
            next_uri = 12345
        payload: dict[str, Any] = {
            "messages": records, "end": index, "first_page_uri": f"{uri}0",
            "next_page_uri": next_uri, "page": index, "page_size": 50,
            "previous_page_uri": None, "start": 0, "uri": f"{uri}{index}",
        }
        if meta_url is not None:
            payload["meta"] = {"key": "messages", "next_page_url": meta_url}
        return payload

    def _create(self, form: dict[str, list[str]]) -> tuple[int, Any, str]:
        to = (form.get("To") or [""])[0]
        body = (form.get("Body") or [""])[0]
        message = message_json(new_sid(), direction="outbound-api",
                               from_=(form.get("From") or ["+12125550100"])[0], to=to, body=body,
                               when=self.clock())
        with self._lock:
            self.sent.append(message)
        answer = self.create_answer
        if answer == "nosid":
            return self.create_status, {k: v for k, v in message.items() if k != "sid"}, "ok"
        if answer == "wrong_types":
            return self.create_status, {**message, "sid": None, "num_media": "lots"}, "ok"
        return self.create_status, message, answer

    def _fetch(self, sid: str) -> tuple[int, Any, str]:
        for message in self.sent:
            if message["sid"] == sid:
                return 200, message, self.fetch_answer
        return 404, {"code": 20404, "message": "not found", "status": 404}, "ok"

    def _media(self) -> tuple[int, Any, str]:
        return 200, {"media_list": self.media_records, "next_page_uri": None, "page": 0,
                     "page_size": 50, "start": 0, "end": 0}, self.media_answer

    # --- HTTP ----------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _read_form(self) -> dict[str, list[str]]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                return parse_qs(raw)

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                form = self._read_form() if method == "POST" else {}
                with server._lock:
                    server.requests.append(Recorded(method, parts.path,
                                                    self.headers.get("Authorization"), form))
                server.request_seen.set()
                route: Callable[[], tuple[int, Any, str]]
                if method == "POST" and LIST_RE.match(parts.path):
                    route = lambda: server._create(form)  # noqa: E731
                elif method == "GET" and LIST_RE.match(parts.path):
                    route = lambda: server._list_page(query)  # noqa: E731
                elif method == "GET" and MEDIA_RE.match(parts.path):
                    route = server._media
                elif method == "GET" and MEDIA_CONTENT_RE.match(parts.path):
                    route = lambda: (200, None, server.media_content_answer)  # noqa: E731
                elif method == "GET" and (m := ONE_RE.match(parts.path)):
                    sid = m.group(2)
                    route = lambda: server._fetch(sid)  # noqa: E731
                else:
                    route = lambda: (404, {"code": 20404, "status": 404}, "ok")  # noqa: E731
                status, payload, answer = route()
                self._answer(status, payload, answer)

            def _answer(self, status: int, payload: Any, answer: str) -> None:
                body = json.dumps(payload).encode()
                content_type = "application/json"
                if payload is None:  # media content
                    body, content_type = server.media_content, "image/png"
                if answer == "garbage":
                    body = b"\x00\xff<<not json>>" + secrets.token_bytes(32)
                elif answer == "truncated":
                    body = body[: max(1, len(body) // 2)]
                elif answer == "html":
                    body = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
                    content_type = "text/html"
                elif answer == "huge":
                    body = b'{"messages": [' + b'{"x": "' + b"a" * (20 * 1024 * 1024) + b'"}]}'
                elif answer == "empty":
                    body = b""
                elif answer == "not_object":
                    body = b"[1, 2, 3]"
                elif answer == "redirect":
                    location = server.other_host_base + self.path
                    self.send_response(307)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                elif answer == "drop":
                    # The request was read (and acted on); the answer never comes.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if answer == "slow":
                    for i in range(len(body)):
                        try:
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(server.slow_gap)
                    return
                try:
                    self.wfile.write(body)
                except OSError:
                    return

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        return Handler
