"""Shared fixtures. QT_QPA_PLATFORM is set before anything can import Qt."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DESKTOP_SMS_TESTING", "1")

pytest_plugins = [
    "tests.helpers.ui_fixtures",
    "tests.helpers.db_fixtures",
    "tests.helpers.sandbox_fixtures",
    "tests.helpers.outbound_fixtures",
]
