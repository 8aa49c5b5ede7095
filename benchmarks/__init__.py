"""Benchmarks for confide (run by hand; see bench.py). Not part of the test suite."""
