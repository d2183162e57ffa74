"""Benchmarks for mabeam: ``python -m benchmarks`` (or ``make bench``) prints one JSON document.

Each suite is a module with ``run(quick: bool) -> dict`` registered in
:data:`benchmarks.__main__.SUITES`.
"""
