"""Runs of the gallery scenarios, cached per test session (they are deterministic)."""

from __future__ import annotations

from functools import cache
from typing import Any

from mabeam.scenario import RunReport, parse_scenario, run_scenario
from mabeam.sim import SimNetwork
from mabeam.viz.gallery import GALLERY


@cache
def gallery_run(name: str) -> tuple[RunReport, SimNetwork]:
    document = GALLERY[name].encode()
    return run_scenario(parse_scenario(document, path=f"{name}.toml", fmt="toml"))


def hierarchy_document(n: int) -> bytes:
    agents = "".join(f'[[agents]]\nid = "a{i:04d}"\nvalue = {i}\n' for i in range(n))
    return (
        f'name = "hierarchy of {n}"\nseed = 3\n[protocol]\nkind = "hierarchy"\n'
        f'reply_timeout_ms = 100\nstructure = "tree"\nbranching_factor = 3\n{agents}'
    ).encode()


@cache
def big_run() -> tuple[RunReport, SimNetwork]:
    """1,000 agents aggregating up a tree."""
    return run_scenario(parse_scenario(hierarchy_document(1000), path="big.toml", fmt="toml"))


def trace_of(name: str) -> Any:
    trace = gallery_run(name)[1].trace
    assert trace is not None
    return trace
