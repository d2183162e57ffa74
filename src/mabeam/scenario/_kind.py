"""What a protocol kind is to the scenario runner: one :class:`Kind` record.

A kind's module (``_auction``, ``_bargaining``, ...) defines its options Struct and one
``KIND = Kind(...)``: the options type (whose tag is the kind's name), the rules its
options impose on the rest of the scenario, the factory of its agents' actors, the
driver that runs it, and its byzantine tampering. :data:`._kinds.KINDS` lists them all,
explicitly; nothing registers itself anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import msgspec

from ..runtime import Actor
from ..sim import Interceptor
from ._spec import AgentSpec, _Options

if TYPE_CHECKING:
    from ._load import Rules
    from ._run import ScenarioRun
    from ._schema import Scenario

COORDINATOR = "coordinator"
"""The coordinator's node name: exempt from partitions, as SCENARIOS.md says."""
GENERIC_BEHAVIORS = ("silent", "random")
"""Byzantine behaviors every kind understands (``generic_byzantine`` in :mod:`._run`)."""


class RunFailure(msgspec.Struct, frozen=True, omit_defaults=True):
    """Why a protocol ended without agreement (``code`` as in PROTOCOLS.md): the report's
    ``error`` object. A record, not an exception (``RunError`` is its old name)."""

    code: str
    message: str
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """A driver's answer: ``result`` (builtins or msgspec Structs), or an ``error``."""

    ok: bool
    result: Any = None
    error: RunFailure | None = None


Driver = Callable[["ScenarioRun"], Awaitable[Outcome]]
"""Runs the kind: spawns its agents and coordinator, starts the faults, returns the outcome."""
AgentFactory = Callable[[AgentSpec], tuple[type[Actor], tuple[Any, ...], Mapping[str, Any]]]
"""An agent's table -> its actor class, args and kwargs."""
ByzantineFactory = Callable[["ScenarioRun", str, str], Interceptor | None]
"""``(run, agent, behavior)`` -> the interceptor tampering with what ``agent`` sends, or
None to leave the behavior to the generic ones (``silent``, ``random``)."""
Check = Callable[["Rules", Any], None]
"""``(rules, options)``: the kind's rules on the rest of the scenario, run by the loader
after decoding; ``rules.fail(field, problem)`` refuses the scenario."""
Refusal = Callable[["Scenario"], tuple[str, str] | None]
"""``(scenario) -> (field, problem)`` when the kind cannot run this scenario yet."""


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One protocol kind of ``[protocol] kind = ...``, everything about it in one record.

    ``options``: its options Struct (the tag is the kind's name). ``drive``: runs it.
    ``agent``: each agent's actor from its table, used by ``run.spawn_agents()``; None
    when the actors depend on what ``drive`` builds first (a cluster, the outcomes), and
    then ``drive`` passes its own factory. ``check``: rules its options impose on the rest
    of the scenario (agents, faults), applied when a file is loaded. ``refuse``: what of
    this kind is valid but not implemented yet. ``byzantine(run, agent, behavior)``: its
    own tampering; ``behaviors`` names the behaviors it implements (beyond the generic
    ``silent`` and ``random``), so a run is refused before it starts otherwise.
    """

    options: type[_Options]
    drive: Driver
    agent: AgentFactory | None = None
    check: Check | None = None
    refuse: Refusal | None = None
    byzantine: ByzantineFactory | None = None
    behaviors: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The ``kind`` the scenario file names (the options Struct's tag)."""
        tag = self.options.__struct_config__.tag
        assert isinstance(tag, str)
        return tag


def with_kinds(base: Iterable[Kind], extra: Iterable[Kind]) -> tuple[Kind, ...]:
    """``base`` with each of ``extra`` in place of the kind of the same name (appended
    when there is none): how a run takes a replacement driver without a global registry."""
    replacements = {kind.name: kind for kind in extra}
    kinds = [replacements.pop(kind.name, kind) for kind in base]
    return (*kinds, *replacements.values())


def kind_named(kinds: Iterable[Kind], name: str) -> Kind | None:
    """The kind called ``name`` among ``kinds``, or None."""
    return next((kind for kind in kinds if kind.name == name), None)


def shared_fields(options: msgspec.Struct, target: type) -> dict[str, Any]:
    """The fields of ``options`` that ``target`` (a dataclass or Struct with keyword
    fields) has too, by name: a protocol's config takes them as they are, so no field is
    copied by hand (and none is forgotten)."""
    names = {field.name for field in _fields(target)}
    return {f: getattr(options, f) for f in options.__struct_fields__ if f in names}


def _fields(target: type) -> Iterable[Any]:
    if isinstance(target, type) and issubclass(target, msgspec.Struct):
        return msgspec.structs.fields(target)
    return dataclasses.fields(cast(Any, target))


def protocol_kind(scenario: Scenario) -> str:
    """The ``kind`` of the scenario's ``[protocol]`` table (the tag of its options Struct)."""
    tag = type(scenario.protocol).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
