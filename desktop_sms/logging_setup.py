"""One logging set-up for the command line and the application: nothing private in any log.

`install()` replaces the log record factory, so every record of every logger — ours, the
twilio client's (`twilio.http_client`), urllib3's, SQLAlchemy's — is masked when it is made,
whatever handler later prints it: phone numbers keep their last four digits (also in URL-encoded
form, `To=%2B12125550123` → `To=%2B…0123`), message bodies (`Body=...`, `"body": "..."`) and
tokens / Authorization headers are replaced by `[hidden]`. Tracebacks are masked the same way
by a filter on the root logger's handlers. See docs/logging.md.
"""

from __future__ import annotations

import logging
import re
from typing import Any

HIDDEN = "[hidden]"

_RULES: tuple[tuple[re.Pattern[str], Any], ...] = (
    # Authorization headers and basic-auth credentials in URLs.
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)?\s*[A-Za-z0-9+/=._-]+"),
     lambda m: m.group(1) + HIDDEN),
    (re.compile(r"(?i)(https?://)[^/\s:@]+:[^/\s@]+@"), lambda m: m.group(1) + HIDDEN + "@"),
    # Message bodies: form fields, query strings, JSON, Python reprs.
    (re.compile(r"(?i)(\bBody=)[^&\n'\"]*"), lambda m: m.group(1) + HIDDEN),
    (re.compile(r"(?i)(['\"]body['\"]\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"),
     lambda m: m.group(1) + "'" + HIDDEN + "'"),
    # Auth tokens / API secrets: 32 hex digits standing alone (a SID keeps its two letters).
    (re.compile(r"(?i)((?:auth_?token|token|password|secret)['\"]?\s*[:=]\s*['\"]?)[^\s'\",&]+"),
     lambda m: m.group(1) + HIDDEN),
    (re.compile(r"(?<![A-Za-z0-9])[0-9a-fA-F]{32}(?![0-9a-fA-F])"), lambda m: HIDDEN),
    # Phone numbers: +E.164 or URL-encoded %2B with any separators, a (212) 555-0123 style
    # number, or 7 to 15 plain digits. The last four digits are kept.
    (re.compile(r"(?:(%2B|\+)(\d[\d ().-]{5,18}\d)"
                r"|(?<![\w.:%/-])(\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}|\d{7,15}))(?![\w])"), None),
)


def _mask_phone(match: re.Match[str]) -> str:
    prefix = match.group(1) or ""
    number = match.group(2) or match.group(3) or ""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 7:
        return match.group(0)
    return f"{prefix}…{digits[-4:]}"


def mask_text(text: str) -> str:
    """The text with phone numbers masked to their last four digits and bodies, tokens and
    Authorization values replaced by [hidden]."""
    for pattern, replace in _RULES:
        text = pattern.sub(replace if replace is not None else _mask_phone, text)
    return text


class MaskingFilter(logging.Filter):
    """Masks a record's message and traceback text (see mask_text); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_desktop_sms_masked", False):
            _mask_record(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what can be shown
        message = str(record.msg)
    record.msg = mask_text(message)
    record.args = None
    record._desktop_sms_masked = True  # type: ignore[attr-defined]


_FILTER = MaskingFilter()
_installed = False
_previous_factory: Any = None


def install(level: int | None = None, fmt: str | None = None) -> None:
    """Mask every log record of the process from now on (idempotent).

    With `level`, also configure the root logger (logging.basicConfig) at that level.
    """
    global _installed, _previous_factory
    if level is not None:
        logging.basicConfig(level=level, format=fmt or "%(asctime)s %(levelname)s %(name)s: "
                                                         "%(message)s")
    root = logging.getLogger()
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    if _installed:
        return
    _installed = True
    previous = _previous_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)


def uninstall() -> None:
    """Undo install() (for tests that must leave the process as they found it)."""
    global _installed
    if _installed and _previous_factory is not None:
        logging.setLogRecordFactory(_previous_factory)
    _installed = False
    for handler in logging.getLogger().handlers:
        handler.removeFilter(_FILTER)


__all__ = ["HIDDEN", "MaskingFilter", "install", "mask_text", "uninstall"]
