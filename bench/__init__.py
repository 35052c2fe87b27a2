"""Benchmarks: each bench_*.py module has run() -> dict; `python -m bench` merges them into results.json."""
