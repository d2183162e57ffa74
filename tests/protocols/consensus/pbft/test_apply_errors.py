"""A PBFT request that raises when executed: the same error reply from every replica.

``Put("x", "text")`` then ``Add("x", 1)``: every correct replica executes the request as the
same :class:`ApplyError`, replies with it (the client accepts f + 1 matching error replies),
and the batch, the history, the state digest and the checkpoints carry on as for any
request. On the pure cores (the in-memory harness) and through actors on the simulated
network (virtual time).
"""

from __future__ import annotations

from typing import Any

import pytest

from mabeam.protocols.consensus import (
    Add,
    ApplyError,
    CommandFailedError,
    Get,
    KVStateMachine,
    Put,
)
from mabeam.protocols.consensus.pbft import PbftConfig, Reply
from mabeam.protocols.consensus.pbft.api import Executed
from mabeam.testing.pbft import Net

from .._support import Account, Pay
from .test_actor import pbft_cluster

TYPE_ERROR = ApplyError("TypeError", 'can only concatenate str (not "int") to str')


def _replies_to(net: Net, client: str = "c") -> list[tuple[str, Any]]:
    """Record (replica, entry) of every reply sent to ``client`` (drops nothing)."""
    seen: list[tuple[str, Any]] = []

    def observe(message: Any, src: str, dst: str) -> bool:
        if isinstance(message, Reply) and dst == client:
            seen.extend((src, entry) for entry in message.results)
        return False

    net.filter = observe
    return seen


def _agree(net: Net) -> None:
    """Every replica executed the same history to the same state digest and store."""
    replicas = list(net.replicas.values())
    first = replicas[0]
    for replica in replicas:
        assert replica.history == first.history
        assert replica.state_digest == first.state_digest
        assert replica.executed_requests == first.executed_requests
        assert replica.machine.data == first.machine.data
        assert replica.low == first.low
        assert "malformed" not in replica.dropped  # nothing raised mid-execution


def test_every_replica_replies_the_same_error_and_checkpoints_go_on() -> None:
    """The failing request sits on a checkpoint boundary (seq 2): all four replicas reply
    the error, the client accepts it, later requests execute, checkpoints become stable."""
    net = Net(4, config=PbftConfig(checkpoint_interval=2))
    replies = _replies_to(net)
    put = net.submit(Put("x", "text"))
    add = net.submit(Add("x", 1))
    more = [net.submit(Add("n", 1)) for _ in range(10)]
    get = net.submit(Get("x"))
    assert net.run_until(net.done)
    net.run_for(50)
    results = net.results["c"]
    assert results[put] is None
    assert results[add] == TYPE_ERROR
    assert [results[t] for t in more] == list(range(1, 11))
    assert results[get] == "text"
    errors = [(src, entry) for src, entry in replies if entry.timestamp == add]
    assert sorted(src for src, _ in errors) == ["r0", "r1", "r2", "r3"]
    assert {(entry.seq, entry.result) for _, entry in errors} == {(2, TYPE_ERROR)}
    _agree(net)
    for replica in net.replicas.values():
        assert replica.last_executed == 13
        assert replica.low == 12
        assert replica.machine.failed == 1
        assert replica.machine.data == {"x": "text", "n": 10}


def test_the_rest_of_a_batch_executes_after_a_failing_request() -> None:
    """A batch [Add n, Add x (fails), Add n]: every request of it executes and is answered."""
    net = Net(4, config=PbftConfig(batch_max=4, max_in_flight=1))
    first = net.submit(Put("x", "text"))
    stamps = [net.submit(Add("n", 1)), net.submit(Add("x", 1)), net.submit(Add("n", 1))]
    assert net.run_until(net.done)
    net.run_for(50)
    assert net.results["c"][first] is None
    assert [net.results["c"][t] for t in stamps] == [1, TYPE_ERROR, 2]
    _agree(net)
    assert [seq for seq, _ in net.replicas["r0"].history] == [1, 2]
    assert all(replica.machine.data == {"x": "text", "n": 2} for replica in net.replicas.values())


