"""A node in a process of its own, for the failure tests: ``python _node.py URL NAME``.

It starts ``ActorSystem(NAME)`` on the NATS server at URL with a short heartbeat, spawns
an :class:`Echo` registered as ``echo-<NAME>`` and another as ``linked-<NAME>``, prints
``ready`` and runs until its stdin closes (or it is killed: that is what the tests do).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _actors import Echo, codec

from mabeam import ActorSystem
from mabeam.transport import NatsTransport

HEARTBEAT = 0.05
DOWN_AFTER = 0.5


async def main(url: str, name: str) -> None:
    transport = NatsTransport(
        servers=[url], heartbeat=HEARTBEAT, down_after=DOWN_AFTER, reconnect_time_wait=0.05
    )
    async with ActorSystem(name, transport=transport, codec=codec()) as system:
        await system.spawn(Echo, name=f"echo-{name}")
        await system.spawn(Echo, name=f"linked-{name}")
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
