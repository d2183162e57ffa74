"""A supervisor supervises a child on another node: started there, linked across the
nodes, restarted there when it crashes, stopped there when terminated."""

from __future__ import annotations

import anyio
import pytest

from mabeam import ChildSpec, ConfigError, Supervisor
from mabeam.runtime.supervision import start_child, terminate_child, which_children
from mabeam.transport._server import NatsServer

from ._actors import Echo, Greeting
from .test_nats_transport import WAIT, nodes


async def test_a_supervisor_restarts_its_child_on_the_other_node(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2", allow=[Echo]) as (n1, n2):
        spec = ChildSpec("echo", Echo, ("there ",), node="n2", name="remote-echo")
        supervisor = await n1.spawn(Supervisor, [spec], name="sup")
        with anyio.fail_after(WAIT):
            (info,) = await which_children(supervisor)
            first = info.ref
            assert first is not None
            assert first.address.node == "n2"
            assert n2.whereis("remote-echo") is not None  # it runs on n2
            assert await first.ask(Greeting("hi")) == Greeting("there hi")
            # It crashes on n2: the link brings the exit to n1, which starts it again on n2.
            first.tell("crash")
            await first.join()  # its exit reached n1
            while True:  # the restart follows the exit in the supervisor's mailbox
                (info,) = await which_children(supervisor)
                if info.ref is not None and info.ref.address != first.address:
                    break
            second = info.ref
            assert second.address.node == "n2"
            assert await second.ask(Greeting("again")) == Greeting("there again")
            assert supervisor.is_alive
            # Terminated: stopped on n2, and not restarted.
            await terminate_child(supervisor, "echo")
            (info,) = await which_children(supervisor)
            assert info.ref is None
            assert not second.is_alive
            assert n2.whereis("remote-echo") is None  # it exited on n2 before stop returned


async def test_a_remote_child_the_node_refuses_fails_to_start_naming_it(
    nats_server: NatsServer,
) -> None:
    from mabeam import ChildStartError

    async with nodes(nats_server, "n1", "n2", allow=[]) as (n1, _n2):
        supervisor = await n1.spawn(Supervisor, [])
        with anyio.fail_after(WAIT), pytest.raises(ChildStartError, match="echo") as caught:
            await start_child(supervisor, ChildSpec("echo", Echo, node="n2"))
        assert isinstance(caught.value.__cause__, ConfigError)


def test_a_remote_child_spec_checks_its_node() -> None:
    with pytest.raises(ConfigError) as caught:
        ChildSpec("x", Echo, node="")
    assert caught.value.field == "child_spec.node"
    from mabeam import Mailbox

    with pytest.raises(ConfigError) as mailbox:
        ChildSpec("x", Echo, node="n2", mailbox=Mailbox(capacity=1))
    assert mailbox.value.field == "child_spec.mailbox"
