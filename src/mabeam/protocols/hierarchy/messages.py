"""The hierarchy's messages: a request flows down, a partial aggregate flows up."""

from __future__ import annotations

import msgspec

from .aggregate import Aggregate, Summary


class Collect(msgspec.Struct, frozen=True, tag=True):
    """Parent → child: answer for yourself and your subtree.

    ``request`` is the asker's number for this request (echoed in the answer);
    ``reply_timeout_ms`` is the per-request timeout the whole round uses (a child
    waits for its own children per :meth:`Structure.wait`).
    """

    request: int
    aggregate: Aggregate
    reply_timeout_ms: float
    variable: str | None = None


class Partial(msgspec.Struct, frozen=True, tag=True):
    """Child → parent: the subtree's exact partial aggregate.

    ``missing`` are the ids in the subtree that did not answer (sorted); ``messages``
    the requests sent and answers received inside the subtree.
    """

    request: int
    summary: Summary
    missing: tuple[str, ...] = ()
    messages: int = 0


class Expired(msgspec.Struct, frozen=True, tag=True):
    """An agent's own timer: the children asked in ``batch`` of ``gathering`` are late."""

    gathering: int
    batch: int


class SetValue(msgspec.Struct, frozen=True, tag=True):
    """Application → agent: from now on answer with ``value`` (a restart forgets it)."""

    value: float


class GetValue(msgspec.Struct, frozen=True, tag=True):
    """Application → agent (ask): the agent's current value."""


class Begin(msgspec.Struct, frozen=True, tag=True):
    """Application → round coordinator: send the request to the root now."""
