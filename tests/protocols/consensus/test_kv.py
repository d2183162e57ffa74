"""The replicated key-value state machine: order, exactly-once, client sessions."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam import MabeamError
from mabeam.protocols.consensus import (
    Add,
    ApplyError,
    ClientCommand,
    CommandFailedError,
    Delete,
    Get,
    KVStateMachine,
    Put,
)
from mabeam.protocols.consensus.kv import restore

TYPE_ERROR = ApplyError("TypeError", 'can only concatenate str (not "int") to str')
"""What ``Add("x", 1)`` on the string at x records."""


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


# ---------------------------------------------------------------------- failing commands


def test_a_command_that_raises_is_applied_as_an_error_result() -> None:
    """Add to a string: the entry is applied (last_applied moves on), its result is the
    ApplyError, the store is unchanged, and later commands apply as usual."""
    machine = KVStateMachine()
    machine.apply(1, Put("x", "text"))
    assert machine.apply(2, Add("x", 1)) == TYPE_ERROR
    assert machine.last_applied == 2
    assert machine.data == {"x": "text"}
    assert (machine.executed, machine.failed) == (2, 1)
    assert machine.apply(3, Put("y", 1)) is None
    assert machine.apply(4, Get("x")) == "text"


def _log_with_failures() -> list[object]:
    return [
        None,
        ClientCommand("c", 1, Put("x", "text")),
        ClientCommand("c", 2, Add("x", 1)),
        ClientCommand("c", 3, Add("n", 2)),
        ClientCommand("c", 2, Add("x", 1)),  # a retry of the failed one reaches the log
        ClientCommand("d", 1, Add("x", 2.5), acked_below=1),
        ClientCommand("c", 4, Get("n"), acked_below=2),
    ]


def test_every_machine_records_the_same_outcomes_and_a_retry_gets_the_error() -> None:
    """Two nodes applying the same log: identical results (encoded bytes too), identical
    stores; the retried (client, seq) is not executed again and answers the recorded error."""
    results = []
    machines = []
    for _ in range(2):
        machine = KVStateMachine()
        results.append(
            [machine.apply(i, entry) for i, entry in enumerate(_log_with_failures(), start=1)]
        )
        machines.append(machine)
    first, second = results
    assert first == second
    assert msgspec.msgpack.encode(first) == msgspec.msgpack.encode(second)
    assert first == [None, None, TYPE_ERROR, 2, TYPE_ERROR, first[5], 2]
    assert isinstance(first[5], ApplyError)
    assert first[5].error == "TypeError"
    for machine in machines:
        assert machine.data == {"x": "text", "n": 2}
        assert (machine.executed, machine.failed, machine.duplicates) == (5, 2, 1)
        assert machine.cached_result("c", 2) == TYPE_ERROR
        assert machine.is_duplicate("c", 2)


def test_the_error_result_encodes_and_decodes() -> None:
    """ApplyError travels as any result does: msgpack and JSON, tagged."""
    for codec in (msgspec.msgpack, msgspec.json):
        assert codec.decode(codec.encode(TYPE_ERROR), type=ApplyError) == TYPE_ERROR
    assert msgspec.to_builtins(TYPE_ERROR) == {
        "type": "ApplyError",
        "error": "TypeError",
        "message": TYPE_ERROR.message,
    }


def test_the_library_exception_names_the_error() -> None:
    """ApplyError.exception(): a CommandFailedError (a MabeamError) carrying the outcome."""
    error = TYPE_ERROR.exception(outcome="where")
    assert isinstance(error, CommandFailedError)
    assert isinstance(error, MabeamError)
    assert (error.error_type, error.error_message, error.outcome) == (
        "TypeError",
        TYPE_ERROR.message,
        "where",
    )
    assert str(error) == f"command failed when applied: TypeError: {TYPE_ERROR.message}"
    assert str(ApplyError("Boom", "").exception()) == "command failed when applied: Boom"


class Ledger(KVStateMachine):
    """A user state machine: ("pay", n) moves money out; it refuses to overdraw."""

    def execute(self, command: object) -> object:
        if isinstance(command, tuple) and command[0] == "pay":
            balance = self.data.get("balance", 10)
            if command[1] > balance:
                raise ValueError(f"insufficient funds: {balance} < {command[1]}")
            self.data["balance"] = balance - command[1]
            return self.data["balance"]
        if command == "object":
            raise RuntimeError(f"cannot use {object()!r}")  # a memory address in the text
        if command == "broken":
            raise _BadStr()
        return super().execute(command)


class _BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_user_state_machine_gets_the_same_rule() -> None:
    """execute() raising fails only that command, deterministically: no memory address, a
    broken __str__ still gives a result; sessions and the KV commands still work."""
    machines = [Ledger(), Ledger()]
    log = [
        ClientCommand("c", 1, ("pay", 4)),
        ClientCommand("c", 2, ("pay", 7)),
        ClientCommand("c", 3, "object"),
        ClientCommand("c", 4, "broken"),
        ClientCommand("c", 2, ("pay", 7)),
        ClientCommand("c", 5, ("pay", 6)),
        ClientCommand("c", 6, Put("k", "v")),
    ]
    outcomes = [[m.apply(i, e) for i, e in enumerate(log, start=1)] for m in machines]
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == [
        6,
        ApplyError("ValueError", "insufficient funds: 6 < 7"),
        ApplyError("RuntimeError", "cannot use <object object>"),
        ApplyError("_BadStr", ""),
        ApplyError("ValueError", "insufficient funds: 6 < 7"),
        0,
        None,
    ]
    assert machines[0].data == {"balance": 0, "k": "v"}
    assert machines[0].failed == 3


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(1), MemoryError()])
def test_base_exceptions_and_memory_errors_are_not_recorded(exc: BaseException) -> None:
    """Only a deterministic Exception becomes a result: a BaseException (cancellation,
    exit) or a MemoryError (this node's trouble, not the command's) propagates."""

    class Raising(KVStateMachine):
        def execute(self, command: object) -> object:
            raise exc

    machine = Raising()
    with pytest.raises(type(exc)):
        machine.apply(1, ClientCommand("c", 1, "anything"))
    assert machine.failed == 0
