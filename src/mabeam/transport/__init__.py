"""Transports: actor systems in different processes or on different hosts talk (issue 16).

:class:`NatsTransport` makes an :class:`~mabeam.ActorSystem` a node of a cluster over
NATS (see ``docs/distribution.md``). It stands on nats-py, an optional extra
(``pip install 'mabeam[nats]'``), so this package imports nothing heavy until
``NatsTransport`` is used: neither nats-py nor the runtime is loaded before.
:mod:`mabeam.transport._server` finds the official ``nats-server`` binary and runs it on
a free loopback port for tests and benchmarks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._transport import NatsTransport as NatsTransport

__all__ = ["NatsTransport"]


def __getattr__(name: str) -> Any:
    if name == "NatsTransport":
        from ._transport import NatsTransport

        return NatsTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
