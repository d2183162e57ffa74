"""The pure node's interface: configuration errors, views, timers, messages and exports."""

from __future__ import annotations

import random

import msgspec
import pytest

import mabeam.protocols.consensus.raft as raft
from mabeam import ConfigError
from mabeam.protocols.consensus.raft import (
    AppendEntriesResponse,
    Entry,
    HardState,
    MemoryStorage,
    RaftConfig,
    RaftMessage,
    RaftNode,
    RequestVote,
    RequestVoteResponse,
)
from mabeam.testing.raft import append, lone_node, take, voted


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"election_timeout_ms": (300.0, 150.0)}, "election_timeout_ms", id="range"),
        pytest.param({"election_timeout_ms": (0.0, 10.0)}, "election_timeout_ms", id="zero"),
        pytest.param({"heartbeat_ms": 150.0}, "heartbeat_ms", id="heartbeat-too-long"),
        pytest.param({"heartbeat_ms": 0.0}, "heartbeat_ms", id="heartbeat-zero"),
        pytest.param({"max_entries_per_message": 0}, "max_entries_per_message", id="batch"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, object], field: str) -> None:
    """A bad option raises ConfigError naming it."""
    with pytest.raises(ConfigError) as caught:
        RaftConfig(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    "peers",
    [pytest.param(["n2", "n3"], id="missing-self"), pytest.param(["n1", "n2", "n2"], id="twice")],
)
def test_bad_peers_are_refused(peers: list[str]) -> None:
    """Peers must list the node itself, and each node once."""
    with pytest.raises(ConfigError) as caught:
        RaftNode("n1", peers, MemoryStorage(), RaftConfig(), random.Random(0))
    assert caught.value.field == "peers"


def test_views_of_the_log() -> None:
    """log, last_index/term, term_at and entry describe the restored log."""
    node = lone_node(3, storage=voted(3, terms=[1, 3]))
    assert [(e.index, e.term) for e in node.log] == [(1, 1), (2, 3)]
    assert (node.last_index, node.last_term) == (2, 3)
    assert [node.term_at(i) for i in (0, 1, 2, 3)] == [0, 1, 3, -1]
    assert node.entry(2).term == 3
    with pytest.raises(IndexError):
        node.entry(3)
    with pytest.raises(IndexError):
        node.entry(0)
    assert node.match_index("n2") == 0  # not a leader: no progress known
    node.log.clear()  # a copy: the node's log is untouched
    assert node.last_index == 2


def test_campaign_on_a_leader_does_nothing() -> None:
    """A leader asked to campaign stays leader in its term."""
    node = lone_node(1)
    node.campaign(0.0)
    assert (node.role, node.term) == ("leader", 1)
    take(node)
    node.campaign(1.0)
    assert (node.role, node.term) == ("leader", 1)
    assert take(node) == []


def test_single_leader_ticks_without_peers() -> None:
    """A cluster of one heartbeats to nobody and keeps its quorum."""
    node = lone_node(1)
    node.campaign(0.0)
    for _ in range(10):
        node.tick(node.deadline())
    assert node.role == "leader"
    assert take(node) == []


def test_leader_tick_before_anything_is_due_does_nothing() -> None:
    """tick() before the deadline sends nothing."""
    node = lone_node(1)
    node.campaign(0.0)
    take(node)
    node.tick(node.deadline() - 1.0)
    assert take(node) == []
    follower = lone_node(3)
    follower.tick(follower.deadline() - 1.0)
    assert (follower.role, take(follower)) == ("follower", [])


def test_heartbeats_reach_every_peer_in_order() -> None:
    """Each heartbeat sends one AppendEntries per peer, in peer order."""
    node = lone_node(3, config=RaftConfig(pre_vote=False))
    node.campaign(0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 0.0)
    take(node)
    node.tick(node.deadline())
    assert [m.dst for m in take(node)] == ["n2", "n3"]


def test_answers_from_unknown_nodes_are_ignored() -> None:
    """A leader ignores AppendEntries answers from a node outside its cluster."""
    node = lone_node(1)
    node.campaign(0.0)
    take(node)
    node.step(
        AppendEntriesResponse(src="stranger", dst="n1", term=1, success=True, match_index=9), 0.0
    )
    assert node.commit_index == 1


def test_leader_ignores_append_entries_of_its_own_term() -> None:
    """Two leaders in one term cannot happen; a leader drops such a message."""
    node = lone_node(1)
    node.campaign(0.0)
    take(node)
    node.step(append("n2", "n1", 1), 0.0)
    assert node.role == "leader"
    assert take(node) == []


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(
            RequestVote(src="a", dst="b", term=2, last_log_index=1, last_log_term=1, pre_vote=True),
            id="RequestVote",
        ),
        pytest.param(RequestVoteResponse(src="a", dst="b", term=2, granted=True), id="Response"),
        pytest.param(
            append("a", "b", 2, 1, 1, commit=1, entries=[Entry(term=2, index=2, data={"k": 1})]),
            id="AppendEntries",
        ),
        pytest.param(
            AppendEntriesResponse(
                src="a", dst="b", term=2, success=False, match_index=3, reject_hint=1, reject_term=1
            ),
            id="AppendEntriesResponse",
        ),
    ],
)
def test_messages_round_trip_through_msgspec(message: RaftMessage) -> None:
    """Every message is a tagged msgspec Struct that survives encoding as a RaftMessage."""
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(message), type=RaftMessage)
    assert decoded == message
    with pytest.raises(AttributeError):
        message.term = 9  # type: ignore[misc]


def test_memory_storage_keeps_what_was_written() -> None:
    """MemoryStorage: load returns copies; truncate past the end changes nothing."""
    storage = MemoryStorage(HardState(term=2, voted_for="n1"))
    storage.append([Entry(term=1, index=1), Entry(term=2, index=2)])
    storage.truncate_after(5)
    assert storage.writes == 1
    hard, entries = storage.load()
    entries.clear()
    assert hard == HardState(term=2, voted_for="n1") == storage.hard_state
    assert [e.index for e in storage.entries] == [1, 2]
    storage.truncate_after(1)
    assert [e.index for e in storage.load()[1]] == [1]


def test_all_is_sorted_and_complete() -> None:
    """The package re-exports its everyday names, sorted (classes, then the rest)."""
    assert raft.__all__ == sorted(raft.__all__)
    for name in raft.__all__:
        assert hasattr(raft, name)
