"""A Raft command that raises when applied: an error result on every node, not a crash.

``Put("x", "text")`` then ``Add("x", 1)``: every node applies the entry as the same
:class:`ApplyError`, the client gets it (``propose`` raises :class:`CommandFailedError`),
and the cluster keeps serving. Through real messages on the simulated network, on virtual
time; every node's machine records what it applied, so the tests can compare nodes (a
restarted node gets a new machine, so no restart happened unless a test made one).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mabeam.protocols.consensus import (
    Add,
    ApplyError,
    CommandFailedError,
    Committed,
    KVStateMachine,
    Put,
)
from mabeam.protocols.consensus.raft.actor import ClientReply
from mabeam.sim import DROP

from ._support import Account, Pay, T, logs_consistent, raft_cluster

pytestmark = pytest.mark.virtual_time

TYPE_ERROR = ApplyError("TypeError", 'can only concatenate str (not "int") to str')


class Recorder:
    """A ``machine`` factory whose machines remember (index, result) of every entry."""

    def __init__(self, base: type[KVStateMachine] = KVStateMachine) -> None:
        self.base = base
        self.made: list[Any] = []

    def __call__(self) -> KVStateMachine:
        recorder = self

        class Recording(recorder.base):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                super().__init__()
                self.outcomes: list[tuple[int, Any]] = []
                recorder.made.append(self)

            def apply(self, index: int, data: Any) -> Any:
                result = super().apply(index, data)
                self.outcomes.append((index, result))
                return result

        machine: KVStateMachine = Recording()
        return machine

    def agree(self) -> list[tuple[int, Any]]:
        """Every machine's outcomes are a prefix of the longest one; return that."""
        longest = max((m.outcomes for m in self.made), key=len)
        for machine in self.made:
            assert machine.outcomes == longest[: len(machine.outcomes)]
        return list(longest)


async def test_a_failing_command_is_an_error_and_the_cluster_keeps_serving() -> None:
    """The client gets CommandFailedError (with where the entry sits); no node crashes;
    later writes and reads succeed; every node applied everything, with the same outcomes."""
    recorder = Recorder()
    async with raft_cluster(3, seed=11, machine=recorder) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        await cluster.set("x", "text", timeout=1.0)
        with pytest.raises(CommandFailedError) as caught:
            await cluster.propose(Add("x", 1), timeout=1.0)
        error = caught.value
        assert (error.error_type, error.error_message) == ("TypeError", TYPE_ERROR.message)
        assert isinstance(error.outcome, Committed)
        assert error.outcome.index > 0
        assert error.outcome.result == TYPE_ERROR
        assert await cluster.set("y", 1, timeout=1.0) is None
        assert await cluster.get("y", timeout=1.0) == 1
        assert await cluster.get("x", timeout=1.0) == "text"
        with pytest.raises(CommandFailedError):
            await cluster.propose(Add("x", 2), timeout=1.0)
        await asyncio.sleep(0.1)
        states = await cluster.states()
        logs_consistent(states)
        for state in states.values():
            assert state.role != "down"
            assert state.applied == state.commit_index == len(state.log)
            assert state.data == {"x": "text", "y": 1}
        assert len(recorder.made) == 3  # no node was restarted
        outcomes = recorder.agree()
        assert all(len(m.outcomes) == len(outcomes) for m in recorder.made)
        assert (error.outcome.index, TYPE_ERROR) in outcomes
        assert [m.failed for m in recorder.made] == [2, 2, 2]


async def test_a_batch_returns_the_error_as_that_commands_result() -> None:
    """propose_many: the failed command's result is the ApplyError; the others apply."""
    async with raft_cluster(3, seed=12) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        results = await cluster.propose_many(
            [Put("x", "text"), Add("x", 1), Add("n", 1), Add("n", 1)], timeout=1.0
        )
        assert [r.result for r in results] == [None, TYPE_ERROR, 1, 2]
        assert [r.index for r in results] == sorted(r.index for r in results)
        assert await cluster.get("n", timeout=1.0) == 2


