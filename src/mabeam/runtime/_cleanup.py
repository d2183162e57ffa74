"""Cleanup that runs to the end even when its caller is being cancelled.

An ``async with`` block left by cancellation runs ``__aexit__`` while the cancellation is
still in force: under anyio (``move_on_after``, ``fail_after``, a task group's cancel)
every ``await`` inside it raises again at once, and under asyncio (``asyncio.timeout``,
``task.cancel()``) a second cancel may land in the middle of it. Either way a cleanup
that awaits (stopping actors, waiting for their ``on_stop``) would stop half-way and leave
actors running and names registered.

:func:`finish` runs the cleanup in a task of its own, shielded from both libraries, waits
for it to end, and only then lets a cancellation that arrived meanwhile go on (the same
exception object, so ``asyncio.timeout`` and anyio's scopes still recognise their own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


async def finish(cleanup: Coroutine[Any, Any, T]) -> T:
    """Run ``cleanup`` to completion whatever cancels the caller; then re-raise that cancel.

    An exception from ``cleanup`` itself propagates as usual.
    """
    task = asyncio.ensure_future(cleanup)
    cancel: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while True:
            try:
                result = await asyncio.shield(task)
            except asyncio.CancelledError as exc:
                if task.cancelled():
                    raise  # the cleanup itself was cancelled, not its caller
                cancel = exc  # the caller's: hold it until the cleanup is done
                continue
            break
    if cancel is not None:
        raise cancel
    return result
