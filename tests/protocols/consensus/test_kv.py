"""The replicated key-value state machine: order, exactly-once, client sessions."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.protocols.consensus import Add, ClientCommand, Delete, Get, KVStateMachine, Put
from mabeam.protocols.consensus.kv import restore


def test_put_get_delete_add() -> None:
    """Each command's result: previous value, value, removed value, new total."""
    machine = KVStateMachine()
    assert machine.apply(1, Put("x", 1)) is None
    assert machine.apply(2, Put("x", 2)) == 1
    assert machine.apply(3, Get("x")) == 2
    assert machine.apply(4, Delete("x")) == 2
    assert machine.apply(5, Get("x")) is None
    assert machine.apply(6, Add("n", 2.5)) == 2.5
    assert machine.apply(7, Add("n")) == 3.5
    assert machine.data == {"n": 3.5}


def test_no_ops_advance_and_opaque_commands_echo() -> None:
    """A no-op (None) only advances last_applied; any other value is its own result."""
    machine = KVStateMachine()
    assert machine.apply(1, None) is None
    assert machine.apply(2, {"temperature": 0.7}) == {"temperature": 0.7}
    assert machine.last_applied == 2
    assert machine.executed == 1


@pytest.mark.parametrize("index", [pytest.param(0, id="again"), pytest.param(3, id="gap")])
def test_out_of_order_apply_is_refused(index: int) -> None:
    """Applying an index other than the next one is a bug: ValueError."""
    machine = KVStateMachine()
    machine.apply(1, None)
    with pytest.raises(ValueError, match="out of order"):
        machine.apply(index, None)


def test_a_retried_request_executes_once_and_answers_the_first_result() -> None:
    """The same (client, seq) twice in the log: executed once; the duplicate gets its result."""
    machine = KVStateMachine()
    assert machine.apply(1, ClientCommand("c", 1, Add("n"))) == 1
    assert machine.apply(2, ClientCommand("c", 1, Add("n"))) == 1
    assert machine.data["n"] == 1
    assert machine.executed == 1
    assert machine.duplicates == 1
    assert machine.is_duplicate("c", 1)
    assert not machine.is_duplicate("c", 2)
    assert not machine.is_duplicate("other", 1)


def test_pipelined_requests_may_apply_out_of_seq_order() -> None:
    """Seq 2 before seq 1 (a retry after a lost batch): both execute once."""
    machine = KVStateMachine()
    machine.apply(1, ClientCommand("c", 2, Add("n", 10)))
    machine.apply(2, ClientCommand("c", 1, Add("n", 1)))
    machine.apply(3, ClientCommand("c", 2, Add("n", 10)))
    assert machine.data["n"] == 11


def test_acked_below_releases_cached_results() -> None:
    """Once the client says every seq below 3 was answered, those results go, and a stale
    retry below the floor is a duplicate that is not executed."""
    machine = KVStateMachine()
    machine.apply(1, ClientCommand("c", 1, Add("n")))
    machine.apply(2, ClientCommand("c", 2, Add("n")))
    machine.apply(3, ClientCommand("c", 3, Add("n"), acked_below=3))
    assert machine.cached_result("c", 1) is None
    assert machine.cached_result("c", 3) == 3
    assert machine.apply(4, ClientCommand("c", 1, Add("n"))) is None
    assert machine.data["n"] == 3
    assert machine.is_duplicate("c", 2)
    assert machine.cached_result("nobody", 1) is None


@given(st.lists(st.tuples(st.integers(1, 8), st.booleans()), max_size=40))
def test_every_request_executes_exactly_once_whatever_the_duplicates(
    log: list[tuple[int, bool]],
) -> None:
    """Property: any log of (seq, advance-floor) requests adds each distinct seq exactly once."""
    machine = KVStateMachine()
    answered_below = 0
    for index, (seq, advance) in enumerate(log, start=1):
        if advance:
            # The client only acks seqs it has seen answered: all of them up to a point.
            executed = {s for s, _ in log[: index - 1]}
            while answered_below + 1 in executed:
                answered_below += 1
        machine.apply(index, ClientCommand("c", seq, Add("sum", seq), acked_below=answered_below))
    assert machine.data.get("sum", 0) == sum({seq for seq, _ in log})


def test_commands_decoded_from_msgpack_apply_the_same() -> None:
    """A store that gives entries back as msgpack dicts: the commands are restored, so dedup
    and the store behave as with the original Structs; other values pass unchanged."""
    log = [
        ClientCommand("c", 1, Put("x", [1, 2])),
        ClientCommand("c", 1, Put("x", [1, 2])),
        ClientCommand("c", 2, Add("n", 2)),
        Delete("gone"),
        {"type": "Put", "key": 5},  # not a valid Put: an opaque command
        {"plain": "dict"},
    ]
    decoded = [msgspec.msgpack.decode(msgspec.msgpack.encode(item)) for item in log]
    assert isinstance(decoded[0], dict)
    original, restored = KVStateMachine(), KVStateMachine()
    for index, (item, raw) in enumerate(zip(log, decoded, strict=True), start=1):
        original.apply(index, item)
        restored.apply(index, raw)
    assert restored.data == original.data == {"x": [1, 2], "n": 2}
    assert restored.executed == original.executed == 5
    assert restore(decoded[2]) == log[2]
    assert restore({"plain": "dict"}) == {"plain": "dict"}
