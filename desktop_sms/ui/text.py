"""Client text in places Qt would read as HTML (tool tips) is escaped so it shows literally."""

from __future__ import annotations

import html


def plain_tooltip(text: str | None) -> str:
    """A tool tip that shows `text` as typed: Qt renders tool tips that look like HTML as HTML."""
    if not text:
        return ""
    return f'<p style="white-space:pre-wrap">{html.escape(text)}</p>'
