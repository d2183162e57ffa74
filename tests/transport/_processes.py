"""Child processes for the tests: started, awaited until they say ``ready``, always killed.

:func:`ready_process` runs a command whose first line on stdout is ``ready`` once it is
up (the cluster example's nodes and ``mabeam node`` print it). Whatever happens in the
block, the process is gone at its end: thawed (if a test stopped it) and killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.abc import Process

WAIT = 15.0
"""Bound of every wait on a child (start-up, exit)."""


async def read_line(process: Process) -> bytes:
    """One line of the child's stdout (b"" once it closed)."""
    assert process.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        try:
            line += await process.stdout.receive(1)
        except anyio.EndOfStream:
            break
    return line


@asynccontextmanager
async def ready_process(
    command: Sequence[str], *, env: Mapping[str, str] | None = None
) -> AsyncIterator[Process]:
    """Run ``command`` until the block ends; the block starts once it printed a line
    starting with ``ready``."""
    process = await anyio.open_process(
        list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=None, env=env
    )
    try:
        with anyio.fail_after(WAIT):
            line = await read_line(process)
        assert line.startswith(b"ready"), f"{command[:4]} said {line!r} instead of ready"
        yield process
    finally:
        await kill(process)


async def kill(process: Process) -> None:
    """Kill the child (if it still runs) and reap it; safe to call twice."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            try:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            except ProcessLookupError:
                pass
        with anyio.fail_after(WAIT):
            await process.wait()
        await process.aclose()
