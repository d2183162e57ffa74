"""Properties of the follower's AppendEntries handling and the back-off hint (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam.protocols.consensus.raft import AppendEntriesResponse, HardState, MemoryStorage
from mabeam.testing.raft import CLASSIC, append, log_of_terms, lone_node, take


@st.composite
def _logs(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    """Leader and follower logs (terms, non-decreasing) sharing a prefix, and its length.

    Past the prefix the leader's terms are even and the follower's odd, so the two logs
    never hold the same (index, term) there: the inputs obey Log Matching.
    """
    common = sorted(draw(st.lists(st.integers(1, 3), max_size=6)))
    top = common[-1] if common else 0
    leader = common + sorted(2 * t for t in draw(st.lists(st.integers(top + 1, top + 3))))
    follower = common + sorted(2 * t + 1 for t in draw(st.lists(st.integers(top, top + 3))))
    return leader[:12], follower[:12], len(common)


@settings(max_examples=300, deadline=None)
@given(logs=_logs(), data=st.data())
def test_append_entries_keeps_log_matching(
    logs: tuple[list[int], list[int], int], data: st.DataObject
) -> None:
    """Any AppendEntries cut from a leader's log leaves the follower consistent with it.

    On success the follower's first prev + len(entries) entries are the leader's, entries
    past them are kept unless they conflicted, and the commit index never passes the last
    index the message vouches for. On rejection the hint is an index <= prev whose term is
    <= prev's term, and every entry between the hint and prev has a larger term.
    """
    leader_terms, follower_terms, common = logs
    leader_log = log_of_terms(leader_terms, data=lambda i: f"L{i}")
    follower_log = leader_log[:common] + log_of_terms(follower_terms)[common:]
    prev = data.draw(st.integers(0, len(leader_log)))
    count = data.draw(st.integers(0, len(leader_log) - prev))
    commit = data.draw(st.integers(0, len(leader_log)))
    term = max([*leader_terms, *follower_terms, 1])
    storage = MemoryStorage(HardState(term=term), follower_log)
    node = lone_node(3, config=CLASSIC, storage=storage)
    before = node.log
    prev_term = leader_log[prev - 1].term if prev else 0
    node.step(
        append(
            "n2",
            "n1",
            term,
            prev,
            prev_term,
            commit=commit,
            entries=leader_log[prev : prev + count],
        ),
        0.0,
    )
    (response,) = take(node)
    assert isinstance(response, AppendEntriesResponse)
    after = node.log
    if response.success:
        last_new = prev + count
        assert response.match_index == last_new
        assert after[:last_new] == leader_log[:last_new]
        conflict = any(
            i < len(before) and before[i] != leader_log[i] for i in range(prev, last_new)
        )
        if not conflict:
            assert after[last_new:] == before[last_new:]
        assert node.commit_index == min(commit, last_new)
    else:
        assert after == before
        hint, hint_term = response.reject_hint, response.reject_term
        assert hint <= prev
        assert hint_term == (before[hint - 1].term if hint else 0)
        assert hint_term <= prev_term
        assert all(e.term > prev_term for e in before[hint : min(prev, len(before))])
