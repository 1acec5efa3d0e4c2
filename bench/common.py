"""What every measurement shares: sizes, figures, percentiles, the machine description."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

OFFICE = "+12125550100"


@dataclass(frozen=True)
class Size:
    """How big each measurement is; `full` is docs/product.md P's size, `quick` a tenth of it."""

    name: str
    matters: int
    outbound: int
    inbound: int
    match_samples: int  # senders timed per mode and repeat
    match_repeats: int
    ingest: int
    dispatch: int
    stall_poll: int
    caselist_repeats: int
    cold_start_pairs: int
    scheduled_repeats: int


SIZES: dict[str, Size] = {
    "full": Size("full", 100_000, 600_000, 400_000, 2_000, 3, 10_000, 1_000, 5_000, 5, 5, 3),
    "quick": Size("quick", 10_000, 60_000, 40_000, 1_000, 3, 1_000, 100, 500, 3, 3, 2),
    # For the test suite only: every piece runs, in seconds.
    "tiny": Size("tiny", 400, 1_500, 800, 60, 1, 30, 10, 20, 1, 1, 1),
}


@dataclass
class Figure:
    """One measured figure as the JSON and the table show it."""

    name: str
    value: float
    unit: str
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def passed(self) -> bool | None:
        """True/False against the target ('<= 2 ms', '>= 300/s'); None when there is none."""
        if not self.target:
            return None
        op, _, rest = self.target.partition(" ")
        number = float(rest.split()[0].rstrip("/sx%"))
        if op == "<=":
            return self.value <= number
        if op == ">=":
            return self.value >= number
        raise ValueError(f"unknown target {self.target!r}")

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": round(self.value, 4), "unit": self.unit,
                               "target": self.target}
        if self.detail:
            out["detail"] = self.detail
        return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict[str, Any]:
    """The machine the figures were taken on (figures from different machines don't compare)."""
    try:
        import PySide6

        qt = PySide6.__version__
    except ImportError:  # pragma: no cover - PySide6 is a dependency
        qt = None
    import sqlalchemy

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "sqlite_version": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "pyside6": qt,
        "load_average_at_start": list(load) if load else None,
    }
