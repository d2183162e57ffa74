"""Figure 8 under faults: R14 (unreliable network) and 6.824's crash variant of R13."""

from __future__ import annotations

import time

import pytest

from mabeam.protocols.consensus.raft import RaftNode
from mabeam.testing.raft import SafetyViolation
from mabeam.testing.raft_figure8 import run_figure8, run_figure8_crashes, run_figure8_targeted


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


class _CountsOldTerms(RaftNode):
    """A planted bug: commit by counting replicas whatever the entry's term (no §5.4.2)."""

    def _maybe_commit(self) -> None:
        matches = sorted(
            [self.last_index, *(p.match for p in self._progress.values())], reverse=True
        )
        self._raft_log.commit_to(matches[self._quorum - 1])


def test_figure8_targeted_old_term_entry_is_not_committed_by_counting() -> None:
    """Figure 8 (c)-(d): "x" (term 1) on a majority is not committed by the term-3 leader,
    and the term-4 leader overwrites it without any node having applied it."""
    result = run_figure8_targeted()
    assert result["leader_term_c"] == 3
    assert not result["x_committed_in_c"]
    assert result["n5_won"]
    assert result["index2"] is None  # n5's no-op of term 2 holds index 2


def test_figure8_targeted_safe_ending_commits_x_and_n5_cannot_win() -> None:
    """Figure 8 (e): once the term-3 entry is on a majority, "x" commits with it."""
    result = run_figure8_targeted(safe_ending=True)
    assert not result["n5_won"]
    assert result["index2"] == "x"


def test_figure8_targeted_catches_commit_by_counting_old_terms() -> None:
    """The same schedule against the planted bug: the checker reports that the term-4
    leader lacks the entry its predecessor committed (Leader Completeness, then H2)."""
    with pytest.raises(SafetyViolation, match="completeness: leader n5 lacks committed 2"):
        run_figure8_targeted(node_class=_CountsOldTerms)
