"""``ask_all``: one message asked of many actors at once, the answers in one list.

OTP's ``gen_server:multi_call``, Akka's ``ask`` over a sequence: a coordinator's usual
round (a call for bids, a ballot, a price announcement). Every ask is sent before the
caller waits, in the order of the targets; one timer stands for every ask's timeout; the
caller resumes once every ask is answered, has failed or has run out of time. No task
is made per target, where ``asyncio.gather`` over ``ask`` makes one for each.

Each ask is the one :meth:`ActorRef.ask` would make (same mailbox item, same envelope
through a transport, same errors), so FIFO per sender, dead letters and the pending-ask
table behave alike. The answering actor does not linger for a next request after
answering one of these: the caller sends none until all the answers are in.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._errors import ActorDeadError, ActorError, AskTimeoutError, MailboxFullError
from ._checks import check_seconds
from ._ref import ActorRef, send_ask
from ._state import RUNNING

if TYPE_CHECKING:
    from ._context import ActorContext
    from ._system import ActorSystem

__all__ = ["FanoutReply", "Observer", "ask_all", "set_observer"]

Observer = Callable[[str, "ActorContext | None", Any], Callable[[Any], None]]
"""Told of each ask ``ask_all`` makes: ``(actor label, asker, message)`` as it is made;
returns what to call with the answer or the error once that ask is over."""

_observer: Observer | None = None


def set_observer(observer: Observer | None) -> None:
    """Watch every ask made by ``ask_all`` (None: stop). ``mabeam.viz.otel`` makes each a span."""
    global _observer
    _observer = observer


def _report(end: Callable[[Any], None], reply: FanoutReply) -> None:
    if reply.cancelled():
        end(asyncio.CancelledError())
    else:
        error = reply.exception()
        end(reply.result() if error is None else error)


class FanoutReply(asyncio.Future[Any]):
    """The reply future of one ask made by :func:`ask_all`.

    Its type tells the answering actor not to linger for a next request (see
    ``ActorContext._run``); everything else is an ordinary future.
    """

    __slots__ = ()


def _expire_all(
    asks: list[tuple[int, Any, FanoutReply]], message_type: str, timeout: float
) -> None:
    for _, cell, reply in asks:
        if not reply.done():
            reply.set_exception(AskTimeoutError(cell._label, message_type, timeout))


async def ask_all(
    system: ActorSystem,
    sender: ActorContext | None,
    targets: Iterable[ActorRef[Any] | str],
    message: Any,
    timeout: float | None,
) -> list[Any]:
    """Ask ``message`` of every target; return each answer or the error its ask got.

    See :meth:`ActorSystem.ask_all`, the public face.
    """
    if timeout is not None:  # math.inf comes back as None: no limit
        timeout = check_seconds("timeout", timeout, allow_none=True, allow_infinite=True)
    cells: list[Any] = []
    results: list[Any] = []
    for index, target in enumerate(targets):
        if isinstance(target, str):
            ref = system.whereis(target)
            if ref is None:
                cells.append(None)
                results.append(ActorDeadError(target, "ask"))
                continue
        elif isinstance(target, ActorRef):
            ref = target
        else:
            raise TypeError(
                f"targets[{index}]: expected an ActorRef or a registered name (str), "
                f"got {type(target).__name__}"
            )
        cell = ref._cell
        if cell is sender:
            raise ActorError(
                f"actor {cell._label!r} asked itself: it would wait for its own reply forever",
                actor=cell._label,
            )
        cells.append(cell)
        results.append(None)
    observer = _observer
    loop = asyncio.get_running_loop()
    asks: list[tuple[int, Any, FanoutReply]] = []
    correlations: list[tuple[ActorSystem, int]] = []
    try:
        for index, cell in enumerate(cells):
            if cell is None:
                continue
            if cell._state > RUNNING:
                results[index] = ActorDeadError(cell._label, "ask")
                continue
            if cell._mailbox.overflow == "backpressure" and cell._mailbox.capacity is not None:
                try:
                    await cell._wait_for_room()
                except ActorDeadError as exc:
                    results[index] = exc
                    continue
            reply = FanoutReply(loop=loop)
            # As ref.ask: through the target's own system (a ref may come from another).
            owner = cell._system
            if owner._transport is None:
                try:
                    cell._enqueue((message, sender, reply))
                except MailboxFullError as exc:
                    results[index] = exc
                    continue
            else:
                correlations.append((owner, send_ask(owner, sender, cell, message, reply)))
            if observer is not None:
                reply.add_done_callback(
                    functools.partial(_report, observer(cell._label, sender, message))
                )
            asks.append((index, cell, reply))
        if observer is not None:
            # The asks that failed before they were made: each is over at once.
            for error in results:
                if error is not None:
                    observer(error.actor, sender, message)(error)
        if asks:
            await _wait(loop, asks, type(message).__name__, timeout)
    finally:
        for owner, correlation in correlations:
            owner._pending.pop(correlation, None)
        for _, _, reply in asks:
            if not reply.done():
                reply.cancel()  # the caller was cancelled: late answers are dropped
            elif not reply.cancelled():
                reply.exception()  # seen: no "exception never retrieved" report later
    for index, _, reply in asks:
        error = reply.exception()
        results[index] = reply.result() if error is None else error
    return results


async def _wait(
    loop: asyncio.AbstractEventLoop,
    asks: list[tuple[int, Any, FanoutReply]],
    message_type: str,
    timeout: float | None,
) -> None:
    """Until every reply is done: one done-callback counts them, one timer expires them."""
    remaining = len(asks)
    finished: asyncio.Future[None] = loop.create_future()

    def arrived(_: object) -> None:
        nonlocal remaining
        remaining -= 1
        if not remaining and not finished.done():
            finished.set_result(None)

    for _, _, reply in asks:
        reply.add_done_callback(arrived)
    timer = (
        None
        if timeout is None
        else loop.call_later(timeout, _expire_all, asks, message_type, timeout)
    )
    try:
        await finished
    finally:
        if timer is not None:
            timer.cancel()
