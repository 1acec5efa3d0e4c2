"""`python -m bench [--quick] [--json OUT] [--pg URL]`: docs/product.md P's figures beside their targets."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import SIZES, Figure, machine
from bench.datagen import BenchData, postgres_bench_db, sqlite_bench_db
from bench.measure_bulk import measure_bulk
from bench.measure_flow import measure_dispatch, measure_ingest
from bench.measure_gui import measure_caselist, measure_cold_start, measure_stall
from bench.measure_match import measure_match
from bench.measure_search import measure_search

PARTS = ("match", "ingest", "dispatch", "bulk", "caselist", "stall", "coldstart", "search")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="every measurement at a tenth of the size (under two minutes)")
    p.add_argument("--size", choices=sorted(SIZES), help=argparse.SUPPRESS)  # tiny: the tests
    p.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON here")
    p.add_argument("--pg", metavar="URL",
                   help="also build the data in this (empty) PostgreSQL database and time the "
                        "matcher there")
    p.add_argument("--only", metavar="PARTS",
                   help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--profile", action="store_true",
                   help="profile ingest and dispatch with pyinstrument (if installed); "
                        "reports go to the work folder, which is then kept")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    return p.parse_args(argv)


def print_table(figures: list[Figure]) -> None:
    """name, value, unit, target, PASS/FAIL: one line per figure."""
    w = max(len(f.name) for f in figures)
    print(f"\n{'figure':<{w}}  {'value':>10}  {'unit':<12}  {'target':<11}  result")
    print("-" * (w + 48))
    for f in figures:
        ok = f.passed()
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        value = f"{f.value:.3f}" if abs(f.value) < 100 else f"{f.value:.0f}"
        print(f"{f.name:<{w}}  {value:>10}  {f.unit:<12}  {f.target:<11}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = SIZES[args.size or ("quick" if args.quick else "full")]
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    unknown = parts - set(PARTS)
    if unknown:
        print(f"unknown part(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="desktop-sms-bench-"))
    started = time.perf_counter()
    figures: list[Figure] = []

    def log(text: str) -> None:
        print(text, flush=True)

    def run(name: str, fn: Callable[[], list[Figure]]) -> None:
        if name not in parts:
            return
        t0 = time.perf_counter()
        log(f"[{name}]")
        figures.extend(fn())
        log(f"  ({time.perf_counter() - t0:.1f} s)")

    try:
        log(f"size {size.name}: {size.matters:,} matters, "
            f"{size.outbound + size.inbound:,} messages; work folder {workdir}")
        log("note: figures are wall-clock on a shared machine; medians over repeats are given")
        data: BenchData = sqlite_bench_db(size, workdir, log)
        run("match", lambda: measure_match(data, log=log))
        if args.pg:
            pg = postgres_bench_db(args.pg, size, log)
            run("match", lambda: measure_match(pg, prefix="pg.", log=log))
        run("ingest", lambda: measure_ingest(data, workdir, args.profile, log))
        run("dispatch", lambda: measure_dispatch(data, workdir, args.profile, log))
        run("bulk", lambda: measure_bulk(data, log))
        run("caselist", lambda: measure_caselist(data, log))
        run("stall", lambda: measure_stall(data, log))
        run("coldstart", lambda: measure_cold_start(data, log))
        run("search", lambda: measure_search(data, log))
        if args.pg:
            run("search", lambda: measure_search(pg, log, prefix="pg."))
    finally:
        if args.keep or args.profile:
            log(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - started
    print_table(figures)
    print(f"\n{size.name} run took {total:.0f} s"
          f"{f' (data built in {data.build_seconds:.0f} s)' if data.build_seconds else ''}")
    result: dict[str, Any] = {
        "machine": machine(), "size": size.name,
        "figures": {f.name: f.as_json() for f in figures},
        "seconds": round(total, 1), "data_build_seconds": round(data.build_seconds, 1),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
