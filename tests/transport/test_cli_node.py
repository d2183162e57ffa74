"""``mabeam node``: a node process started from the command line, used from this one.

The node runs ``python -m mabeam node`` in a subprocess on a real nats-server; the test
process is node ``n1``: it starts an allowed class there, asks it, is refused a class
not allowed, and ends the node with SIGTERM (exit 0, and the others see it leave).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest

from mabeam import ActorSystem, ConfigError, NodeDownError
from mabeam.transport import NatsTransport
from mabeam.transport._server import NatsServer

from ._actors import Echo, Watcher, codec
from ._processes import WAIT, ready_process

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def importable_env() -> dict[str, str]:
    """The child imports the tests' actor module under the name this process gave it."""
    module_root = Path(sys.modules[Echo.__module__].__file__ or "").resolve()
    for _ in Echo.__module__.split("."):
        module_root = module_root.parent
    paths = [str(module_root), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def node_command(server: NatsServer, name: str, *allow: str) -> list[str]:
    flags = [arg for cls in allow for arg in ("--allow", cls)]
    return [
        *(sys.executable, "-m", "mabeam", "node", "--name", name, "--nats", server.url),
        *("--heartbeat", "0.05", "--down-after", "0.5", *flags),
    ]


async def test_a_cli_node_starts_allowed_classes_refuses_others_and_ends_on_sigterm(
    nats_server: NatsServer,
) -> None:
    echo_class = f"{Echo.__module__}.{Echo.__qualname__}"
    command = node_command(nats_server, "n2", echo_class)
    transport = NatsTransport(servers=[nats_server.url], heartbeat=0.05, down_after=0.5)
    async with (
        ready_process(command, env=importable_env()) as child,
        ActorSystem("n1", transport=transport, codec=codec()) as system,
    ):
        with anyio.fail_after(WAIT):
            await transport.wait_for_nodes("n2")
            echo = await system.spawn(Echo, "echo: ", node="n2", name="echo")
            assert echo.address.node == "n2"
            assert await echo.ask("hello") == "hello"
            assert (await transport.wait_for_name("echo")).address == echo.address
            with pytest.raises(ConfigError, match="may not be started on node 'n2'"):
                await system.spawn(Watcher, node="n2")
            child.send_signal(signal.SIGTERM)
            assert await child.wait() == 0
            await transport.wait_until_down("n2")  # it said goodbye: down at once
            with pytest.raises(NodeDownError):
                await echo.ask("after")


async def test_a_cli_node_ends_on_sigint_too(nats_server: NatsServer) -> None:
    async with ready_process(node_command(nats_server, "n3")) as child:
        with anyio.fail_after(WAIT):
            child.send_signal(signal.SIGINT)
            assert await child.wait() == 0
