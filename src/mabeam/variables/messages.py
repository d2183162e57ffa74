"""Messages between the variable store and the agents subscribed to a variable."""

from __future__ import annotations

from typing import Any

import msgspec


class VariableChanged(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Store → subscriber: ``variable`` is now ``value`` (``version``), decided by ``protocol``.

    ``protocol`` is ``"set"`` for a direct :meth:`Variables.set`.
    """

    variable: str
    value: Any
    previous: Any
    version: int
    protocol: str


class Propose(msgspec.Struct, frozen=True, tag=True):
    """Store → subscriber (ask): what value of ``variable`` do you want?

    For a vote, ``proposals`` lists the candidates: a preference equal to one of them
    is a ballot for it (any other is an abstention).
    """

    variable: str
    current: Any = None
    proposals: list[Any] | None = None


class Preference(msgspec.Struct, frozen=True, tag=True):
    """Subscriber → store: ``value`` wanted, with ``weight`` (None: no preference)."""

    agent: str
    value: Any
    weight: float = 1.0
