"""Reliability tests: crashes, races, provider and database faults, fuzzed input (issue 9)."""
