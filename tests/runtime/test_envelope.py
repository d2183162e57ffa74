"""The seam: with a transport every tell, ask and answer is an Envelope of plain data; asks
wait by correlation id in the asking system; transports hand envelopes back through
``ActorSystem.deliver`` alone."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

import mabeam.sim._network as network_module
from mabeam import ActorCrashedError, ActorDeadError, ActorSystem, AskTimeoutError
from mabeam.codec import Codec
from mabeam.runtime import Actor, Address, Envelope
from mabeam.runtime._envelope import ASK, FAILURE, REPLY, TELL
from mabeam.sim import VirtualEventLoop


class Recording:
    """A transport that records every envelope; ``hold`` keeps them instead of delivering."""

    def __init__(self, *, hold: bool = False) -> None:
        self.sent: list[Envelope] = []
        self.hold = hold
        self.system: ActorSystem | None = None

    def attach(self, system: ActorSystem) -> None:
        self.system = system

    def send(self, envelope: Envelope) -> None:
        self.sent.append(envelope)
        if not self.hold:
            assert self.system is not None
            self.system.deliver(envelope)

    def release(self) -> None:
        held, self.sent = self.sent, []
        assert self.system is not None
        for envelope in held:
            self.system.deliver(envelope)


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return ("echo", message)


class Forwarder(Actor):
    """Asks ``echo`` and returns its answer."""

    async def receive(self, message: Any) -> Any:
        echo = self.context.whereis("echo")
        assert echo is not None
        return await echo.ask(message)


async def test_an_ask_and_its_answer_are_two_envelopes_of_plain_data() -> None:
    transport = Recording()
    async with ActorSystem("n1", transport=transport) as system:
        echo = await system.spawn(Echo, name="echo")
        forwarder = await system.spawn(Forwarder, name="fwd")
        assert await forwarder.ask("hi") == ("echo", "hi")
        app_ask, inner_ask, inner_reply, app_reply = transport.sent
        assert (app_ask.kind, app_ask.src, app_ask.dst) == (
            ASK,
            Address("n1", 0),
            forwarder.address,
        )
        assert app_ask.reply_to == Address("n1", 0)
        assert (inner_ask.kind, inner_ask.src, inner_ask.dst) == (
            ASK,
            forwarder.address,
            echo.address,
        )
        assert (inner_ask.src_name, inner_ask.dst_name) == ("fwd", "echo")
        assert inner_reply.kind == REPLY
        assert inner_reply.correlation == inner_ask.correlation
        assert inner_reply.dst == inner_ask.reply_to == forwarder.address
        assert inner_reply.payload == ("echo", "hi")
        assert app_reply.correlation == app_ask.correlation != inner_ask.correlation
        # Nothing but data: every envelope encodes (no future, no actor object inside).
        codec = Codec.default()
        for envelope in transport.sent:
            assert codec.decode(codec.encode(envelope)) == envelope
        assert system._pending == {}


async def test_a_crash_answers_with_a_failure_envelope() -> None:
    transport = Recording()
    async with ActorSystem("n1", transport=transport) as system:
        echo = await system.spawn(Echo)
        with pytest.raises(ActorCrashedError) as caught:
            await echo.ask("boom")
        assert isinstance(caught.value.__cause__, ValueError)
        failure = transport.sent[-1]
        assert failure.kind == FAILURE
        assert isinstance(failure.payload, ActorCrashedError)


@pytest.mark.virtual_time
async def test_an_unanswered_ask_times_out_and_leaves_nothing_pending() -> None:
    transport = Recording(hold=True)
    async with ActorSystem("n1", transport=transport) as system:
        echo = await system.spawn(Echo)
        with pytest.raises(AskTimeoutError):
            await echo.ask("lost", timeout=1.0)
        assert system._pending == {}
        # The ask arrives after its asker gave up: handled, and the late answer is dropped.
        transport.hold = False
        transport.release()
        await asyncio.sleep(0.01)
        assert [e.kind for e in transport.sent] == [REPLY]
        assert system._pending == {}


@pytest.mark.virtual_time
async def test_an_ask_to_an_actor_that_exited_in_flight_fails_at_once_and_is_a_dead_letter() -> (
    None
):
    transport = Recording(hold=True)
    async with ActorSystem("n1", transport=transport) as system:
        echo = await system.spawn(Echo, name="echo")
        asking = asyncio.create_task(echo.ask("late"))
        await asyncio.sleep(0)
        transport.hold = False
        await echo.stop()
        transport.release()
        with pytest.raises(ActorDeadError):
            await asking
        (letter,) = system.dead_letters.recent
        assert (letter.recipient, letter.reason, letter.message) == (
            "echo",
            "actor_not_running",
            "late",
        )


class Reporter(Actor):
    """Records who sent each message, by the sender ref."""

    def __init__(self) -> None:
        self.senders: list[Any] = []

    async def receive(self, message: Any) -> Any:
        self.senders.append(self.context.sender)
        return None


class Teller(Actor):
    async def receive(self, message: Any) -> Any:
        self.context.tell("reporter", message)
        return None


@pytest.mark.virtual_time
async def test_a_sender_that_exited_before_its_message_arrived_is_a_dead_ref_with_its_name() -> (
    None
):
    transport = Recording(hold=True)
    async with ActorSystem("n1", transport=transport) as system:
        reporter = await system.spawn(Reporter, name="reporter")
        teller = await system.spawn(Teller, name="teller")
        transport.hold = False
        teller.tell("x")  # carried at once: the teller runs and tells the reporter
        transport.hold = True
        await asyncio.sleep(0.01)
        (held,) = transport.sent[-1:]
        assert (held.kind, held.dst, held.dst_name) == (TELL, Address("n1", 0), "reporter")
        await teller.stop()
        transport.hold = False
        system.deliver(held)
        await asyncio.sleep(0.01)
        actor = reporter._cell._actor
        assert isinstance(actor, Reporter)
        (sender,) = actor.senders
        assert (sender.name, sender.id, sender.is_alive) == ("teller", teller.id, False)
        sender.tell("to the departed")
        assert system.dead_letters.recent[-1].reason == "actor_not_running"
        with pytest.raises(ActorDeadError):
            await sender.ask("anything")


def test_an_envelope_is_a_msgspec_struct_of_addresses_names_and_payload() -> None:
    envelope = Envelope(
        ASK, Address("a", 1), Address("b", 0), {"x": 1}, "p", "q", 9, Address("a", 1)
    )
    assert msgspec.json.decode(msgspec.json.encode(envelope)) == [
        ASK,
        ["a", 1],
        ["b", 0],
        {"x": 1},
        "p",
        "q",
        9,
        ["a", 1],
    ]
    assert envelope.describe() == "ask p -> q: dict"
    assert Address("a", 1) == ("a", 1)


def test_the_simulated_network_uses_only_the_systems_public_interface() -> None:
    """No private attribute of the runtime's is touched: only the network's own
    (``self._x``) and those of the simulator's own virtual loop. The simulator is a
    transport like any other."""
    tree = ast.parse(Path(network_module.__file__).read_text())
    simulators_own = set(vars(VirtualEventLoop))
    private = [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "link", "override"})
        and node.attr not in simulators_own
    ]
    assert private == []
    assert "_advance_to" in simulators_own
    assert "_records" not in simulators_own  # the trace's: it records through record()
    assert "_woken" not in simulators_own  # the runtime's (ActorSystem), not allowed
    imports = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and "runtime." in node.module
    ]
    assert imports == []  # from mabeam.runtime's public names only


async def test_undeliverable_says_why_without_delivering() -> None:
    transport = Recording(hold=True)
    async with ActorSystem("n1", transport=transport) as system:
        echo = await system.spawn(Echo, name="echo")
        app = Address("n1", 0)
        to_name = Envelope(TELL, app, Address("n1", 0), "x", None, "echo")
        to_ghost = Envelope(TELL, app, Address("n1", 0), "x", None, "ghost")
        to_ref = Envelope(TELL, app, echo.address, "x", None, "echo")
        to_gone = Envelope(TELL, app, Address("n1", 999), "x")
        answer = Envelope(REPLY, echo.address, app, "x", None, None, 5)
        assert system.undeliverable(to_name) is None
        assert system.undeliverable(to_ref) is None
        assert system.undeliverable(to_ghost) == "no_actor"
        assert system.undeliverable(to_gone) == "not_running"
        assert system.undeliverable(answer) is None
        assert system.dead_letters.count == 0  # nothing was delivered
        assert system.deliver(to_gone) == "not_running"
        assert system.dead_letters.recent[-1].recipient == "n1#999"


class Refusing(Recording):
    """A transport that refuses to carry asks (as one that lost its connection may)."""

    def send(self, envelope: Envelope) -> None:
        if envelope.kind == ASK:
            raise ConnectionError("cannot carry it now")
        super().send(envelope)


async def test_an_ask_the_transport_refuses_raises_and_leaves_nothing_pending() -> None:
    async with ActorSystem(transport=Refusing()) as system:
        echo = await system.spawn(Echo, name="echo")
        with pytest.raises(ConnectionError, match="cannot carry"):
            await echo.ask("hi", timeout=1.0)
        assert system._pending == {}
        with pytest.raises(ConnectionError, match="cannot carry"):
            await system.ask_all([echo, echo], "hi", timeout=1.0)
        assert system._pending == {}
        echo.tell("still told")  # tells still travel
