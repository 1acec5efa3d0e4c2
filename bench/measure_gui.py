"""Parent side of the GUI measurements: spawns bench.gui_child with an offscreen Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Figure, median, percentile
from bench.datagen import BenchData

FILTER_INPUTS = ["garcia", "Maria", "24-0012", "00123", "212.555.01", "(917) 5", "zz-nobody"]
REPO = Path(__file__).resolve().parent.parent


def run_child(args: list[str], timeout: float = 900) -> dict[str, Any]:
    """Run one child measurement and return its JSON result."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BENCH_SPAWN_T=repr(time.time()))
    proc = subprocess.run([sys.executable, "-m", "bench.gui_child", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result: dict[str, Any] = json.loads(line[len("BENCH-RESULT "):])
            return result
    raise RuntimeError(f"bench.gui_child {args[0]} failed (exit {proc.returncode}):\n"
                       f"{proc.stderr[-3000:]}")


def measure_caselist(data: BenchData, log: Any = print) -> list[Figure]:
    """caselist_first_paint_s, caselist_filter_ms (median and p95), caselist_rss_mb."""
    r = run_child(["caselist", data.url, json.dumps(FILTER_INPUTS),
                   str(data.size.caselist_repeats)])
    ms = r["filter_ms"]
    per_input = {k: round(median(v), 2) for k, v in r["per_input_ms"].items()}
    log(f"  case list: first paint {r['first_paint_s']:.2f} s after spawn "
        f"(imports {r['imported_s']:.2f}, window built {r['window_built_s']:.2f}); filter median "
        f"{median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms; RSS {r['rss_after_paint_mb']:.0f} MB")
    log(f"  filter per input (median ms): {per_input}")
    marks = {k: round(r[k], 3) for k in ("imported_s", "database_s", "services_s",
                                         "window_built_s")}
    return [
        Figure("caselist_first_paint_s", r["first_paint_s"], "s", "<= 1.5 s",
               {**marks, "rows_cached_at_paint": r["rows_cached_at_paint"],
                "total_rows": r["total_rows"]}),
        Figure("caselist_filter_ms", median(ms), "ms (median)", "<= 100 ms",
               {"per_input_median_ms": per_input, "rows_per_input": r["rows_per_input"]}),
        Figure("caselist_filter_p95_ms", percentile(ms, 95), "ms (p95)", "<= 100 ms",
               {"max_ms": round(max(ms), 2), "keystrokes": len(ms)}),
        Figure("caselist_rss_mb", r["rss_after_paint_mb"], "MB", "<= 300 MB",
               {"after_filters_mb": round(r["rss_after_filters_mb"], 1)}),
    ]


def measure_stall(data: BenchData, log: Any = print) -> list[Figure]:
    """gui_max_stall_ms during a poll of N replies with 200 ms added provider latency."""
    r = run_child(["stall", data.url, str(data.size.stall_poll), "200"])
    log(f"  GUI stall: longest gap {r['max_gap_ms']:.1f} ms (idle {r['idle_max_gap_ms']:.1f} ms) "
        f"during a {r['poll_s']:.1f} s poll filing {r['filed']} replies")
    if r["errors"]:
        log(f"  GUI stall WARNING: poll errors {r['errors']}")
    return [Figure("gui_max_stall_ms", r["max_stall_ms"], "ms", "<= 50 ms",
                   {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})]


def measure_cold_start(data: BenchData, log: Any = print) -> list[Figure]:
    """cold_start_ratio: app to main window painted vs. a bare QMainWindow, paired runs."""
    ratios: list[float] = []
    apps: list[float] = []
    bares: list[float] = []
    for _ in range(data.size.cold_start_pairs):
        app = run_child(["coldstart-app", data.url])["shown_s"]
        bare = run_child(["coldstart-bare"])["shown_s"]
        apps.append(app)
        bares.append(bare)
        ratios.append(app / bare)
    log(f"  cold start: app {median(apps):.2f} s, bare QMainWindow {median(bares):.2f} s, "
        f"ratio {median(ratios):.2f}")
    return [Figure("cold_start_ratio", median(ratios), "x", "<= 2x",
                   {"app_s": [round(a, 3) for a in apps], "bare_s": [round(b, 3) for b in bares],
                    "app_median_s": round(median(apps), 3),
                    "bare_median_s": round(median(bares), 3)})]
