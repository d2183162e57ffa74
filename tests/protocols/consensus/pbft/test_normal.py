"""PBFT normal case (Castro & Liskov §4.2) on the in-memory harness."""

from __future__ import annotations

from mabeam.protocols.consensus.kv import Add, Get, Put
from mabeam.testing.pbft import Net


def test_p1_normal_case_exact_message_counts() -> None:
    """P1: one request on n = 4 costs 3 pre-prepares, 9 prepares, 12 commits, 4 replies."""
    net = Net(4)
    ts = net.submit(Put("x", 1))
    assert net.run_until(net.done)
    net.run_for(50)
    assert net.results["c"][ts] is None
    assert dict(net.sent) == {
        "Request": 1,
        "PrePrepare": 3,
        "Prepare": 9,
        "Commit": 12,
        "Reply": 4,
    }
    for replica in net.replicas.values():
        assert replica.last_executed == 1
        assert replica.machine.data == {"x": 1}
        assert replica.dropped == {}


def test_p1_requests_execute_in_order_with_results() -> None:
    """P1: a stream of requests gets consecutive sequence numbers and the right results."""
    net = Net(4)
    stamps = [net.submit(Add("n", 1)) for _ in range(5)]
    stamps.append(net.submit(Get("n")))
    assert net.run_until(net.done)
    assert [net.results["c"][t] for t in stamps] == [1, 2, 3, 4, 5, 5]
    net.run_for(20)
    for replica in net.replicas.values():
        assert [seq for seq, _ in replica.history] == [1, 2, 3, 4, 5, 6]
        assert replica.machine.data == {"n": 5}
