"""Figure 8 under faults: R14 (unreliable network) and 6.824's crash variant of R13."""

from __future__ import annotations

import time

import pytest

from ._figure8 import run_figure8, run_figure8_crashes


@pytest.mark.parametrize("seed", range(5))
def test_r14_figure8_unreliable_1000_iterations(seed: int) -> None:
    """R14 (6.824 TestFigure8Unreliable2C): H1-H4 at every event, then 5 of 5 commit in 10 s."""
    started = time.perf_counter()
    result = run_figure8(1000, seed)
    assert time.perf_counter() - started < 10.0
    assert result["final_commit_ms"] <= 10_000.0
    assert result["leaders_elected"] >= 2


@pytest.mark.parametrize("seed", range(5))
def test_r13_figure8_with_leader_crashes(seed: int) -> None:
    """R13 (6.824 TestFigure82C): every leader crashes after proposing; safety holds."""
    result = run_figure8_crashes(1000, seed)
    assert result["crashes"] >= 20
    assert result["committed_entries"] >= result["final_index"]


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(10))
def test_r14_figure8_unreliable_many_seeds(chunk: int) -> None:
    """R14 over 100 more seeds, 10 per test (slow)."""
    for seed in range(5 + chunk * 10, 15 + chunk * 10):
        run_figure8(1000, seed)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(10))
def test_r13_figure8_with_leader_crashes_many_seeds(chunk: int) -> None:
    """R13's crash variant over 100 more seeds, 10 per test (slow)."""
    for seed in range(5 + chunk * 10, 15 + chunk * 10):
        run_figure8_crashes(1000, seed)
