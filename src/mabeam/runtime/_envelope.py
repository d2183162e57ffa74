"""Addresses and envelopes: what crosses a transport between actors.

An actor's :class:`Address` is ``(node, id)``: the node is its system's name, the id is
unique within that system. Everything a transport carries is an :class:`Envelope` (a
msgspec Struct): source and destination addresses, the registered names of both ends
(the destination name is what a name-addressed message is resolved by on arrival), a
correlation id and reply-to address for asks and their answers, and the payload. No
future, no actor object, no Python callable is in it; pending asks wait in a table of the
asking system, keyed by correlation id. Transports hand envelopes back to a system with
its one entry point, :meth:`ActorSystem.deliver <mabeam.ActorSystem.deliver>`.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import msgspec


class Address(NamedTuple):
    """Where an actor lives: ``(node, id)``. Id 0 is no actor: code outside actors, on ``node``.

    A destination with id 0 is resolved by the envelope's ``dst_name`` on arrival.
    """

    node: str
    id: int


TELL: Final = 0
"""A message that wants no answer."""
ASK: Final = 1
"""A message whose answer goes to ``reply_to``, with the same ``correlation``."""
REPLY: Final = 2
"""The answer to an ask: ``payload`` is what the handler returned."""
FAILURE: Final = 3
"""The failure of an ask: ``payload`` is the exception the asker's ``ask`` raises."""

KIND_NAMES: Final = ("tell", "ask", "reply", "failure")


class Envelope(msgspec.Struct, frozen=True, array_like=True):
    """One message on its way from actor to actor (see the module docstring)."""

    kind: int
    """:data:`TELL`, :data:`ASK`, :data:`REPLY` or :data:`FAILURE`."""
    src: Address
    """The sending actor (id 0: application code on that node)."""
    dst: Address
    """The receiving actor; id 0: whatever actor ``dst_name`` names when it arrives."""
    payload: Any
    """The message, the answer, or (``FAILURE``) the exception."""
    src_name: str | None = None
    """The sender's registered name when it sent, if any."""
    dst_name: str | None = None
    """The receiver's registered name (a name-addressed message: the name it goes to)."""
    correlation: int = 0
    """Ask and answer: the asking system's id for the pending ask."""
    reply_to: Address | None = None
    """Ask: where its answer goes."""

    @property
    def is_reply(self) -> bool:
        """True for an answer to an ask (``REPLY`` or ``FAILURE``)."""
        return self.kind >= REPLY

    def describe(self) -> str:
        """One line for logs: kind, ends and payload type."""
        src = self.src_name or f"{self.src.node}#{self.src.id}"
        dst = self.dst_name or f"{self.dst.node}#{self.dst.id}"
        return f"{KIND_NAMES[self.kind]} {src} -> {dst}: {type(self.payload).__name__}"