def test_a_retried_request_gets_the_recorded_error_and_executes_once() -> None:
    """The replies are lost at first: the client retransmits to every replica, each answers
    the duplicate with the error it recorded; nobody executes it twice."""
    net = Net(4, retransmit_ms=100)
    net.submit(Put("x", "text"))
    assert net.run_until(net.done)
    lose = [True]
    net.filter = lambda message, src, dst: lose[0] and isinstance(message, Reply)
    add = net.submit(Add("x", 1))
    net.run_for(50)
    assert not net.done()
    assert all(replica.last_executed == 2 for replica in net.replicas.values())
    lose[0] = False
    assert net.run_until(net.done)
    assert net.results["c"][add] == TYPE_ERROR
    assert net.clients["c"].retransmissions >= 1
    _agree(net)
    assert all(replica.machine.failed == 1 for replica in net.replicas.values())
    assert all(replica.machine.duplicates == 0 for replica in net.replicas.values())
    net.check_all()  # exactly-once: no replica executed a timestamp twice


def test_a_user_state_machine_on_the_cores() -> None:
    """PbftReplica(machine=Account()): the refused payment is an error on every replica."""
    net = Net(4, machine=Account)
    stamps = [net.submit(Pay(4)), net.submit(Pay(7)), net.submit(Pay(6))]
    assert net.run_until(net.done)
    net.run_for(50)
    assert [net.results["c"][t] for t in stamps] == [
        6,
        ApplyError("ValueError", "insufficient funds: 6 < 7"),
        0,
    ]
    _agree(net)
    assert all(isinstance(replica.machine, Account) for replica in net.replicas.values())
    assert net.replicas["r0"].machine.data == {"balance": 0}


# ---------------------------------------------------------------------- actors


@pytest.mark.virtual_time
async def test_a_failing_operation_and_the_service_goes_on_through_actors() -> None:
    """submit raises CommandFailedError (outcome: where it executed); a batch returns the
    error as that operation's result; set/get keep working; every replica agrees."""
    async with pbft_cluster(seed=21) as (cluster, _):
        assert await cluster.set("x", "text", timeout=5.0) is None
        with pytest.raises(CommandFailedError) as caught:
            await cluster.submit(Add("x", 1), timeout=5.0)
        error = caught.value
        assert (error.error_type, error.error_message) == ("TypeError", TYPE_ERROR.message)
        assert isinstance(error.outcome, Executed)
        assert error.outcome.seq == 2
        assert error.outcome.result == TYPE_ERROR
        batch = await cluster.submit_many([Add("n", 1), Add("x", 2), Add("n", 1)], timeout=5.0)
        assert [r.result for r in batch] == [1, TYPE_ERROR, 2]
        assert await cluster.set("y", 1, timeout=5.0) is None
        assert await cluster.get("y", timeout=5.0) == 1
        states = await cluster.states()
        assert all(state is not None for state in states.values())
        views = [state for state in states.values() if state is not None]
        for state in views:
            assert state.last_executed == views[0].last_executed == 7
            assert state.history == views[0].history
            assert state.executed == views[0].executed
            assert state.data == {"x": "text", "n": 2, "y": 1}
            assert "malformed" not in state.dropped


@pytest.mark.virtual_time
async def test_a_user_state_machine_through_actors() -> None:
    """PbftCluster(machine=Account): the refused payment raises, the next one applies."""
    made: list[KVStateMachine] = []

    def account() -> KVStateMachine:
        made.append(Account())
        return made[-1]

    async with pbft_cluster(seed=22, machine=account) as (cluster, _):
        assert (await cluster.submit(Pay(4), timeout=5.0)).result == 6
        with pytest.raises(CommandFailedError, match="ValueError: insufficient funds: 6 < 7"):
            await cluster.submit(Pay(7), timeout=5.0)
        assert (await cluster.submit(Pay(6), timeout=5.0)).result == 0
        states = await cluster.states()
        assert [s.data if s else None for s in states.values()] == [{"balance": 0}] * 4
        assert len(made) == 4
        assert [m.failed for m in made] == [1, 1, 1, 1]
