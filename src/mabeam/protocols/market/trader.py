"""The trader's actor: an agent holding orders (and bundles) that trades by message.

It answers a call market's :class:`CallForOrders` with its orders; in continuous
trading it sends each order to the exchange at its ``at_ms``. Exchanges are addressed
by name at every message: a restarted exchange has a new ref.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ...runtime import Actor
from .messages import (
    Activity,
    BundleBid,
    CallForOrders,
    Cancel,
    CancelOrder,
    Fill,
    GetActivity,
    OrderCancelled,
    OrderRejected,
    Orders,
    OrderSpec,
    StartTrading,
    Submit,
    SubmitOrder,
)

__all__ = ["TraderAgent"]


class _SendOrders(msgspec.Struct, frozen=True, tag=True):
    """A trader's timer: send these orders (indexes) now."""

    indexes: list[int]


def _spec(order: OrderSpec | Mapping[str, Any]) -> OrderSpec:
    return order if isinstance(order, OrderSpec) else OrderSpec(**order)


class TraderAgent(Actor):
    """An agent holding ``orders`` (and combinatorial ``bundles``), trading by message.

    It answers :class:`CallForOrders` with them; after :class:`StartTrading` it sends
    each order to the exchange at its ``at_ms`` (order id = its index). The application
    can make it :class:`Submit` or :class:`Cancel` more. Fills, rejections and
    cancellations it receives are kept (:class:`GetActivity`) and, if ``listener`` names
    an actor, forwarded to it.
    """

    def __init__(
        self,
        agent_id: str,
        orders: Iterable[OrderSpec | Mapping[str, Any]] = (),
        bundles: Iterable[BundleBid | Mapping[str, Any]] = (),
        *,
        listener: str | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.orders = [_spec(o) for o in orders]
        self.bundles = [
            b
            if isinstance(b, BundleBid)
            else BundleBid(items=list(b["items"]), bid=float(b["bid"]))
            for b in bundles
        ]
        self.listener = listener
        self.fills: list[Fill] = []
        self.rejected: list[OrderRejected] = []
        self.cancelled: list[OrderCancelled] = []
        self._next_id = len(self.orders)
        self._exchange: str | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, (Fill, OrderRejected, OrderCancelled)):
            self._note(message)
            return None
        if isinstance(message, _SendOrders):
            for index in message.indexes:
                self._send(self._exchange, index, self.orders[index])
            return None
        if isinstance(message, CallForOrders):
            return Orders(agent=self.agent_id, orders=self.orders, bundles=self.bundles)
        if isinstance(message, StartTrading):
            self._start(message)
            return None
        if isinstance(message, Submit):
            order_id, self._next_id = self._next_id, self._next_id + 1
            self._send(message.exchange, order_id, message.order)
            return order_id
        if isinstance(message, Cancel):
            self.context.tell(
                message.exchange, CancelOrder(agent=self.agent_id, order_id=message.order_id)
            )
            return None
        if isinstance(message, GetActivity):
            return Activity(fills=self.fills, rejected=self.rejected, cancelled=self.cancelled)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _start(self, message: StartTrading) -> None:
        """One timer per distinct at_ms, so one agent's orders go in index order."""
        self._exchange = message.exchange
        due: dict[float, list[int]] = {}
        for index, order in enumerate(self.orders):
            due.setdefault(float(order.at_ms), []).append(index)
        now = self.context.time()
        for at_ms in sorted(due):
            delay = message.t0 + at_ms / 1000.0 - now
            if delay <= 0:
                for index in due[at_ms]:
                    self._send(message.exchange, index, self.orders[index])
            else:
                self.context.send_after(delay, _SendOrders(indexes=due[at_ms]))

    def _send(self, exchange: str | None, order_id: int, order: OrderSpec) -> None:
        """Send one order to the exchange by name (down: a dead letter, as any message)."""
        if exchange is None:  # no StartTrading yet: no exchange to send to
            return
        self.context.tell(
            exchange,
            SubmitOrder(
                agent=self.agent_id,
                order_id=order_id,
                side=order.side,
                resource=order.resource,
                quantity=order.quantity,
                price=order.price,
            ),
        )

    def _note(self, message: Fill | OrderRejected | OrderCancelled) -> None:
        if isinstance(message, Fill):
            self.fills.append(message)
        elif isinstance(message, OrderRejected):
            self.rejected.append(message)
        else:
            self.cancelled.append(message)
        if self.listener is not None:
            self.context.tell(self.listener, message)
