"""A variable's state and the outcome of a decision on it (plain data, no I/O)."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from .._errors import ConfigError
from .._errors import ProtocolNotAvailableError as ProtocolNotAvailableError
from .._errors import VariableError as VariableError

Protocol: TypeAlias = Literal["auction", "voting", "raft", "compromise", "bargaining"]
PROTOCOLS: tuple[Protocol, ...] = ("auction", "voting", "raft", "compromise", "bargaining")
AVAILABLE: tuple[Protocol, ...] = ("auction", "voting", "raft", "compromise", "bargaining")
"""The protocols that can decide a variable now (all of :data:`PROTOCOLS`)."""


def check_protocol(protocol: str) -> Protocol:
    """``protocol`` if it can decide a variable now; else a ConfigError naming those that can."""
    if protocol not in AVAILABLE:
        allowed = ", ".join(AVAILABLE)
        raise ConfigError("protocol", f"unknown protocol {protocol!r}", allowed=allowed)
    return protocol


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a variable's history: ``version`` got ``value`` at ``at`` (seconds)."""

    version: int
    value: Any
    protocol: str
    at: float
    participants: tuple[str, ...] = ()


class Variable(msgspec.Struct, frozen=True, kw_only=True):
    """A named value, its version (0 when defined), history and subscribers."""

    name: str
    value: Any
    version: int
    protocol: Protocol | None
    subscribers: tuple[str, ...]
    history: tuple[Change, ...]


class Decision(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The outcome of :meth:`Variables.coordinate`.

    ``ok``: the protocol agreed and the variable now holds ``value`` at ``version``.
    Otherwise ``error`` is the protocol's code (``no_bids``, ``no_majority``,
    ``no_quorum``, ``unresolved_conflicts``, ``no_preferences`` ...) and the variable
    is unchanged. ``details`` carries protocol figures (winner, payment, confidence ...).
    """

    variable: str
    protocol: Protocol
    ok: bool
    value: Any = None
    version: int
    participants: tuple[str, ...] = ()
    error: str | None = None
    details: dict[str, Any] = {}