async def test_restarted_nodes_replay_to_the_same_state_and_outcomes() -> None:
    """Crash a follower and then the leader after the failure; each restarted node applies
    the log again from index 1 and records exactly the outcomes the others did."""
    recorder = Recorder()
    async with raft_cluster(3, seed=13, machine=recorder) as (cluster, _):
        first = await cluster.wait_for_leader(timeout=5 * T)
        await cluster.set("x", "text", timeout=1.0)
        with pytest.raises(CommandFailedError):
            await cluster.propose(Add("x", 1), timeout=1.0)
        follower = next(n for n in cluster.node_ids if n != first)
        await cluster.crash(follower)
        await cluster.restart(follower)
        await cluster.set("a", 1, timeout=1.0)
        await cluster.crash(first)
        assert await cluster.set("b", 2, timeout=5 * T) is None
        with pytest.raises(CommandFailedError):
            await cluster.propose(Add("x", 3), timeout=1.0)
        await cluster.restart(first)
        assert await cluster.get("b", timeout=1.0) == 2
        await asyncio.sleep(0.2)
        states = await cluster.states()
        logs_consistent(states)
        assert {len(s.log) for s in states.values()} == {states[first].commit_index}
        for state in states.values():
            assert state.applied == state.commit_index
            assert state.data == {"x": "text", "a": 1, "b": 2}
        assert len(recorder.made) == 5  # three first incarnations, two restarts
        outcomes = recorder.agree()
        assert [index for index, _ in outcomes] == list(range(1, len(states[first].log) + 1))
        # The live machines: the node never crashed and both restarted incarnations.
        live = [m for m in recorder.made if m.outcomes == outcomes]
        assert len(live) == 3
        assert recorder.made[3] in live
        assert recorder.made[4] in live
        errors = [result for _, result in outcomes if isinstance(result, ApplyError)]
        assert errors == [TYPE_ERROR, ApplyError("TypeError", TYPE_ERROR.message)]


async def test_a_retried_request_gets_the_recorded_error_and_executes_once() -> None:
    """The leader's reply with the error is lost: the client retries, the request is a
    duplicate, and the answer is the same error from the session cache (index 0)."""
    recorder = Recorder()
    async with raft_cluster(3, seed=14, machine=recorder) as (cluster, network):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        await cluster.set("x", "text", timeout=1.0)
        lost: list[ClientReply] = []

        def lose_first_error(payload: Any, receiver: str) -> Any:
            if (
                not lost
                and isinstance(payload, ClientReply)
                and any(isinstance(r.result, ApplyError) for r in payload.results)
            ):
                lost.append(payload)
                return DROP
            return payload

        network.intercept(leader, lose_first_error)
        with pytest.raises(CommandFailedError) as caught:
            await cluster.propose(Add("x", 1), timeout=5 * T)
        network.intercept(leader, None)
        assert len(lost) == 1
        assert lost[0].results[0].result == TYPE_ERROR
        assert caught.value.outcome.index == 0  # answered from the session cache
        assert caught.value.outcome.result == TYPE_ERROR
        assert await cluster.set("y", 1, timeout=1.0) is None
        await asyncio.sleep(0.1)
        assert len(recorder.made) == 3
        recorder.agree()
        assert [(m.failed, m.data) for m in recorder.made] == [(1, {"x": "text", "y": 1})] * 3


async def test_a_user_state_machine_that_refuses_a_command() -> None:
    """RaftCluster(machine=Account): the refused payment is an error on every node, the
    next one is applied."""
    recorder = Recorder(Account)
    async with raft_cluster(3, seed=15, machine=recorder) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        assert (await cluster.propose(Pay(4), timeout=1.0)).result == 6
        with pytest.raises(CommandFailedError, match="ValueError: insufficient funds: 6 < 7"):
            await cluster.propose(Pay(7), timeout=1.0)
        assert (await cluster.propose(Pay(6), timeout=1.0)).result == 0
        await asyncio.sleep(0.1)
        states = await cluster.states()
        assert [s.data for s in states.values()] == [{"balance": 0}] * 3
        assert len(recorder.made) == 3
        outcomes = recorder.agree()
        assert [r for _, r in outcomes if r is not None] == [
            6,
            ApplyError("ValueError", "insufficient funds: 6 < 7"),
            0,
        ]
