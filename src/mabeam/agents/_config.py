"""What the agent registry knows about an agent: its config, status and events."""

from __future__ import annotations

import importlib
from typing import Any, Literal, TypeAlias

import msgspec

from .._errors import ConfigError
from .._errors import RegistryError as RegistryError
from ..runtime import Actor
from ..runtime.supervision import RESTARTS, Restart

Status: TypeAlias = Literal["registered", "running", "stopped", "crashed", "failed"]
"""``registered``: never started; ``running``; ``stopped``: stopped on request or by
itself; ``crashed``: exited abnormally and not restarted; ``failed``: could not start."""

EventKind: TypeAlias = Literal[
    "registered",
    "unregistered",
    "started",
    "stopped",
    "restarted",
    "crashed",
    "start_failed",
    "updated",
]
EVENT_KINDS: tuple[EventKind, ...] = (
    "registered",
    "unregistered",
    "started",
    "stopped",
    "restarted",
    "crashed",
    "start_failed",
    "updated",
)


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One agent: ``id`` (also its registered name), what to run, what it can do.

    ``actor`` is an :class:`~mabeam.Actor` subclass or its import path
    (``"package.module:Class"`` or ``"package.module.Class"``); ``args`` / ``kwargs`` go
    to its ``__init__``. ``capabilities`` are what :meth:`AgentRegistry.find` matches;
    ``metadata`` is free-form. ``restart`` is the OTP restart type under the registry's
    supervisor. ``health_check``: the agent answers :class:`HealthCheck` (else health
    is only whether it runs).
    """

    id: str
    actor: Any
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    capabilities: tuple[str, ...] = ()
    metadata: dict[str, Any] = {}
    restart: Restart = "permanent"
    health_check: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError("id", f"must be a non-empty string, got {self.id!r}")
        if self.restart not in RESTARTS:
            allowed = ", ".join(RESTARTS)
            raise ConfigError("restart", f"unknown restart type {self.restart!r}", allowed=allowed)
        check_capabilities(self.capabilities)
        check_metadata(self.metadata)
        if not isinstance(self.args, tuple | list):
            raise ConfigError("args", f"must be a tuple or list, got {self.args!r}")
        if not isinstance(self.kwargs, dict) or not all(isinstance(k, str) for k in self.kwargs):
            raise ConfigError("kwargs", f"must be a dict with string keys, got {self.kwargs!r}")
        if not isinstance(self.health_check, bool):
            raise ConfigError("health_check", f"must be true or false, got {self.health_check!r}")
        if not isinstance(self.actor, str):
            resolve_actor(self.actor)  # an Actor subclass, checked now

    @property
    def actor_name(self) -> str:
        """The actor class as ``module.Class`` (for status and logs)."""
        if isinstance(self.actor, str):
            return self.actor.replace(":", ".")
        return f"{self.actor.__module__}.{self.actor.__qualname__}"


STATUSES: tuple[Status, ...] = ("registered", "running", "stopped", "crashed", "failed")


def check_capabilities(capabilities: Any, field: str = "capabilities") -> tuple[str, ...]:
    """``capabilities`` as a tuple if it is a list or tuple of non-empty strings.

    A bare string is refused rather than read as its characters.
    """
    if not isinstance(capabilities, tuple | list):
        problem = f"must be a list of capability names, got {capabilities!r}"
        raise ConfigError(field, problem)
    for i, capability in enumerate(capabilities):
        if not isinstance(capability, str) or not capability:
            problem = f"must be a non-empty string, got {capability!r}"
            raise ConfigError(f"{field}[{i}]", problem)
    return tuple(capabilities)


def check_metadata(metadata: Any) -> dict[str, Any]:
    """``metadata`` if it is a dict with string keys."""
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise ConfigError("metadata", f"must be a dict with string keys, got {metadata!r}")
    return metadata


def check_status(status: Any) -> Status | None:
    """``status`` if it is None or one of :data:`STATUSES`."""
    if status is not None and status not in STATUSES:
        allowed = ", ".join(STATUSES)
        raise ConfigError("status", f"unknown status {status!r}", allowed=allowed)
    return status  # type: ignore[no-any-return]


def resolve_actor(actor: Any) -> type[Actor]:
    """The Actor subclass ``actor`` is or names; ConfigError if it is neither."""
    if isinstance(actor, str):
        module_name, _, attribute = actor.rpartition(":") if ":" in actor else actor.rpartition(".")
        try:
            actor = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError("actor", f"cannot import {actor!r}: {exc}") from exc
    if not (isinstance(actor, type) and issubclass(actor, Actor)):
        raise ConfigError("actor", f"must be an Actor subclass or its import path, got {actor!r}")
    return actor


class AgentInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's status as the registry sees it."""

    id: str
    actor: str
    status: Status
    capabilities: tuple[str, ...]
    metadata: dict[str, Any]
    restarts: int = 0
    last_exit: str | None = None


class AgentEvent(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Registry → subscriber: something changed for ``agent``.

    ``kind`` is one of :data:`EVENT_KINDS`; ``status`` the agent's status after it;
    ``reason`` why (an exit reason, ``requested`` ...), when there is one.
    """

    kind: EventKind
    agent: str
    status: Status | None
    reason: str | None = None


class HealthCheck(msgspec.Struct, frozen=True, tag=True):
    """Registry → agent (ask): are you healthy? Any answer means yes."""


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of :meth:`AgentRegistry.health`.

    ``healthy`` when the agent runs and (if it does health checks) answered in time;
    ``detail`` is what it answered, or why not (``not_running``, ``timeout``,
    ``crashed``).
    """

    id: str
    healthy: bool
    status: Status
    detail: Any = None
